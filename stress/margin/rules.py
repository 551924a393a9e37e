"""Binance USDⓈ-M margin rules: maintenance tiers and the closed-form liquidation price.

Pure Python/numpy, no numba: this module is the reference the compiled kernels are tested
against and what ``stress liqprice`` reports. Conventions (SPEC section 1, "Margin semantics"):

* A tier table is a list of brackets on position notional ``|quantity| * mark``. Tier ``i``
  covers notional in ``(cap[i-1], cap[i]]``, tier 0 starts at 0, and a notional beyond the last
  cap uses the last tier (its rate is extrapolated rather than refused; refusing is the config
  layer's job).
* Maintenance margin = ``notional * mmr - amount`` of the tier the notional falls in. Binance
  calls ``amount`` the maintenance amount or ``cum``.
* Liquidation happens when ``equity <= maintenance``, so the liquidation price is where the two
  are equal.

After the config layer, code assumes valid input: caps and rates increase and every rate is
below 1 (a rate of 1 or more would need more maintenance than the position is worth).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "TierTable",
    "bucket_liquidation_prices",
    "liquidation_price",
    "maintenance",
    "maintenance_array",
    "max_leverage",
    "side_sign",
    "tier_index",
    "tier_indices",
]


def _frozen(values: object) -> np.ndarray:
    """A read-only float64 copy, so a table cannot change under the arrays built from it."""
    arr = np.array(values, dtype=np.float64, copy=True).reshape(-1)
    arr.flags.writeable = False
    return arr


# eq=False: the generated __eq__/__hash__ would compare/hash ndarrays, which numpy refuses; a
# table is compared by identity, like any other mutable-looking container of arrays.
@dataclass(frozen=True, eq=False)
class TierTable:
    """Maintenance-margin brackets of one market (Binance "leverage brackets").

    Attributes
    ----------
    cap : ndarray (n_tiers,) float64
        Upper notional bound of each tier (inclusive); the last may be ``inf``.
    mmr : ndarray (n_tiers,) float64
        Maintenance margin rate of each tier.
    amount : ndarray (n_tiers,) float64
        Maintenance amount ("cum") of each tier, subtracted from ``notional * mmr``.
    max_leverage : ndarray (n_tiers,) float64
        Highest leverage allowed when opening a position whose notional falls in the tier.

    All arrays are read-only copies. Build tables with `TierTable.build` or `TierTable.flat`.
    """

    cap: np.ndarray
    mmr: np.ndarray
    amount: np.ndarray
    max_leverage: np.ndarray

    def __post_init__(self) -> None:
        fields = ("cap", "mmr", "amount", "max_leverage")
        for name in fields:
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        sizes = {name: getattr(self, name).shape[0] for name in fields}
        if len(set(sizes.values())) != 1 or sizes["cap"] == 0:
            raise ValueError(f"tier arrays must be non-empty and of equal length, got {sizes}")

    @property
    def n_tiers(self) -> int:
        """Number of tiers."""
        return int(self.cap.shape[0])

    @property
    def floor(self) -> np.ndarray:
        """Lower notional bound of each tier (exclusive): 0, then the previous tier's cap."""
        return np.concatenate(([0.0], self.cap[:-1]))

    @classmethod
    def build(
        cls,
        caps: Sequence[float],
        mmrs: Sequence[float],
        max_leverages: Sequence[float],
        amounts: Sequence[float | None] | None = None,
    ) -> TierTable:
        """A table from per-tier values, deriving omitted maintenance amounts by continuity.

        Parameters
        ----------
        caps, mmrs, max_leverages : sequence of float, length n_tiers
            Upper notional bound, maintenance rate and maximum leverage of each tier.
        amounts : sequence of float or None, length n_tiers, optional
            Maintenance amounts; ``None`` (or the whole argument omitted) derives the amount so
            that maintenance is continuous at the tier's floor:
            ``cum_n = cum_(n-1) + cap_(n-1) * (mmr_n - mmr_(n-1))``, with ``cum_0 = 0``. A given
            amount is kept as is, and later derived amounts build on it.

        Returns
        -------
        TierTable
        """
        n = len(caps)
        given: Sequence[float | None] = [None] * n if amounts is None else amounts
        if len(given) != n:
            raise ValueError(f"amounts must have one entry per tier ({n}), got {len(given)}")
        cum: list[float] = []
        for i in range(n):
            if given[i] is not None:
                cum.append(float(given[i]))  # type: ignore[arg-type]
            elif i == 0:
                cum.append(0.0)
            else:
                cum.append(cum[i - 1] + float(caps[i - 1]) * (float(mmrs[i]) - float(mmrs[i - 1])))
        return cls(cap=caps, mmr=mmrs, amount=cum, max_leverage=max_leverages)

    @classmethod
    def flat(cls, mmr: float, max_leverage: float) -> TierTable:
        """One uncapped tier, for a market without a table: maintenance = mmr * notional."""
        return cls(cap=[math.inf], mmr=[mmr], amount=[0.0], max_leverage=[max_leverage])


def tier_indices(table: TierTable, notional: np.ndarray | float) -> np.ndarray:
    """Tier of each notional (vectorised `tier_index`).

    Parameters
    ----------
    table : TierTable
    notional : array_like, any shape, >= 0
        Position notionals ``|quantity| * price``.

    Returns
    -------
    ndarray of int64, same shape as `notional`
        Index of the tier whose bracket ``(cap[i-1], cap[i]]`` holds each notional; notionals
        beyond the last cap map to the last tier.
    """
    # side="left" finds the first cap >= notional, so a notional exactly at a cap stays in the
    # lower tier: brackets are closed above, as in Binance's tables and the engine's kernel.
    idx = np.searchsorted(table.cap, np.asarray(notional, dtype=np.float64), side="left")
    return np.minimum(idx, table.n_tiers - 1).astype(np.int64)


