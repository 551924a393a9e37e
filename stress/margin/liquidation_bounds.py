"""Closed-form liquidation prices on a tier table: exact reasoning on a piecewise-linear surplus.

Pure Python, no numba: the prices ``stress liqprice`` reports come from here. Conventions
(README, "Margin semantics"): liquidation happens when ``equity <= maintenance``,
maintenance being that of `stress.venues.tiers`. With continuous maintenance the liquidation
price is where the two are equal; a table whose maintenance jumps at a cap (given amounts) can
put it on the cap, and a bucket can be liquidated on both sides of the mark.

After the config layer, code assumes valid input: caps and rates increase and every rate is
below 1 (a rate of 1 or more would need more maintenance than the position is worth).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import NamedTuple

from stress.venues.tiers import TierTable, side_sign

__all__ = [
    "LiquidationBounds",
    "asset_liquidation_bounds",
    "liquidation_price",
]


class LiquidationBounds(NamedTuple):
    """Where a bucket is liquidated when one asset's price moves alone from its mark.

    Attributes
    ----------
    below : float or None
        Highest price at or below the mark at which the bucket is liquidated; None if it is safe
        at every positive price up to the mark.
    above : float or None
        Lowest price at or above the mark at which the bucket is liquidated; when the
        liquidated stretch opens just above a tier cap (maintenance jumping there), the first
        float price past the cap. None if the bucket is safe at every price above the mark.

    Both equal the mark when the bucket is already liquidated there.
    """

    below: float | None
    above: float | None

    def nearest(self, mark: float, side: int | str) -> float | None:
        """The side closer to `mark` (absolute distance), the only one, or None.

        On a tie, the side the position loses towards: `below` for a long, `above` for a short.
        """
        if self.below is None or self.above is None:
            return self.above if self.below is None else self.below
        down, up = float(mark) - self.below, self.above - float(mark)
        if down == up:
            return self.below if side_sign(side) == 1 else self.above
        return self.below if down < up else self.above


# The surplus (equity minus maintenance) of a bucket is a + b * P on a piece (lower, upper] of
# one asset's price P: (lower, upper, a, b), closed above like the tier brackets.
_Piece = tuple[float, float, float, float]


def _surplus_pieces(
    signs: Sequence[float],
    qtys: Sequence[float],
    entries: Sequence[float],
    table: TierTable,
    constant: float,
) -> list[_Piece]:
    """The bucket's surplus as linear pieces of the price of the asset its positions share.

    `constant` is the rest of the bucket at fixed prices: collateral plus the other assets'
    unrealised PnL minus their maintenance. Position p changes tier at the prices
    ``cap_i / |q_p|``; between consecutive breakpoints of all the positions every one stays in
    one tier, so the surplus is linear there, and it may jump at a breakpoint. Each breakpoint is
    the last float price the engine puts in the lower tier (`_last_in_tier`), so the pieces
    split prices exactly as the engine's ``|q| * price > cap`` does.
    """
    live = [(s, q, e) for s, q, e in zip(signs, qtys, entries, strict=True) if q > 0.0]
    caps = table.cap.tolist()[:-1]  # beyond the last cap the last tier goes on: no breakpoint
    mmr, amount = table.mmr.tolist(), table.amount.tolist()
    own = [[_last_in_tier(c, q) for c in caps] for _, q, _ in live]
    lower = [0.0, *sorted({x for breaks in own for x in breaks})]
    upper = [*lower[1:], math.inf]
    base = constant
    for s, q, e in live:
        base -= s * q * e
    pieces = []
    for lo, hi in zip(lower, upper, strict=True):
        # A position's tier on (lo, hi] is how many of its breakpoints lie at or below lo. They
        # are the very floats `lower` was built from, so rounding cannot misplace a piece.
        tiers = [bisect_right(breaks, lo) for breaks in own]
        a = base + sum(amount[t] for t in tiers)
        # s q - q mmr rather than q (s - mmr): for one position -a / b then rounds exactly like
        # Binance's (WB - TMM1 + UPNL1 + cumB - Side1 Q EP1) / (Q MMR_B - Side1 Q).
        b = sum(s * q - q * mmr[t] for (s, q, _), t in zip(live, tiers, strict=True))
        pieces.append((lo, hi, a, b))
    return pieces


def _last_in_tier(cap: float, qty: float) -> float:
    """The largest float price P with ``qty * P <= cap`` in floating point.

    ``cap / qty`` can be an ulp off either way, and at a jump in maintenance one ulp decides
    whether a price is liquidated; the engine classifies a price by ``qty * P > cap``.
    """
    p = cap / qty
    while qty * p > cap:
        p = math.nextafter(p, -math.inf)
    while qty * math.nextafter(p, math.inf) <= cap:
        p = math.nextafter(p, math.inf)
    return p


def _highest_at_or_below(pieces: list[_Piece], mark: float) -> float | None:
    """Highest price in (0, mark] where the surplus is <= 0, or None.

    A piece's liquidated set is an interval closed at its upper end, so the price is attained.
    """
    k = bisect_left([hi for _, hi, _, _ in pieces], mark)  # the piece holding the mark
    for j in range(k, -1, -1):
        lo, hi, a, b = pieces[j]
        top = mark if j == k else hi
        if b > 0.0:  # liquidated from lo up to the root
            root = -a / b
            if root > lo:
                return min(top, root)
        elif (a <= 0.0) if b == 0.0 else (-a / b <= top):  # liquidated from the root up
            return top
    return None


def _lowest_at_or_above(pieces: list[_Piece], mark: float) -> float | None:
    """Lowest price >= mark where the surplus is <= 0, or None.

    Above the mark's piece a piece is open at its lower end (its breakpoint is the lower
    tier's last price): a liquidated set opening there starts at the next float, the first
    price in the upper tier, which is what is returned, so the price is always liquidated.
    """
    k = bisect_left([hi for _, hi, _, _ in pieces], mark)
    for j in range(k, len(pieces)):
        lo, hi, a, b = pieces[j]
        start = mark if j == k else math.nextafter(lo, math.inf)
        if b < 0.0:  # liquidated from the root up
            root = -a / b
            if root <= hi:
                return max(start, root)
        elif b > 0.0:  # liquidated from the piece's start up to the root
            root = -a / b
            if root >= start:
                return start
        elif a <= 0.0:
            return start
    return None


def liquidation_price(
    side: int | str,
    qty: float,
    entry_price: float,
    wallet_balance: float,
    table: TierTable,
    other_maintenance: float = 0.0,
    other_upnl: float = 0.0,
) -> float | None:
    """Closed-form liquidation price of a position (Binance USDⓈ-M, one-way mode).

    Binance's published formula, with the tier taken at the liquidation price itself::

        LP = (WB - TMM1 + UPNL1 + cumB - Side1 * Q * EP1) / (Q * MMR_B - Side1 * Q)

    It is the price where ``WB + Side1 * Q * (LP - EP1) + UPNL1 == maintenance(Q * LP) + TMM1``,
    i.e. where the bucket's equity meets its maintenance margin. It takes no mark: a long gets
    the highest liquidated price of all, a short the lowest. When maintenance jumps at a cap
    (given amounts) that can be on the far side of the mark, a long also being liquidated in
    a stretch above a cap; `asset_liquidation_bounds` looks on both sides of a mark, for
    several positions on one asset, and is what ``stress liqprice`` reports.

    Parameters
    ----------
    side : {"long", "short", 1, -1}
        Side1.
    qty : float
        Position size in base units, Q; its sign is ignored (`side` gives the direction).
    entry_price : float
        EP1.
    wallet_balance : float
        WB. Isolated: the position's margin. Cross: the cross wallet balance.
    table : TierTable
        Tiers of the position's market; gives MMR_B and cumB at the liquidation price.
    other_maintenance, other_upnl : float
        TMM1 and UPNL1: maintenance margin and unrealised PnL of the other positions in the same
        cross bucket, at current marks. Both 0 for an isolated position.

    Returns
    -------
    float or None
        The liquidation price, or None where no positive price exists: a long that stays above
        maintenance even at a price of 0 (collateralised beyond its notional), a short whose
        bucket is below maintenance at every positive price (only possible in cross, when the
        other positions' losses exceed everything), or ``qty == 0``. Binance's UI shows "--"
        in these cases. The result may lie on the wrong side of the current mark (a bucket
        already below maintenance); callers compare it with the mark if that matters.

    Notes
    -----
    Tier lookup. For each tier the formula gives a candidate price; Binance keeps the one whose
    bracket contains ``Q * LP``. Equivalently, and without depending on a candidate landing
    exactly inside its bracket when it sits on a cap (rounding can push it just outside on both
    sides), this computes the threshold directly: for a long, the highest price at which the
    bucket is at or below maintenance; for a short, the lowest. Within a tier equity minus
    maintenance is linear and monotone in the price, so the threshold is the tier's candidate
    clamped to the tier's price range, first tier from the top (long) or bottom (short) that
    has one. When maintenance is continuous at the caps (as with amounts derived by
    `TierTable.build`, and Binance's own tables) exactly one tier holds the root, equity equals
    maintenance there, and the result equals Binance's. A root exactly on a cap belongs to the
    lower tier (brackets are closed above), which gives the same price since both tiers agree
    there. With a discontinuous user table the threshold can fall on a cap where equity jumps
    past maintenance: a long gets the cap's price (the last one in the lower tier), a short
    the first float price past it, liquidated either way.
    """
    s = side_sign(side)
    q = abs(float(qty))
    if q == 0.0:
        return None
    constant = float(wallet_balance) - float(other_maintenance) + float(other_upnl)
    pieces = _surplus_pieces([s], [q], [float(entry_price)], table, constant)
    lp = _highest_at_or_below(pieces, math.inf) if s == 1 else _lowest_at_or_above(pieces, 0.0)
    if lp is None or not 0.0 < lp < math.inf:
        return None
    return lp


def asset_liquidation_bounds(
    sides: Sequence[int | str],
    qtys: Sequence[float],
    entry_prices: Sequence[float],
    mark: float,
    wallet_balance: float,
    table: TierTable,
    other_maintenance: float = 0.0,
    other_upnl: float = 0.0,
) -> LiquidationBounds:
    """Liquidation prices on both sides of an asset's mark, its positions moving together.

    The bucket holds `wallet_balance` and some positions on one asset, whose price P moves from
    `mark` while everything else in the bucket stays where it is (`other_maintenance`,
    `other_upnl`). Its surplus ``f(P) = WB - TMM1 + UPNL1 + sum(Side * Q * (P - EP)) -
    sum(maintenance(Q * P))`` (no funding, no fees) is linear between the breakpoints
    ``cap_i / Q`` of every position and may jump at them; the bucket is liquidated where
    ``f(P) <= 0``. This is exact piecewise-linear reasoning, not a numerical search.

    Parameters
    ----------
    sides : sequence of {"long", "short", 1, -1}, length n_positions
    qtys : sequence of float, length n_positions
        Sizes in base units (sign ignored).
    entry_prices : sequence of float, length n_positions
    mark : float
        The asset's current mark price.
    wallet_balance : float
        The bucket's collateral.
    table : TierTable
        The asset's tier table.
    other_maintenance, other_upnl : float
        Maintenance and unrealised PnL of the bucket's positions on other assets, at their marks.

    Returns
    -------
    LiquidationBounds
        ``below``: the highest price <= mark with ``f <= 0``; ``above``: the lowest price
        >= mark with ``f <= 0`` (when the liquidated set opens just above a breakpoint b, the
        first float past b: liquidated, while b is not). Either is None where no such price
        exists (prices up to infinity are considered above the mark). With a single position,
        continuous maintenance and a bucket not liquidated at the mark, the side the position
        loses towards is Binance's formula (`liquidation_price`) and the other is None.
    """
    constant = float(wallet_balance) - float(other_maintenance) + float(other_upnl)
    pieces = _surplus_pieces(
        [side_sign(s) for s in sides],
        [abs(float(q)) for q in qtys],
        [float(e) for e in entry_prices],
        table,
        constant,
    )
    m = float(mark)
    return LiquidationBounds(_highest_at_or_below(pieces, m), _lowest_at_or_above(pieces, m))
