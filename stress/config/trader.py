"""The trader's own rules in a config: stops, reduce ladders, auto top-ups, the account's hard
stop. What they do on a path is `stress.margin.trader_rules`'."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from stress.config import limits as L
from stress.config.base import Amount, Price, Strict, exactly_one
from stress.config.read import show_typed


class HardStop(Strict):
    """The trader's account-level stop (`stress.margin.trader_rules`): close every position when
    the account's equity has fallen by ``drawdown`` (a fraction of the starting equity) or to
    ``equity`` USDT."""

    drawdown: float | None = Field(default=None, gt=0, lt=1)
    equity: float | None = Field(default=None, ge=0, le=L.MAX_AMOUNT)

    @model_validator(mode="after")
    def _one(self) -> HardStop:
        exactly_one(self, ("drawdown", "equity"))
        return self


class StopLoss(Strict):
    """Close the position at the first mark at or beyond ``price`` (below it for a long, above
    for a short), or at the first mark where its loss reaches ``margin_fraction`` of its margin."""

    price: Price | None = None
    margin_fraction: float | None = Field(default=None, gt=0, le=L.MAX_MARGIN_FRACTION)

    @model_validator(mode="after")
    def _one(self) -> StopLoss:
        exactly_one(self, ("price", "margin_fraction"))
        return self


class ReduceStep(Strict):
    """One rung of a reduce ladder: close ``close`` of the position's opening size once the
    price has moved ``move`` (a fraction of the entry price) ``against`` it or in its
    ``favour``."""

    move: float = Field(gt=0, le=L.MAX_SHOCK_MOVE)
    close: float = Field(gt=0, le=1)
    direction: Literal["against", "favour"] = "against"


class TopUp(Strict):
    """Isolated auto top-up (Bybit's auto-add margin): when the bucket's margin ratio
    (maintenance / equity) reaches ``at_margin_ratio``, move ``amount`` (USDT, or ``initial``: one
    initial margin) into it from the account, at most ``max_times`` times and ``cap`` USDT."""

    at_margin_ratio: float = Field(gt=0, le=1)
    amount: Literal["initial"] | Amount = "initial"
    max_times: int = Field(default=1, ge=1, le=L.MAX_TOP_UPS)
    cap: Amount | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Any:
        # one message for the two alternatives instead of one per branch of the union
        if isinstance(value, str) and value != "initial" or isinstance(value, bool):
            raise ValueError(f"expected 'initial' or an amount in USDT, got {show_typed(value)}")
        return value
