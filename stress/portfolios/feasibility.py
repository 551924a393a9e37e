"""Can the portfolios be opened: tier limits, leverage, margins and the wallet, per mode.

These rules need the resolved positions and the built tier tables, so they run in
`stress.pipeline.prepare` (and per point of a sweep), not when a config is loaded. Each raises
`ConfigError("<field path>: <expected>, got <found>")`.
"""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache

import stress.config.limits as L
from stress.config.schema import Config, Position
from stress.errors import ConfigError, amount, fail
from stress.portfolios.modes import isolated_in
from stress.portfolios.resolve import (
    ResolvedPortfolio,
    ResolvedPosition,
    market_table,
    market_tables,
    portfolio_of,
    resolve_position,
)
from stress.venues.tiers import TierTable


def check_markets(cfg: Config) -> None:
    """Each market names an asset of the model, and its built table keeps maintenance >= 0."""
    for asset, market in cfg.exchange.markets.items():
        where = f"exchange.markets.{asset}"
        if asset not in cfg.model.assets:
            fail(
                where,
                f"expected an asset of model.assets ({', '.join(cfg.model.assets)}), got {asset!r}",
            )
        _check_maintenance_positive(market_table(market), where)


def _check_maintenance_positive(table: TierTable, where: str) -> None:
    """Maintenance must not be negative anywhere in a tier: at its floor (its lowest notional)
    ``floor * mmr - amount >= 0``. A hand-written amount can break that (a 100x long then needs
    no maintenance at all until it has lost half its value); jumps at the caps stay allowed.
    Amounts left out are derived by continuity (`TierTable.build`)."""
    lowest = table.floor * table.mmr - table.amount
    for i in range(table.n_tiers):
        if lowest[i] < -1e-9 * max(1.0, table.floor[i] * table.mmr[i]):
            fail(
                f"{where}.tiers[{i}].maintenance_amount",
                f"must keep the maintenance >= 0 in the tier: expected <= "
                f"{amount(table.floor[i] * table.mmr[i])} "
                f"(its floor {amount(table.floor[i])} x mmr "
                f"{amount(table.mmr[i])}), got {amount(table.amount[i])}",
            )


def check_positions(
    cfg: Config, positions: list[Position], wallet: float, prefix: str, *, limits: bool = True
) -> list[ResolvedPosition]:
    """Check one portfolio's positions and return them resolved.

    With ``limits=False`` only what a position is (asset, sizing, id) is checked, not whether
    it can be opened (tier limits, margins, the wallet): a sweep's base is a template whose
    leverage, size and margins the generated points replace, so those rules apply per point
    (`portfolio_problem`).
    """
    tables = market_tables(cfg)
    seen: dict[str, int] = {}
    resolved = []
    for i, pos in enumerate(positions):
        at = f"{prefix}positions[{i}]"
        if pos.asset not in cfg.model.assets:
            fail(
                f"{at}.asset",
                f"expected an asset of model.assets ({', '.join(cfg.model.assets)}), "
                f"got {pos.asset!r}",
            )
        if (pos.notional is None) == (pos.quantity is None):
            found = "both" if pos.notional is not None else "neither"
            fail(at, f"give exactly one of notional or quantity, got {found}")
        rp = resolve_position(cfg, pos, i)
        if rp.id in seen:
            fail(f"{at}.id", f"duplicate id {rp.id!r} (also positions[{seen[rp.id]}])")
        seen[rp.id] = i
        if limits:
            size_field = "notional" if pos.notional is not None else "quantity"
            _check_limits(rp, tables[pos.asset], at, size_field)
        resolved.append(rp)
    if limits:
        _check_funding(cfg.modes, resolved, wallet, f"{prefix}account.wallet")
    return resolved


@lru_cache(maxsize=256)
def _caps(table: TierTable) -> tuple[list[float], list[float]]:
    """A table's caps and leverage limits as lists (tables hash and compare by identity)."""
    return table.cap.tolist(), table.max_leverage.tolist()


