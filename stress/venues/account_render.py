"""An imported account written as a config: YAML whose comments say where each part came from.

`Origins` records, for every value written, the input file, entry and field it came from, so
that a message about the config (``positions[1].leverage: ...``) can name the input instead
(``positions.json: [3]: leverage: ...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from stress.errors import one_line
from stress.venues.account_model import ModelBlock
from stress.venues.account_positions import PositionsFile, VenuePosition
from stress.venues.account_tiers import TiersFile
from stress.venues.presets import load_preset
from stress.version import __version__

NO_DEDUCTION = ("okx",)
"""Venues whose maintenance is ``notional * mmr`` with no deduction (see their preset): their tiers
get ``maintenance_amount: 0`` where the file states none, rather than amounts by continuity."""


@dataclass
class Origins:
    """Where the values of an imported config came from.

    ``exact`` maps a config field (``positions[1].leverage``) to ``<file>: <entry>: <field>``;
    ``sections`` maps a block (``model``) to the file it came from, the path kept after it.
    """

    exact: dict[str, str] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)

    def blame(self, message: str) -> str:
        """``<config field>: <problem>`` said of the input the field came from."""
        path, _, rest = message.partition(": ")
        if path in self.exact:
            return f"{self.exact[path]}: {rest}"
        for key in sorted(self.sections, key=len, reverse=True):
            if path == key or path.startswith((f"{key}.", f"{key}[")):
                return f"{self.sections[key]}: {message}"
        return f"the imported config: {message}"


def _tidy(x: Any) -> Any:
    """50000.0 as 50000 (easier to read; the same number to the config)."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return int(x)
    if isinstance(x, dict):
        return {k: _tidy(v) for k, v in x.items()}
    return x


def flow(value: Any) -> str:
    """``value`` as one line of YAML (a mapping as ``{a: 1, b: 2}``)."""
    text = yaml.safe_dump(
        [_tidy(value)], default_flow_style=True, width=2**31 - 1, sort_keys=False,
        allow_unicode=True,
    )  # fmt: skip
    return text.strip()[1:-1]  # written inside a list: a bare scalar would end the document


def _header(book: PositionsFile, table: TiersFile | None, block: ModelBlock, wallet_source: str):
    k = book.skipped
    empty = f" ({k} empty entr{'ies' if k > 1 else 'y'} left out)" if k else ""
    n = len(book.positions)
    lines = [
        f"Imported by `stress import` (stress {__version__}) from the account's files; "
        "nothing was fetched.",
        f"  positions: {book.source} ({book.fmt}): {n} open position{'s' * (n != 1)}{empty}",
        "  tiers:     "
        + (f"{table.source} ({table.fmt})" if table else "none (no --tiers): default tables"),
        f"  wallet:    {wallet_source}",
        f"  model:     {block.source or 'a default, see model: below (no --model)'}",
        "Each position's comment gives the venue's liquidation price; `stress liqprice` on this",
        "file shows stress's, mode as_configured being the account as the venue holds it.",
    ]
    return [f"# {one_line(line)}" for line in lines]


def _model_lines(block: ModelBlock, marks: dict[str, VenuePosition], origins: Origins, file: str):
    source = block.source or "the default model"
    origins.sections |= {"model": source, "simulation": source}
    for asset, p in marks.items():
        origins.exact[f"model.assets.{asset}.price"] = f"{file}: {p.where}: {p.fields['price']}"
    where = ", ".join(f"{a} {p.where}" for a, p in marks.items())
    lines = [
        "# simulation: " + (f"from {block.source}" if block.source else "a week in 5-minute steps"),
        f"simulation: {flow(block.simulation)}",
    ]
    lines += [f"# {one_line(c)}" for c in block.comments]
    lines.append(f"# prices: the positions' marks ({one_line(where)} of the positions file)")
    dumped = yaml.safe_dump(
        {"model": _tidy(block.model)}, sort_keys=False, default_flow_style=None, width=100,
        allow_unicode=True,
    )  # fmt: skip
    return lines + dumped.rstrip("\n").split("\n")


