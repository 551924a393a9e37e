"""An account's open positions, from ccxt's ``fetch_positions`` or Binance's position risk.

Two structures are read, told apart by their fields:

* ccxt's unified position (a list of ``{symbol: "BTC/USDT:USDT", side, contracts, contractSize,
  entryPrice, markPrice, leverage, marginMode, collateral, unrealizedPnl, liquidationPrice,
  ...}``), whatever the venue;
* Binance USDⓈ-M ``GET /fapi/v2/positionRisk`` (a list of ``{symbol: "BTCUSDT", positionAmt,
  entryPrice, markPrice, leverage, marginType, isolatedWallet, isolatedMargin,
  unRealizedProfit, liquidationPrice, ...}``, amounts as text, one entry per symbol even when
  empty).

An isolated position's ``margin`` in a config is what the position holds *without* its PnL
(stress adds the PnL from the entry price). ccxt's ``collateral`` and Binance's
``isolatedMargin`` include the unrealised PnL, so the margin is ``collateral - unrealizedPnl``;
Binance's ``isolatedWallet`` is the margin itself and is preferred when given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import stress.config.limits as L
from stress.errors import ConfigError, amount
from stress.venues.account_fields import Entry, found, read_json

CCXT = "ccxt fetch_positions"
BINANCE = "Binance /fapi/v2/positionRisk"

BINANCE_QUOTES = ("USDT", "USDC")
"""The margin currencies of Binance USDⓈ-M symbols (BTCUSDT, ETHUSDC)."""

_CCXT_SYMBOL = re.compile(r"([^/:\s]+)/([^/:\s]+):([^/:\s]+)")
_BINANCE_SYMBOL = re.compile(rf"([^_\s]+?)({'|'.join(BINANCE_QUOTES)})")  # not BTCUSDT_240329
_PRICE = f"a price between {L.MIN_PRICE:g} and {L.MAX_PRICE:g}"
_LEVERAGE = f"a leverage above 0 and at most {L.MAX_LEVERAGE:g}"
_MODES = {"isolated": "isolated", "cross": "cross", "crossed": "cross"}


@dataclass(frozen=True)
class VenuePosition:
    """One open position as the venue reported it, in a config's terms.

    ``fields`` names, for each config field, the file's field it comes from (for messages);
    ``notes`` say how a value was derived (written as comments in the config).
    """

    where: str  # the entry: "[2]"
    symbol: str  # as the file spells it
    asset: str  # the base currency: BTC
    settle: str  # the margin currency: USDT
    side: str
    quantity: float
    entry_price: float
    mark: float
    leverage: float
    margin_mode: str
    margin: float | None  # isolated only: the margin without the PnL
    unrealized_pnl: float
    liquidation_price: float | None  # the venue's; None where it reported none
    fields: dict[str, str]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PositionsFile:
    """The open positions of one file, its format and the empty entries left out."""

    source: str
    fmt: str
    positions: list[VenuePosition]
    skipped: int


def ccxt_market(entry: Entry, name: str = "symbol") -> tuple[str, str]:
    """(base, settle) of a linear perpetual's unified symbol ``BASE/QUOTE:SETTLE``."""
    raw = entry.get(name)
    match = _CCXT_SYMBOL.fullmatch(raw) if isinstance(raw, str) else None
    if match is None or match[2] != match[3] or len(match[1]) > L.MAX_NAME:
        entry.fail(name, "a linear perpetual's symbol BASE/QUOTE:QUOTE such as BTC/USDT:USDT", raw)
    return match[1], match[3]


def binance_market(entry: Entry, name: str = "symbol") -> tuple[str, str]:
    """(base, quote) of a Binance USDⓈ-M perpetual symbol such as BTCUSDT."""
    raw = entry.get(name)
    match = _BINANCE_SYMBOL.fullmatch(raw) if isinstance(raw, str) else None
    if match is None or len(match[1]) > L.MAX_NAME:
        quotes = " or ".join(BINANCE_QUOTES)
        entry.fail(name, f"a perpetual symbol such as BTCUSDT (margined in {quotes})", raw)
    return match[1], match[2]


