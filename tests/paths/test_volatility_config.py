"""The conditional-volatility models in a config (``garch``, ``fhs``, ``ewma``): their fields,
refused where they do not belong, and a run from the shipped history."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA, assert_mean_within_4se, error_of

import stress
from stress.paths.history_spec import ewma_decay

BTC = str(DATA / "binance_spot_BTCUSDT_1h.csv.gz")
ETH = str(DATA / "binance_spot_ETHUSDT_1h.csv.gz")


def config(**model) -> dict:
    m = {"type": "garch", "history": [BTC, ETH], "since": "2021-01-01", "until": "2021-12-31"}
    m.update(model)
    return {
        "name": "vol",
        "seed": 5,
        "simulation": {"paths": 512, "horizon_days": 1, "steps_per_day": 24},
        "model": m,
        "account": {"wallet": 10000},
        "positions": [{"asset": "BTC", "side": "long", "notional": 20000, "leverage": 5}],
    }


@pytest.mark.parametrize(
    ("model", "prepare", "fragment"),
    [
        ({"history": None}, False, "model.history: required for model type garch"),
        ({"decay": 0.97}, False, "model.decay: only used by model type ewma, got type garch"),
        (
            {"type": "ewma", "start": "stationary"},
            False,
            "model.start: only used by model type garch and fhs, got type ewma",
        ),
        (
            {"type": "ewma", "decay": 0.97, "half_life_hours": 24},
            False,
            "model.decay: expected either decay or half_life_hours, got both",
        ),
        ({"start": "yesterday"}, False, "model.start"),
        ({"block_hours": 24}, False, "model.block_hours: only used by model type bootstrap"),
        (
            {"since": "2021-12-01"},
            True,
            "model.history: too short to fit model type garch: expected at least 1,000 returns",
        ),
        (
            {"type": "fhs", "simulation": None},
            False,
            "simulation.paths: required field is missing (model type fhs)",
        ),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(model, prepare, fragment):
    cfg = config(**{k: v for k, v in model.items() if k != "simulation"})
    if "simulation" in model:
        del cfg["simulation"]["paths"]
    cfg["model"] = {k: v for k, v in cfg["model"].items() if v is not None}
    message = error_of(cfg, prepare=prepare)
    assert fragment in message, message


def test_the_ewma_decay_is_a_daily_factor_applied_per_bar():
    daily = stress.load_config(config(type="ewma", decay=0.94))
    assert ewma_decay(daily, 1.0) == pytest.approx(0.94 ** (1 / 24))
    assert ewma_decay(daily, 24.0) == pytest.approx(0.94)
    half = stress.load_config(config(type="ewma", half_life_hours=48))
    assert ewma_decay(half, 1.0) ** 48 == pytest.approx(0.5)
    default = stress.load_config(config(type="ewma"))
    assert ewma_decay(default, 1.0) == ewma_decay(daily, 1.0)


@pytest.mark.parametrize("kind", ["garch", "fhs", "ewma"])
def test_a_run_fits_the_history_and_draws_from_the_fit(kind):
    # the fit is the history's: a path's first bar has the sd of the variance forecast at the
    # end of the window, and summary.json says which window and start were used
    extra = {} if kind == "ewma" else {"start": "current"}
    result = stress.run(config(type=kind, **extra), paths=256)
    info = result.to_dict()["history"]
    assert info["last_price"].startswith("2021-12-31")  # the window ends with 2021
    assert info.get("start", "current") == "current"
    spec = result.plan.spec.source
    first = np.diff(np.log(result.sample_prices[:, :2, 0]), axis=1).ravel()
    assert_mean_within_4se(first**2, spec.sigma2_start[0])
