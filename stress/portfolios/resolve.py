"""Validated config -> resolved positions and tier tables (quantities, entries, margins, ids)."""

from __future__ import annotations

from dataclasses import dataclass, field

from stress.config.schema import Account, Config, Market, Position
from stress.config.trader import HardStop, ReduceStep, StopLoss, TopUp
from stress.venues.tiers import TierTable


@dataclass(frozen=True)
class ResolvedPosition:
    """One position with every default filled in; amounts in quote currency."""

    id: str
    asset: str
    asset_index: int
    side: str  # "long" | "short"
    quantity: float  # > 0, base units
    entry_price: float
    leverage: float
    margin_mode: str  # "isolated" | "cross"
    margin: float  # isolated allocation (default: the initial margin)
    # the trader's rules (`stress.margin.trader_rules`); none by default
    stop_loss: StopLoss | None = None
    reduce: tuple[ReduceStep, ...] = ()
    top_up: TopUp | None = None

    @property
    def has_rules(self) -> bool:
        return self.stop_loss is not None or bool(self.reduce) or self.top_up is not None

    @property
    def sign(self) -> float:
        return 1.0 if self.side == "long" else -1.0

    @property
    def entry_notional(self) -> float:
        return self.quantity * self.entry_price

    @property
    def initial_margin(self) -> float:
        return self.entry_notional / self.leverage


@dataclass(frozen=True)
class ResolvedPortfolio:
    """One portfolio ready for the engine.

    ``params`` holds the sweep parameters that generated it (``{"leverage": 10.0,
    "side.btc": "short"}``), empty for a portfolio written out in the config.
    """

    name: str
    wallet: float
    positions: tuple[ResolvedPosition, ...]
    params: dict[str, float | str] = field(default_factory=dict)
    risk_capital: float | None = None  # what the trader can afford to lose, USDT
    hard_stop: HardStop | None = None  # the account's stop (`stress.margin.trader_rules`)

    @property
    def has_rules(self) -> bool:
        """Whether the trader's rules act on this portfolio (else the plain kernels run)."""
        return self.hard_stop is not None or any(p.has_rules for p in self.positions)


def asset_names(cfg: Config) -> list[str]:
    return list(cfg.model.assets)


def market_tables(cfg: Config) -> dict[str, TierTable]:
    """The tier table of every asset (the default market where no table is given)."""
    dm = cfg.exchange.default_market
    tables = {}
    for asset in cfg.model.assets:
        market = cfg.exchange.markets.get(asset)
        if market is None:
            tables[asset] = TierTable.flat(dm.mmr, dm.max_leverage)
        else:
            tables[asset] = market_table(market)
    return tables


def market_table(market: Market) -> TierTable:
    """One configured market's table; omitted maintenance amounts derived by continuity."""
    return TierTable.build(
        caps=[t.max_notional for t in market.tiers],
        mmrs=[t.mmr for t in market.tiers],
        max_leverages=[t.max_leverage for t in market.tiers],
        amounts=[t.maintenance_amount for t in market.tiers],
    )


def resolve_position(cfg: Config, pos: Position, index: int) -> ResolvedPosition:
    """Fill in the defaults of one position (its asset and sizing are already checked)."""
    names = asset_names(cfg)
    entry = pos.entry_price if pos.entry_price is not None else cfg.model.assets[pos.asset].price
    qty = pos.quantity if pos.quantity is not None else pos.notional / entry
    initial_margin = qty * entry / pos.leverage
    return ResolvedPosition(
        id=pos.id if pos.id is not None else f"{pos.asset}-{pos.side}-{index}",
        asset=pos.asset,
        asset_index=names.index(pos.asset),
        side=pos.side,
        quantity=float(qty),
        entry_price=float(entry),
        leverage=float(pos.leverage),
        margin_mode=pos.margin_mode,
        margin=float(pos.margin if pos.margin is not None else initial_margin),
        stop_loss=pos.stop_loss,
        reduce=tuple(pos.reduce or ()),
        top_up=pos.top_up,
    )


def resolve_portfolio(
    cfg: Config, name: str, account: Account, positions: list[Position]
) -> ResolvedPortfolio:
    resolved = tuple(resolve_position(cfg, p, i) for i, p in enumerate(positions))
    return portfolio_of(name, account, resolved)


def portfolio_of(
    name: str,
    account: Account,
    positions: tuple[ResolvedPosition, ...],
    params: dict[str, float | str] | None = None,
    wallet: float | None = None,
) -> ResolvedPortfolio:
    """A resolved portfolio with the account's risk capital and hard stop, and its wallet (or
    `wallet`, a sweep point's)."""
    return ResolvedPortfolio(
        name=name,
        wallet=float(account.wallet if wallet is None else wallet),
        positions=positions,
        params={} if params is None else params,
        risk_capital=None if account.risk_capital is None else float(account.risk_capital),
        hard_stop=account.hard_stop,
    )


def listed_books(cfg: Config) -> list[tuple[str, Account, list[Position], str]]:
    """The portfolios a config lists (not a sweep's) as (name, account, positions, field-path
    prefix): ``account`` + ``positions`` is one portfolio named after the config."""
    if cfg.portfolios is None:
        return [] if cfg.positions is None else [(cfg.name, cfg.account, cfg.positions, "")]
    return [
        (p.name, p.account, p.positions, f"portfolios[{i}].") for i, p in enumerate(cfg.portfolios)
    ]


def resolve_portfolios(cfg: Config) -> list[ResolvedPortfolio]:
    """The portfolios a config lists, resolved (a sweep's are resolved by its expansion)."""
    return [resolve_portfolio(cfg, n, a, p) for n, a, p, _ in listed_books(cfg)]