def _margin(entry: Entry, wallet: str | None, with_pnl: str, upnl: float) -> tuple[float, str, str]:
    """An isolated position's margin without its PnL: the ``wallet`` field (no PnL in it) if
    given, else the ``with_pnl`` field minus the PnL. Returns (margin, field, note)."""
    if wallet is not None and entry.given(wallet):
        value = entry.number(wallet, "a margin above 0", 0.0, L.MAX_AMOUNT, above=True)
        return value, wallet, f"margin: {wallet}"
    if not entry.given(with_pnl):
        names = f"{wallet} or {with_pnl}" if wallet else with_pnl
        entry.fail(
            with_pnl, f"a number: an isolated position's margin ({names})", entry.get(with_pnl)
        )
    held = entry.number(with_pnl, "a number (the isolated margin with its PnL)")
    value = held - upnl
    if not 0 < value <= L.MAX_AMOUNT:
        entry.fail(
            with_pnl,
            f"a margin that stays above 0 once the unrealised PnL {amount(upnl)} is taken out",
            entry.get(with_pnl),
        )
    return value, with_pnl, f"margin: {with_pnl} {amount(held)} - unrealised PnL {amount(upnl)}"


def _liquidation_price(entry: Entry, name: str) -> float | None:
    if not entry.given(name):
        return None
    price = entry.number(name, "a price >= 0 (0: none)", 0.0, L.MAX_PRICE)
    return price if price > 0 else None


def _upnl(entry: Entry, name: str, side: str, qty: float, entry_price: float, mark: float):
    if entry.given(name):
        return entry.number(name, "a number (the unrealised PnL)")
    return (1.0 if side == "long" else -1.0) * qty * (mark - entry_price)


def _ccxt_position(entry: Entry) -> VenuePosition | None:
    """One ccxt position; None for an empty one (0 contracts), whatever its other fields."""
    contracts = abs(entry.number("contracts", "a number (the size in contracts)"))
    if contracts == 0:
        return None
    asset, settle = ccxt_market(entry)
    side = entry.choice("side", {"long": "long", "short": "short"})
    notes = []
    size = 1.0
    if entry.given("contractSize"):
        size = entry.number(
            "contractSize", "a contract size above 0", 0.0, L.MAX_QUANTITY, above=True
        )
    else:
        notes.append("contractSize not given: 1")
    qty = contracts * size
    if qty > L.MAX_QUANTITY:
        entry.fail(
            "contracts", f"a size of at most {L.MAX_QUANTITY:g} units", entry.get("contracts")
        )
    notes.insert(0, f"quantity: contracts {amount(contracts)} x contractSize {amount(size)}")
    entry_price = entry.number("entryPrice", _PRICE, L.MIN_PRICE, L.MAX_PRICE)
    if entry.given("markPrice") or not entry.given("notional"):
        mark = entry.number("markPrice", _PRICE, L.MIN_PRICE, L.MAX_PRICE)
    else:  # some venues' positions carry the notional at the mark but no mark
        mark = entry.number("notional", "a notional above 0", 0.0, L.MAX_AMOUNT, above=True) / qty
        notes.append("mark: notional / quantity (no markPrice given)")
    # marginType: ccxt's older name of the field
    mode_field = (
        "marginType"
        if entry.given("marginType") and "marginMode" not in entry.data
        else "marginMode"
    )
    position = dict(
        where=entry.where,
        symbol=entry.data["symbol"],
        asset=asset,
        settle=settle,
        side=side,
        quantity=qty,
        entry_price=entry_price,
        mark=mark,
        leverage=entry.number("leverage", _LEVERAGE, 0.0, L.MAX_LEVERAGE, above=True),
        margin_mode=entry.choice(mode_field, _MODES),
        unrealized_pnl=_upnl(entry, "unrealizedPnl", side, qty, entry_price, mark),
        liquidation_price=_liquidation_price(entry, "liquidationPrice"),
    )
    fields = {"asset": "symbol", "quantity": "contracts", "entry_price": "entryPrice"}
    fields |= {"price": "markPrice", "leverage": "leverage", "margin_mode": mode_field}
    margin = None
    if position["margin_mode"] == "isolated":
        margin, fields["margin"], note = _ccxt_margin(entry, position["unrealized_pnl"])
        notes.append(note)
    return VenuePosition(**position, margin=margin, fields=fields, notes=notes)


def _ccxt_margin(entry: Entry, upnl: float) -> tuple[float, str, str]:
    """An isolated ccxt position's margin: ``collateral`` (which counts the PnL) less the PnL,
    else ``initialMargin`` (notional / leverage, no PnL in it)."""
    if entry.given("collateral") or not entry.given("initialMargin"):
        return _margin(entry, None, "collateral", upnl)
    value = entry.number("initialMargin", "a margin above 0", 0.0, L.MAX_AMOUNT, above=True)
    return value, "initialMargin", "margin: initialMargin (no collateral given)"


