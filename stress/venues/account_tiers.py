"""A venue's tier tables, from ccxt's ``fetch_leverage_tiers`` or Binance's leverage brackets.

Two structures are read, told apart by their shape:

* ccxt: a mapping of unified symbol to its tiers, ``{"BTC/USDT:USDT": [{tier, currency,
  minNotional, maxNotional, maintenanceMarginRate, maxLeverage, info}, ...]}``;
* Binance USDⓈ-M ``GET /fapi/v1/leverageBracket``: a list of ``{symbol: "BTCUSDT", brackets:
  [{bracket, initialLeverage, notionalCap, notionalFloor, maintMarginRatio, cum}, ...]}``.

Each becomes a config tier ``{max_notional, max_leverage, mmr, maintenance_amount}``. The
maintenance amount is the venue's own when the file has it (Binance's ``cum``, also inside
ccxt's ``info``; Bybit's ``mmDeduction``), so the table is exactly the venue's; otherwise the
config leaves it out and stress derives it by continuity. Only the markets of the book are read
(a venue's file lists hundreds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stress.config.limits as L
from stress.errors import ConfigError, amount
from stress.venues.account_fields import Entry, as_number, found, read_json
from stress.venues.account_positions import binance_market, ccxt_market

CCXT = "ccxt fetch_leverage_tiers"
BINANCE = "Binance /fapi/v1/leverageBracket"

AMOUNT_FIELDS = ("cum", "mmDeduction")
"""Where a venue states a tier's maintenance amount: Binance's cum, Bybit's deduction."""


@dataclass(frozen=True)
class Names:
    """How one format names a tier's fields."""

    floor: str
    cap: str
    mmr: str
    leverage: str
    amount_in_info: bool  # ccxt keeps the venue's raw tier under ``info``


CCXT_NAMES = Names("minNotional", "maxNotional", "maintenanceMarginRate", "maxLeverage", True)
BINANCE_NAMES = Names("notionalFloor", "notionalCap", "maintMarginRatio", "initialLeverage", False)


@dataclass(frozen=True)
class VenueMarket:
    """One market's table: config tiers, and for each the file's field of every config field."""

    symbol: str
    where: str
    tiers: list[dict[str, float]]
    fields: list[dict[str, str]]
    notes: list[str]


@dataclass(frozen=True)
class TiersFile:
    source: str
    fmt: str
    markets: dict[tuple[str, str], VenueMarket]  # (base, margin currency) -> its table


def _amount(entry: Entry, names: Names) -> tuple[float | None, str | None]:
    """The venue's maintenance amount of a tier and its field, if the file states one."""
    holder = entry
    if names.amount_in_info:
        info = entry.get("info")
        if not isinstance(info, dict):
            return None, None
        holder = Entry(entry.source, entry.where, info, f"{entry.prefix}info.")
    for name in AMOUNT_FIELDS:
        if holder.given(name) and holder.get(name) != "":
            value = holder.number(name, "an amount >= 0", 0.0, L.MAX_TIER_CAP)
            return value, f"{holder.prefix[len(entry.prefix) :]}{name}"
    return None, None


def _tier(entry: Entry, names: Names, floor: float, last: bool) -> tuple[dict, dict, str | None]:
    """One tier as a config tier, its field names and a note (a last cap beyond stress's)."""
    note = None
    if last and (not entry.given(names.cap) or _beyond(entry.get(names.cap))):
        cap = L.MAX_TIER_CAP  # an open-ended last tier: stress extrapolates it beyond its cap
        note = f"last tier's {names.cap} {found(entry.get(names.cap))}: {L.MAX_TIER_CAP:g}"
    else:
        cap = entry.number(
            names.cap, f"a cap above {amount(floor)}", floor, L.MAX_TIER_CAP, above=True
        )
    if entry.given(names.floor):
        start = entry.number(names.floor, "a number", -L.MAX_TIER_CAP, L.MAX_TIER_CAP)
        if abs(start - floor) > 1e-9 * max(1.0, floor):
            what = "0 (the first tier starts at 0)" if floor == 0 else f"{amount(floor)}"
            entry.fail(
                names.floor, f"{what}, the previous tier's {names.cap}", entry.get(names.floor)
            )
    mmr = entry.number(names.mmr, "a rate above 0 and below 1", 0.0, 1.0, above=True)
    if mmr >= 1:
        entry.fail(names.mmr, "a rate above 0 and below 1", entry.get(names.mmr))
    leverage = entry.number(
        names.leverage, f"a leverage above 0 and at most {L.MAX_LEVERAGE:g}", 0.0, L.MAX_LEVERAGE,
        above=True,
    )  # fmt: skip
    tier = {"max_notional": cap, "max_leverage": leverage, "mmr": mmr}
    fields = {"max_notional": names.cap, "max_leverage": names.leverage, "mmr": names.mmr}
    value, name = _amount(entry, names)
    if value is not None:
        tier["maintenance_amount"], fields["maintenance_amount"] = value, name
    return tier, {k: f"{entry.prefix}{v}" for k, v in fields.items()}, note


