"""``stress import``: the user's own account, from files, as a config.

Files in, a file out, nothing fetched. The positions (ccxt ``fetch_positions`` or Binance's
position risk, `stress.venues.account_positions`) give the book and the marks; the tiers (ccxt
``fetch_leverage_tiers`` or Binance's leverage brackets, `stress.venues.account_tiers`) the
markets' tables; the balance (ccxt ``fetch_balance`` or Binance's, `stress.venues.account_balance`)
or ``--wallet`` the wallet; ``--model`` the model block (else a stated default, with a warning);
``--venue`` the preset for everything else (fee, funding, liquidation process). The config says
in comments where each part came from, and is checked like any config before it is returned, its
messages naming the input file, entry and field a bad value came from.

Mode ``as_configured`` is the account as the venue holds it: each isolated position on its own
margin, the rest of the wallet (Binance's cross wallet balance) behind every cross position. Its
closed-form liquidation prices (`stress.liquidation_prices`) are then the venue's formula's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

import stress.config.limits as L
from stress.config.load import parse_config
from stress.config.schema import PRESETS
from stress.errors import ConfigError, amount
from stress.venues.account_balance import read_wallet
from stress.venues.account_model import ModelBlock, model_block
from stress.venues.account_positions import PositionsFile, VenuePosition, read_positions
from stress.venues.account_render import Origins, render
from stress.venues.account_tiers import TiersFile, read_tiers

DEFAULT_NAME = "imported-account"
_CHECKED = "<imported>"  # the source given to the config's checks, replaced in their messages


@dataclass(frozen=True)
class Imported:
    """A config made from an account's files: its YAML text and what the user should know."""

    text: str
    warnings: list[str]


def check_options(balance: Path | None, wallet: float | None, venue: str | None) -> None:
    """The options that need no file: one wallet source, a known venue (before any reading)."""
    if balance is not None and wallet is not None:
        raise ConfigError("--balance, --wallet: expected one of them, got both")
    if balance is None and wallet is None:
        raise ConfigError(
            "--balance, --wallet: expected one of them (the account's wallet: a balance file, or "
            "the amount), got neither"
        )
    if wallet is not None and not (math.isfinite(wallet) and 0 < wallet <= L.MAX_AMOUNT):
        raise ConfigError(
            f"--wallet: expected an amount above 0 and at most {L.MAX_AMOUNT:g}, got {wallet:g}"
        )
    if venue is not None and venue not in PRESETS:
        raise ConfigError(f"--venue: expected one of {', '.join(PRESETS)}, got {venue!r}")


def config_name(output: Path | None) -> str:
    """The config's name: the output file's stem made a valid name, else `DEFAULT_NAME`."""
    if output is None:
        return DEFAULT_NAME
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", output.stem).strip("-.")[: L.MAX_NAME]
    return name or DEFAULT_NAME


def _ids(positions: list[VenuePosition]) -> list[str]:
    """``BTC-long``, and ``BTC-long-2`` for a second long on BTC."""
    seen: dict[str, int] = {}
    out = []
    for p in positions:
        base = f"{p.asset}-{p.side}"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def _position(p: VenuePosition, pid: str) -> tuple[dict, list[str]]:
    """The config position of a venue position, and notes on what was derived."""
    notes = list(p.notes)
    leverage = p.leverage
    if p.margin is not None and p.margin < p.quantity * p.entry_price / leverage:
        # a margin below the initial margin at the venue's leverage (funding paid from it, margin
        # removed): a config refuses that, so the position's leverage is the one its margin gives
        leverage = p.quantity * p.entry_price / p.margin
        notes.append(
            f"leverage {amount(leverage)}: notional at entry / margin (the venue's "
            f"{amount(p.leverage)}x asks more margin than the position holds)"
        )
    out = {"id": pid, "asset": p.asset, "side": p.side, "quantity": p.quantity}
    out |= {"entry_price": p.entry_price, "leverage": leverage, "margin_mode": p.margin_mode}
    if p.margin is not None:
        out["margin"] = p.margin
    return out, notes


def _markets(book: PositionsFile, tiers: Path | None, warnings: list[str]) -> TiersFile | None:
    """The book's tables from the tiers file, warning of every market it does not give."""
    wanted = {(p.asset, p.settle) for p in book.positions}
    if tiers is None:
        warnings.append(
            "no --tiers: every market uses the preset's or stress's default table, so the "
            "liquidation prices are not the venue's"
        )
        return None
    table = read_tiers(tiers, wanted)
    for p in book.positions:
        if (p.asset, p.settle) in wanted - set(table.markets):
            wanted.discard((p.asset, p.settle))  # said once per market
            warnings.append(
                f"{tiers}: no tiers for {p.symbol}: {p.asset} uses the preset's or stress's "
                "default table, so its liquidation price is not the venue's"
            )
    return table


def _wallet(book: PositionsFile, balance: Path | None, wallet: float | None, origins: Origins):
    """The wallet and its comment, from the balance file or ``--wallet``."""
    if balance is None:
        origins.exact["account.wallet"] = "--wallet"
        return wallet, "--wallet", f"{amount(wallet)} as given"
    unrealized = math.fsum(p.unrealized_pnl for p in book.positions)
    found = read_wallet(balance, book.positions[0].settle, unrealized)
    origins.exact["account.wallet"] = f"{balance}: {found.where}: {found.field}"
    return found.wallet, f"{balance} ({found.fmt})", found.note


def import_account(
    positions: Path,
    *,
    tiers: Path | None = None,
    balance: Path | None = None,
    wallet: float | None = None,
    model: Path | None = None,
    venue: str | None = None,
    output: Path | None = None,
) -> Imported:
    """The config of an account, from its files (see the module docstring).

    Parameters
    ----------
    positions, tiers, balance, model : Path
        The input files; ``balance`` or ``wallet`` (exactly one) gives the wallet.
    venue : str, optional
        A preset (`stress.config.schema.PRESETS`).
    output : Path, optional
        Where the config will be written: names it, and history files of a ``--model`` are
        written relative to its folder (to the working directory's without it).

    Raises
    ------
    ConfigError
        One line: a bad option, or the input file, entry and field of the first bad value.
    """
    check_options(balance, wallet, venue)
    warnings: list[str] = []
    book = read_positions(positions)
    table = _markets(book, tiers, warnings)
    origins = Origins()
    wallet_found = _wallet(book, balance, wallet, origins)
    marks: dict[str, VenuePosition] = {}
    for p in book.positions:
        marks.setdefault(p.asset, p)  # the first position on an asset gives its mark
    base_dir = Path.cwd() if output is None else output.absolute().parent
    block: ModelBlock = model_block(model, {a: p.mark for a, p in marks.items()}, base_dir)
    if block.warning:
        warnings.append(block.warning)
    ids = _ids(book.positions)
    rows = [_position(p, pid) for p, pid in zip(book.positions, ids, strict=True)]
    text = render(
        name=config_name(output),
        book=book,
        rows=rows,
        table=table,
        block=block,
        marks=marks,
        wallet=wallet_found,
        venue=venue,
        origins=origins,
    )
    _check(text, origins)
    return Imported(text, warnings)


def _check(text: str, origins: Origins) -> None:
    """Load the config like any other; a message names the input the bad value came from."""
    try:
        parse_config(yaml.safe_load(text), _CHECKED, from_file=True)
    except ConfigError as exc:
        message = str(exc).removeprefix(f"{_CHECKED}: ")
        raise ConfigError(origins.blame(message)) from None