def _binance_position(entry: Entry) -> VenuePosition | None:
    """One Binance position-risk entry; None for an empty one (positionAmt 0), whatever its
    other fields (Binance lists every symbol)."""
    signed = entry.number("positionAmt", "a number (the size, negative for a short)")
    if signed == 0:
        return None
    asset, settle = binance_market(entry)
    qty = abs(signed)
    if qty > L.MAX_QUANTITY:
        entry.fail("positionAmt", f"a size of at most {L.MAX_QUANTITY:g} units", signed)
    side = "long" if signed > 0 else "short"
    entry_price = entry.number("entryPrice", _PRICE, L.MIN_PRICE, L.MAX_PRICE)
    mark = entry.number("markPrice", _PRICE, L.MIN_PRICE, L.MAX_PRICE)
    upnl = _upnl(entry, "unRealizedProfit", side, qty, entry_price, mark)
    mode = entry.choice("marginType", _MODES)
    fields = {"asset": "symbol", "quantity": "positionAmt", "entry_price": "entryPrice"}
    fields |= {"price": "markPrice", "leverage": "leverage", "margin_mode": "marginType"}
    notes, margin = [f"quantity: |positionAmt| {amount(qty)}"], None
    if mode == "isolated":
        margin, fields["margin"], note = _margin(entry, "isolatedWallet", "isolatedMargin", upnl)
        notes.append(note)
    return VenuePosition(
        where=entry.where,
        symbol=entry.data["symbol"],
        asset=asset,
        settle=settle,
        side=side,
        quantity=qty,
        entry_price=entry_price,
        mark=mark,
        leverage=entry.number("leverage", _LEVERAGE, 0.0, L.MAX_LEVERAGE, above=True),
        margin_mode=mode,
        margin=margin,
        unrealized_pnl=upnl,
        liquidation_price=_liquidation_price(entry, "liquidationPrice"),
        fields=fields,
        notes=notes,
    )


def _format(source: str, data: object) -> str:
    """Which structure a positions file holds, from its first entry's fields."""
    what = f"a list of positions ({CCXT} or {BINANCE})"
    if not isinstance(data, list):
        raise ConfigError(f"{source}: (top level): expected {what}, got {found(data)}")
    if not data:
        raise ConfigError(f"{source}: (top level): expected {what}, got an empty list")
    first = Entry.of(source, "[0]", data[0], "a position")
    if "positionAmt" in first.data:
        return BINANCE
    if "contracts" in first.data:
        return CCXT
    first.fail("contracts", "a ccxt position (contracts) or a Binance one (positionAmt)")


def _check_book(source: str, positions: list[VenuePosition]) -> None:
    """One margin currency for the whole book, and one mark per asset."""
    first: dict[str, VenuePosition] = {}
    for p in positions:
        if p.settle != positions[0].settle:
            raise ConfigError(
                f"{source}: {p.where}: symbol: expected a market margined in "
                f"{positions[0].settle} like {positions[0].where}'s, got {p.symbol!r}"
            )
        seen = first.setdefault(p.asset, p)
        if abs(p.mark - seen.mark) > 1e-9 * seen.mark:
            raise ConfigError(
                f"{source}: {p.where}: {p.fields['price']}: expected the mark of {p.asset} that "
                f"{seen.where} gives, {amount(seen.mark)}, got {amount(p.mark)}"
            )


def read_positions(path: Path) -> PositionsFile:
    """The open positions of a ccxt ``fetch_positions`` or Binance position-risk JSON file.

    Raises
    ------
    ConfigError
        ``<file>: <entry>: <field>: expected ..., got ...`` for the first bad field.
    """
    source = str(path)
    data = read_json(path)
    fmt = _format(source, data)
    parse = _binance_position if fmt == BINANCE else _ccxt_position
    positions = []
    for i, raw in enumerate(data):
        position = parse(Entry.of(source, f"[{i}]", raw, "a position"))
        if position is not None:
            positions.append(position)
    if not positions:
        raise ConfigError(
            f"{source}: (top level): expected at least one open position, "
            f"got {len(data)} empty one{'s' * (len(data) != 1)}"
        )
    _check_book(source, positions)
    return PositionsFile(source, fmt, positions, skipped=len(data) - len(positions))