def _beyond(value: Any) -> bool:
    x = as_number(value)
    return x is not None and x > L.MAX_TIER_CAP


def _table(source: str, where: str, symbol: str, rows: Any, names: Names, prefix: str):
    """A market's tiers (``rows``, a list) read in order, each starting where the last ended."""
    if not isinstance(rows, list) or not rows or len(rows) > L.MAX_TIERS:
        field = prefix.rstrip(".") or "(tiers)"
        expected = f"a list of 1 to {L.MAX_TIERS} tiers"
        raise ConfigError(f"{source}: {where}: {field}: expected {expected}, got {found(rows)}")
    tiers, fields, notes, floor = [], [], [], 0.0
    for i, row in enumerate(rows):
        entry = Entry.of(source, where, row, "a tier", f"{prefix}[{i}].")
        tier, names_of, note = _tier(entry, names, floor, i == len(rows) - 1)
        tiers.append(tier)
        fields.append(names_of)
        notes += [note] if note else []
        floor = tier["max_notional"]
    return VenueMarket(symbol, where, tiers, fields, notes)


def _ccxt_markets(source: str, data: dict, wanted: set) -> dict:
    out = {}
    for symbol, rows in data.items():
        try:
            market = ccxt_market(Entry(source, symbol, {"symbol": symbol}))
        except ConfigError:
            continue  # a market the book does not hold (spot, inverse, dated): not read
        if market in wanted:
            out[market] = _table(source, symbol, symbol, rows, CCXT_NAMES, "")
    return out


def _binance_markets(source: str, data: list, wanted: set) -> dict:
    out = {}
    for i, raw in enumerate(data):
        entry = Entry.of(source, f"[{i}]", raw, "a symbol's brackets")
        if i == 0 and "brackets" not in entry.data:
            entry.fail("brackets", f"a list of brackets ({BINANCE})")
        try:
            market = binance_market(entry)
        except ConfigError:
            continue
        if market in wanted:
            symbol = entry.data["symbol"]
            out[market] = _table(
                source, symbol, symbol, entry.get("brackets"), BINANCE_NAMES, "brackets"
            )
    return out


def read_tiers(path: Path, wanted: set[tuple[str, str]]) -> TiersFile:
    """The tables of the ``wanted`` markets ((base, margin currency) pairs) in a tiers file.

    A market the file does not list is left out (the caller says what it uses instead).

    Raises
    ------
    ConfigError
        ``<file>: <entry>: <field>: expected ..., got ...`` for the first bad field of a wanted
        market, or a file of neither structure.
    """
    source = str(path)
    data = read_json(path)
    if isinstance(data, dict) and "brackets" in data:
        data = [data]  # Binance answers a request for one symbol with that symbol alone
    if isinstance(data, list):
        return TiersFile(source, BINANCE, _binance_markets(source, data, wanted))
    if isinstance(data, dict) and data:
        first = next(iter(data))
        if not isinstance(data[first], list):
            raise ConfigError(
                f"{source}: {first}: expected a list of tiers ({CCXT}), got {found(data[first])}"
            )
        return TiersFile(source, CCXT, _ccxt_markets(source, data, wanted))
    raise ConfigError(
        f"{source}: (top level): expected a mapping of symbols to tiers ({CCXT}) or a list of "
        f"symbols with brackets ({BINANCE}), got {found(data)}"
    )