def _tier(table: TierTable, notional: float) -> int:
    """`stress.venues.tiers.tier_index` without numpy's per-call cost (sweeps check 10^4-10^5
    positions): the first bracket whose cap is >= the notional, the last one beyond it."""
    caps = _caps(table)[0]
    return min(bisect_left(caps, notional), len(caps) - 1)


def _check_limits(rp: ResolvedPosition, table: TierTable, at: str, size_field: str) -> None:
    """Can the position be opened: notional within the tiers, leverage, margin >= initial."""
    notional = rp.entry_notional
    if notional > L.MAX_AMOUNT:
        fail(
            f"{at}.{size_field}",
            f"expected a notional <= {amount(L.MAX_AMOUNT)} (the largest amount stress accepts), "
            f"got {amount(notional)}",
        )
    if notional > table.cap[-1]:
        fail(
            f"{at}.{size_field}",
            f"expected a notional <= {amount(table.cap[-1])} (the largest {rp.asset} tier), "
            f"got {amount(notional)}",
        )
    tier = _tier(table, notional)
    max_lev = _caps(table)[1][tier]
    if rp.leverage > max_lev:
        fail(
            f"{at}.leverage",
            f"must be <= {amount(max_lev)} for {rp.asset} notional {amount(notional)} "
            f"(tier {tier + 1}), got {amount(rp.leverage)}",
        )
    # a defaulted margin is the initial margin itself, so only a given one can fail
    if rp.margin < rp.initial_margin * (1 - 1e-12):
        fail(
            f"{at}.margin",
            f"must be >= the initial margin {amount(rp.initial_margin)} "
            f"(notional {amount(notional)} / leverage {amount(rp.leverage)}), "
            f"got {amount(rp.margin)}",
        )


_NEED = {
    "isolated": "the isolated margins of all positions (mode isolated)",
    "cross": "the initial margin of all positions (mode cross)",
    "as_configured": "the isolated margins plus the cross positions' initial margin "
    "(as_configured)",
}


def _check_funding(modes: list[str], resolved: list, wallet: float, at: str) -> None:
    """Every bucket must be able to post its positions' initial margin, in every mode asked for:
    an isolated position its margin, the cross bucket its positions' initial margin."""
    for mode in modes:
        iso = sum(p.margin for p in resolved if isolated_in(mode, p))
        cross_im = sum(p.initial_margin for p in resolved if not isolated_in(mode, p))
        if mode == "as_configured" and iso > wallet * (1 + 1e-12):
            fail(
                at,
                "must cover the isolated margins (as_configured): "
                f"expected >= {amount(iso)}, got {amount(wallet)}",
            )
        need = iso + cross_im
        if need > wallet * (1 + 1e-12):
            fail(at, f"must cover {_NEED[mode]}: expected >= {amount(need)}, got {amount(wallet)}")


def portfolio_problem(
    positions: tuple[ResolvedPosition, ...],
    wallet: float,
    tables: dict[str, TierTable],
    modes: list[str],
) -> str | None:
    """Why a resolved portfolio cannot be opened in every mode (None if it can).

    The same rules and messages as `check_positions`, for portfolios built without a config
    entry (sweep points); paths are relative to the portfolio (``positions[1].leverage``).
    """
    try:
        for i, rp in enumerate(positions):
            _check_limits(rp, tables[rp.asset], f"positions[{i}]", "notional")
        _check_funding(modes, list(positions), wallet, "account.wallet")
    except ConfigError as exc:
        return str(exc)
    return None


def check_books(
    cfg: Config, books: list[tuple[str, object, list[Position], str]]
) -> list[ResolvedPortfolio]:
    """Every listed portfolio (not a sweep's: it checks its points itself) can be opened;
    returns them resolved, so that they are resolved once."""
    names: dict[str, int] = {}
    out = []
    for k, (name, account, positions, prefix) in enumerate(books):
        if cfg.portfolios is not None:
            if name in names:
                fail(f"{prefix}name", f"duplicate portfolio name {name!r}")
            names[name] = k
        resolved = check_positions(cfg, positions, account.wallet, prefix)
        out.append(portfolio_of(name, account, tuple(resolved)))
    return out
