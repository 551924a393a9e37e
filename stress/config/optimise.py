"""The ``optimise:`` block of a config: what `stress optimise` searches.

Only the block's own types and bounds live here; the rules that need the rest of the config
(known position ids, a margin that fits in the wallet, a risk capital to stay within) are
`stress.config.checks.check_optimise`'s, and `stress.pipeline.optimise` runs the search.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from stress.config import limits as L
from stress.config.base import Strict

MAX_CANDIDATES = 5_000
"""Most candidates one round may hold: each is a portfolio of one run, with its per-path
results kept for the paired comparisons."""


class Bounds(Strict):
    min: float = Field(gt=0, le=L.MAX_LEVERAGE)
    max: float = Field(gt=0, le=L.MAX_LEVERAGE)

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.max < self.min:
            raise ValueError(f"expected min <= max, got min {self.min} and max {self.max}")
        return self


class Optimise(Strict):
    """`stress optimise` (`stress.pipeline.optimise`): which positions go isolated and with how
    much margin (``margin``: multiples of each position's initial margin; optionally its
    ``leverage`` within bounds) to minimise the liquidation probability subject to ES99 <=
    ``account.risk_capital`` (and P(ruin) <= ``max_p_ruin``)."""

    positions: list[str] | None = Field(default=None, min_length=1)  # ids searched; None: all
    margin: Bounds = Bounds(min=1.0, max=4.0)
    leverage: Bounds | None = None  # None: each position keeps its leverage
    max_p_ruin: float | None = Field(default=None, gt=0, le=1)
    steps: int = Field(default=4, ge=2, le=20)  # grid points per range in the coarse round
    rounds: int = Field(default=2, ge=1, le=5)  # coarse round, then finer rounds around the best
    # candidates per round at most: past it the coarse round gives every isolated position of a
    # candidate the same multiple, then samples (`stress.pipeline.optimise_candidates`)
    max_candidates: int = Field(default=200, ge=10, le=MAX_CANDIDATES)
