"""The ``optimise:`` block of a config: what `stress optimise` searches."""

from __future__ import annotations

from pydantic import Field, model_validator

from stress.config import limits as L
from stress.config.base import Strict


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
