"""Closed-form liquidation prices of every position under every mode, at current marks.

A bucket (an isolated position, or the cross bucket holding the rest of the wallet) is
liquidated where its collateral plus unrealised PnL falls to its maintenance margin. Each
position gets the prices at which its bucket is liquidated when the position's asset moves alone
from its mark, every position of the bucket on that asset moving with it and every other asset
held at its mark: the highest one at or below the mark, the lowest at or above it
(`stress.margin.liquidation_bounds.asset_liquidation_bounds`), and the nearer of the two to the
mark.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from stress.margin.liquidation_bounds import LiquidationBounds, asset_liquidation_bounds
from stress.portfolios.modes import mode_buckets
from stress.portfolios.resolve import ResolvedPortfolio
from stress.venues.tiers import TierTable, maintenance, side_sign


def bucket_liquidation_bounds(
    sides: Sequence[int | str],
    qtys: Sequence[float],
    entry_prices: Sequence[float],
    marks: Sequence[float],
    wallet_balance: float,
    tables: Sequence[TierTable],
    assets: Sequence[Hashable] | None = None,
) -> list[LiquidationBounds]:
    """Both liquidation prices of every position in one bucket (`asset_liquidation_bounds`).

    For each asset, its positions move together from its mark and the positions on other
    assets are held at their marks, their maintenance and unrealised PnL entering as TMM1 and
    UPNL1. Every position gets the bounds of its asset's move.

    Parameters
    ----------
    sides : sequence of {"long", "short", 1, -1}, length n_positions
    qtys : sequence of float, length n_positions
        Sizes in base units (sign ignored).
    entry_prices, marks : sequence of float, length n_positions
        Entry price and current mark price of each position's asset.
    wallet_balance : float
        The bucket's collateral. For an isolated position pass a one-position bucket holding
        its margin.
    tables : sequence of TierTable, length n_positions
        Tier table of each position's market.
    assets : sequence of hashable, length n_positions, optional
        Asset of each position: positions with equal keys share a price (and must share the
        mark and table). Default: every position on an asset of its own, as in Binance's
        one-way mode (one position per symbol).

    Returns
    -------
    list of LiquidationBounds, length n_positions
    """
    n = len(qtys)
    keys = list(range(n)) if assets is None else list(assets)
    signs = [side_sign(s) for s in sides]
    q = [abs(float(x)) for x in qtys]
    ep = [float(x) for x in entry_prices]
    mk = [float(x) for x in marks]
    upnl = [s * qi * (m - e) for s, qi, m, e in zip(signs, q, mk, ep, strict=True)]
    mm = [maintenance(t, qi * m) for t, qi, m in zip(tables, q, mk, strict=True)]
    found: dict[Hashable, LiquidationBounds] = {}
    for key in dict.fromkeys(keys):
        own = [i for i in range(n) if keys[i] == key]
        # Sum the others directly rather than total minus own, which would cancel digits when
        # one asset dominates the bucket.
        rest = [i for i in range(n) if keys[i] != key]
        found[key] = asset_liquidation_bounds(
            [signs[i] for i in own],
            [q[i] for i in own],
            [ep[i] for i in own],
            mk[own[0]],
            wallet_balance,
            tables[own[0]],
            other_maintenance=sum(mm[i] for i in rest),
            other_upnl=sum(upnl[i] for i in rest),
        )
    return [found[key] for key in keys]


def bucket_liquidation_prices(
    sides: Sequence[int | str],
    qtys: Sequence[float],
    entry_prices: Sequence[float],
    marks: Sequence[float],
    wallet_balance: float,
    tables: Sequence[TierTable],
    assets: Sequence[Hashable] | None = None,
) -> list[float | None]:
    """The liquidation price of every position in one bucket: the nearer of its two bounds.

    Same parameters as `bucket_liquidation_bounds`; each position gets
    ``LiquidationBounds.nearest`` of its asset's bounds (ties go to the side the position loses
    towards).

    Returns
    -------
    list of (float or None), length n_positions
    """
    bounds = bucket_liquidation_bounds(
        sides, qtys, entry_prices, marks, wallet_balance, tables, assets
    )
    return [b.nearest(m, s) for b, m, s in zip(bounds, marks, sides, strict=True)]


def portfolio_liquidation_bounds(
    port: ResolvedPortfolio,
    mode: str,
    marks: np.ndarray,
    tables: dict[str, TierTable],
    memo: dict | None = None,
) -> dict[str, LiquidationBounds]:
    """{position id: LiquidationBounds(below, above)} for one portfolio under one mode.

    Parameters
    ----------
    port : ResolvedPortfolio
    mode : {"isolated", "cross", "as_configured"}
    marks : ndarray (n_assets,)
        Current mark of each asset, indexed by ``ResolvedPosition.asset_index``.
    tables : dict of str to TierTable
        Tier table of each asset.
    memo : dict, optional
        Shared by calls with the same `marks` and `tables`: a bucket met before (the same
        positions and collateral, as an isolated leg is in the isolated and as_configured modes)
        is not solved again.

    Returns
    -------
    dict of str to LiquidationBounds
        In the order of ``port.positions``. Positions of one bucket on one asset share theirs.
    """
    found: dict[str, LiquidationBounds] = {}
    memo = {} if memo is None else memo
    buckets, _ = mode_buckets(port.positions, mode, port.wallet)
    for collateral, members in buckets:
        key = (collateral, tuple((p.asset, p.side, p.quantity, p.entry_price) for p in members))
        bounds = memo.get(key)
        if bounds is None:
            bounds = memo[key] = bucket_liquidation_bounds(
                [p.side for p in members],
                [p.quantity for p in members],
                [p.entry_price for p in members],
                [marks[p.asset_index] for p in members],
                collateral,
                [tables[p.asset] for p in members],
                assets=[p.asset for p in members],
            )
        found.update({p.id: b for p, b in zip(members, bounds, strict=True)})
    return {p.id: found[p.id] for p in port.positions}


PRICE_KEYS = ("liquidation_price", "liquidation_price_below", "liquidation_price_above")
"""What each position reports: the nearer to the mark of the two sides, then both sides."""


def portfolio_liquidation_prices(
    port: ResolvedPortfolio,
    mode: str,
    marks: np.ndarray,
    tables: dict[str, TierTable],
    memo: dict | None = None,
) -> dict[str, dict[str, float | None]]:
    """{position id: {PRICE_KEYS: price or None}} for one portfolio under one mode.

    ``liquidation_price`` is the nearer to the mark of `portfolio_liquidation_bounds`
    (`LiquidationBounds.nearest`, `memo` as there); the other two are its sides.
    """
    bounds = portfolio_liquidation_bounds(port, mode, marks, tables, memo)
    out = {}
    for p in port.positions:
        b = bounds[p.id]
        nearest = b.nearest(marks[p.asset_index], p.side)
        out[p.id] = dict(zip(PRICE_KEYS, (nearest, b.below, b.above), strict=True))
    return out
