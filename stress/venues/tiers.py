"""Binance USDⓈ-M maintenance tiers: the table of one market and what it charges a position.

Pure Python/numpy, no numba: this module is the reference the compiled kernels are tested
against. Conventions (README, "Margin semantics"):

* A tier table is a list of brackets on position notional ``|quantity| * mark``. Tier ``i``
  covers notional in ``(cap[i-1], cap[i]]``, tier 0 starts at 0, and a notional beyond the last
  cap uses the last tier (its rate is extrapolated rather than refused; refusing is the config
  layer's job).
* Maintenance margin = ``notional * mmr - amount`` of the tier the notional falls in. Binance
  calls ``amount`` the maintenance amount or ``cum``.

Where a bucket is liquidated on such a table is `stress.margin.liquidation_bounds`.

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