def tier_index(table: TierTable, notional: float) -> int:
    """Index of the tier whose bracket ``(cap[i-1], cap[i]]`` holds `notional` (>= 0).

    A notional beyond the last cap uses the last tier.
    """
    return int(tier_indices(table, float(notional)))


def maintenance_array(table: TierTable, notional: np.ndarray | float) -> np.ndarray:
    """Maintenance margin ``notional * mmr - amount`` of each notional (vectorised `maintenance`).

    Parameters
    ----------
    table : TierTable
    notional : array_like, any shape, >= 0

    Returns
    -------
    ndarray of float64, same shape as `notional`
    """
    x = np.asarray(notional, dtype=np.float64)
    i = tier_indices(table, x)
    return x * table.mmr[i] - table.amount[i]


def maintenance(table: TierTable, notional: float) -> float:
    """Maintenance margin of one position: ``notional * mmr - amount`` of its tier."""
    i = tier_index(table, notional)
    return float(notional) * float(table.mmr[i]) - float(table.amount[i])


def max_leverage(table: TierTable, notional: float) -> float:
    """Highest leverage allowed when opening a position of this notional."""
    return float(table.max_leverage[tier_index(table, notional)])


def side_sign(side: int | str) -> int:
    """+1 for a long, -1 for a short; accepts ``"long"``/``"short"`` or ``+1``/``-1``."""
    if side in ("long", 1):
        return 1
    if side in ("short", -1):
        return -1
    raise ValueError(f"side must be 'long', 'short', +1 or -1, got {side!r}")


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
    i.e. where the bucket's equity meets its maintenance margin.

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
    clamped to the tier's price range, best over tiers. When maintenance is continuous at the
    caps (as with amounts derived by `TierTable.build`, and Binance's own tables) exactly one
    tier holds the root, equity equals maintenance there, and the result equals Binance's. A
    root exactly on a cap belongs to the lower tier (brackets are closed above), which gives the
    same price since both tiers agree there. With a discontinuous user table the threshold can
    fall on a cap where equity jumps past maintenance; the cap's price is returned then.
    """
    s = side_sign(side)
    q = abs(float(qty))
    if q == 0.0:
        return None
    base = float(wallet_balance) - float(other_maintenance) + float(other_upnl)
    base -= s * q * float(entry_price)
    # Price range of each tier: (floor / Q, cap / Q]; beyond the last cap the last tier applies.
    lo = table.floor / q
    hi = np.append(table.cap[:-1] / q, math.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        candidate = (base + table.amount) / (q * table.mmr - s * q)
    if s == 1:
        # Equity - maintenance rises with the price (slope Q * (1 - mmr) > 0): within a tier the
        # bucket is liquidated at prices up to the candidate.
        ok = candidate > lo
        if not ok.any():
            return None
        lp = float(np.max(np.minimum(candidate[ok], hi[ok])))
    else:
        # Falls with the price (slope -Q * (1 + mmr)): liquidated from the candidate upwards.
        ok = candidate <= hi
        if not ok.any():
            return None
        lp = float(np.min(np.maximum(candidate[ok], lo[ok])))
    if not lp > 0.0 or not math.isfinite(lp):
        return None
    return lp


def bucket_liquidation_prices(
    sides: Sequence[int | str],
    qtys: Sequence[float],
    entry_prices: Sequence[float],
    marks: Sequence[float],
    wallet_balance: float,
    tables: Sequence[TierTable],
) -> list[float | None]:
    """Liquidation price of every position in one cross bucket, Binance style.

    For each position, the other positions' maintenance and unrealised PnL are held at their
    current marks (TMM1, UPNL1) and `liquidation_price` solves for the position's own price.
    Positions on the same asset are not merged: in one-way mode Binance has one position per
    symbol, so a config holding two on one asset gets each one's price with the other frozen.

    Parameters
    ----------
    sides : sequence of {"long", "short", 1, -1}, length n_positions
    qtys : sequence of float, length n_positions
        Sizes in base units (sign ignored).
    entry_prices, marks : sequence of float, length n_positions
        Entry price and current mark price of each position's asset.
    wallet_balance : float
        The bucket's collateral (the cross wallet balance). For an isolated position pass a
        single-element bucket holding its margin.
    tables : sequence of TierTable, length n_positions
        Tier table of each position's market.

    Returns
    -------
    list of (float or None), length n_positions
    """
    signs = np.array([side_sign(s) for s in sides], dtype=np.float64)
    q = np.abs(np.asarray(qtys, dtype=np.float64))
    ep = np.asarray(entry_prices, dtype=np.float64)
    mk = np.asarray(marks, dtype=np.float64)
    upnl = signs * q * (mk - ep)
    mm = np.array([maintenance(t, qi * m) for t, qi, m in zip(tables, q, mk, strict=True)])
    # Sum the others directly rather than total minus own, which would cancel digits when one
    # position dominates the bucket.
    return [
        liquidation_price(
            int(signs[i]),
            float(q[i]),
            float(ep[i]),
            wallet_balance,
            tables[i],
            other_maintenance=float(np.delete(mm, i).sum()),
            other_upnl=float(np.delete(upnl, i).sum()),
        )
        for i in range(len(q))
    ]
