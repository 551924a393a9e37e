"""An account's wallet balance, from ccxt's ``fetch_balance`` or Binance's own answers.

A config's ``account.wallet`` is the wallet *without* unrealised PnL: stress adds every
position's PnL from its entry price. What each file states:

* ccxt ``fetch_balance``: ``{"USDT": {free, used, total}, "total": {"USDT": ...}, "info": ...}``.
  ``total`` is ``free + used``, and on a futures account the free balance counts the unrealised
  PnL (Binance: ccxt's total is the ``marginBalance``, wallet plus unrealised PnL; OKX: ``eq``).
  The wallet is therefore ``total`` minus the positions' unrealised PnL.
* Binance ``GET /fapi/v2/balance`` (a list of ``{asset, balance, crossWalletBalance, ...}``):
  ``balance`` is the wallet balance itself, isolated margins included.
* Binance ``GET /fapi/v2/account`` (``{totalWalletBalance, assets: [{asset, walletBalance,
  marginBalance, ...}], ...}``): the asset's ``walletBalance``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import stress.config.limits as L
from stress.errors import ConfigError, amount
from stress.venues.account_fields import Entry, found, read_json

CCXT = "ccxt fetch_balance"
BINANCE_BALANCE = "Binance /fapi/v2/balance"
BINANCE_ACCOUNT = "Binance /fapi/v2/account"

_WALLET = f"a wallet above 0 and at most {L.MAX_AMOUNT:g}"


@dataclass(frozen=True)
class VenueWallet:
    """The wallet, where it was read (entry and field) and how it was derived."""

    wallet: float
    fmt: str
    where: str
    field: str
    note: str


def _listed(source: str, rows: list, code: str, prefix: str) -> Entry | None:
    """The entry of currency ``code`` in a Binance list of assets."""
    for i, row in enumerate(rows):
        entry = Entry.of(source, f"{prefix}[{i}]", row, "an asset's balance")
        if entry.get("asset") == code:
            return entry
    return None


def _missing(source: str, code: str, field: str) -> ConfigError:
    return ConfigError(
        f"{source}: {code}: {field}: expected the {code} balance (the positions are margined "
        f"in {code}), got nothing (no {code} in the file)"
    )


def _binance(source: str, data: object, code: str) -> VenueWallet:
    if isinstance(data, list):
        fmt, field, entry = BINANCE_BALANCE, "balance", _listed(source, data, code, "")
    else:
        rows = data.get("assets")
        if not isinstance(rows, list):
            raise ConfigError(f"{source}: (top level): assets: expected a list, got {found(rows)}")
        fmt, field, entry = BINANCE_ACCOUNT, "walletBalance", _listed(source, rows, code, "assets")
    if entry is None:
        raise _missing(source, code, field)
    wallet = entry.number(field, _WALLET, 0.0, L.MAX_AMOUNT, above=True)
    return VenueWallet(wallet, fmt, entry.where, field, f"{code} {field}")


def _ccxt(source: str, data: dict, code: str, unrealized: float) -> VenueWallet:
    if isinstance(data.get(code), dict):
        entry, field = Entry(source, code, data[code]), "total"
    elif isinstance(data.get("total"), dict):
        entry, field = Entry(source, "total", data["total"]), code
    else:
        raise _missing(source, code, "total")
    total = entry.number(field, "a number (the balance)")
    wallet = total - unrealized
    if not 0 < wallet <= L.MAX_AMOUNT:
        entry.fail(
            field,
            f"a total that leaves {_WALLET} once the positions' unrealised PnL "
            f"{amount(unrealized)} is taken out",
            entry.get(field),
        )
    note = (
        f"{code} total {amount(total)} minus the positions' unrealised PnL {amount(unrealized)} "
        "(ccxt's total counts it)"
    )
    return VenueWallet(wallet, CCXT, entry.where, field, note)


def read_wallet(path: Path, code: str, unrealized: float) -> VenueWallet:
    """The wallet in currency ``code`` of a balance file.

    Parameters
    ----------
    path : Path
        ccxt ``fetch_balance`` output, or Binance's ``/fapi/v2/balance`` or ``/fapi/v2/account``.
    code : str
        The currency the positions are margined in (USDT).
    unrealized : float
        The positions' unrealised PnL, taken out of ccxt's ``total``.

    Raises
    ------
    ConfigError
        ``<file>: <entry>: <field>: expected ..., got ...``.
    """
    source = str(path)
    data = read_json(path)
    if isinstance(data, list) or (isinstance(data, dict) and "assets" in data):
        return _binance(source, data, code)
    if isinstance(data, dict):
        return _ccxt(source, data, code, unrealized)
    raise ConfigError(
        f"{source}: (top level): expected a balance ({CCXT}, {BINANCE_BALANCE} or "
        f"{BINANCE_ACCOUNT}), got {found(data)}"
    )
