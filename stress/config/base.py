"""The base of every config model: strict types, no unknown keys, no NaN or infinity, frozen."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from stress.config import limits as L

# Magnitudes a real account and market can have (stress.config.limits): beyond them float64 products
# of prices, sizes, rates and times overflow.
Amount = Annotated[float, Field(gt=0, le=L.MAX_AMOUNT)]
Price = Annotated[float, Field(ge=L.MIN_PRICE, le=L.MAX_PRICE)]
Leverage = Annotated[float, Field(gt=0, le=L.MAX_LEVERAGE)]
Hours = Annotated[float, Field(ge=0, le=L.MAX_HOURS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


def exactly_one(model: BaseModel, names: tuple[str, str]) -> None:
    """Refuse a model that sets both or neither of two alternative fields."""
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        found = "both" if given else "neither"
        raise ValueError(f"expected either {names[0]} or {names[1]}, got {found}")