def _market_lines(asset: str, table: TiersFile, venue: str | None, origins: Origins):
    """One market's lines (its tiers, and the preset's book if it has one for the asset)."""
    market = next(m for (a, _), m in table.markets.items() if a == asset)
    where = f"{table.source}: {market.where}"
    origins.sections[f"exchange.markets.{asset}"] = where
    amounts = "the venue's" if "maintenance_amount" in market.fields[0] else "by continuity"
    tiers = [dict(t) for t in market.tiers]
    if venue in NO_DEDUCTION:
        for t in tiers:
            if "maintenance_amount" not in t:
                t["maintenance_amount"], amounts = 0.0, f"0 ({venue}: no deduction)"
    notes = [f"{market.where} in {table.source}", f"maintenance_amount {amounts}", *market.notes]
    lines = [f"    # {asset}: {one_line('; '.join(notes))}", f"    {flow(asset)}:", "      tiers:"]
    for i, (tier, names) in enumerate(zip(tiers, market.fields, strict=True)):
        for key, name in names.items():
            origins.exact[f"exchange.markets.{asset}.tiers[{i}].{key}"] = f"{where}: {name}"
        lines.append(f"        - {flow(tier)}")
    book = None
    if venue is not None:
        preset = load_preset(venue).exchange
        book = preset.get("markets", {}).get(asset, {}).get("liquidity")
    if book is not None:
        lines.append(f"      liquidity: {flow(book)}  # the {venue} preset's {flow(asset)} book")
    return lines


def _exchange_lines(book: PositionsFile, table: TiersFile | None, venue: str | None):
    assets = list(dict.fromkeys(p.asset for p in book.positions))
    with_tiers = [a for a in assets if table and any(k[0] == a for k in table.markets)]
    if venue is None and not with_tiers:
        return ["# exchange: stress's defaults (no --tiers, no --venue)"], []
    lines = ["exchange:"]
    if venue is not None:
        lines += [f"  preset: {venue}  # --venue: fee, funding, process and other markets"]
    else:
        lines.insert(0, "# exchange: fee, funding and liquidation process are stress's defaults")
        lines.insert(1, "# (no --venue; --venue NAME takes a preset's)")
    if with_tiers:
        lines.append("  markets:  # written markets replace the preset's whole")
    return lines, with_tiers


def _position_lines(book: PositionsFile, rows: list, origins: Origins) -> list[str]:
    lines = ["positions:"]
    for i, (p, (row, notes)) in enumerate(zip(book.positions, rows, strict=True)):
        at = f"{book.source}: {p.where}"
        for key, name in p.fields.items():
            if key != "price":  # the mark is the model's asset price
                origins.exact[f"positions[{i}].{key}"] = f"{at}: {name}"
        origins.sections[f"positions[{i}]"] = at
        venue = "none reported" if p.liquidation_price is None else repr(p.liquidation_price)
        said = [f"{p.where} {p.symbol}", *notes, f"the venue's liquidation price: {venue}"]
        lines.append(f"  # {one_line('; '.join(said))}")
        lines.append(f"  - {flow(row)}")
    return lines


def render(
    *,
    name: str,
    book: PositionsFile,
    rows: list[tuple[dict, list[str]]],
    table: TiersFile | None,
    block: ModelBlock,
    marks: dict[str, VenuePosition],
    wallet: tuple[float, str, str],
    venue: str | None,
    origins: Origins,
) -> str:
    """The config text of an imported account; ``origins`` is filled in as values are written.

    ``rows`` are the config positions with their notes, in the order of ``book.positions``;
    ``marks`` the first position of each asset (whose mark is the asset's price); ``wallet``
    the amount, where it came from and how it was derived.
    """
    value, source, note = wallet
    lines = _header(book, table, block, source)
    lines += [f"name: {flow(name)}", "seed: 0"]
    lines += _model_lines(block, marks, origins, book.source)
    exchange, with_tiers = _exchange_lines(book, table, venue)
    lines += exchange
    for asset in with_tiers:
        lines += _market_lines(asset, table, venue, origins)
    lines += [f"# wallet: {one_line(f'{source}: {note}')}", "account:", f"  wallet: {flow(value)}"]
    lines += _position_lines(book, rows, origins)
    lines += [
        "# modes: isolated, cross and as_configured (the default). as_configured is the account as",
        "# the venue holds it; isolated and cross show what the other layouts would do with it.",
    ]
    return "\n".join(lines) + "\n"
