"""Stress scenarios: shocks against closed forms, vol and correlation changes on the same random
numbers, an exact funding spike, an untouched base run and config errors with field paths.

The scenario tables of the report and of `stress compare` are tested in
tests/output/test_scenario_tables.py."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest
from support.factories import two_asset_config

import stress
from stress.margin.funding import market_rules, scenario_rules
from stress.output.publish import jsonable, write_outputs
from stress.paths.scenarios import price_factor, scenario_spec
from stress.pipeline.prepare import model_spec, time_grid

S0 = 100.0
LEVERAGES = (2.0, 5.0, 10.0, 20.0, 50.0)
FLAT_VOL = 1e-8  # vol must be > 0; at this level prices move by ~1e-9 over the horizon


def ladder_config(scenarios: list[dict], vol: float = FLAT_VOL, **overrides) -> dict:
    """One long position per portfolio, leverage 2 to 50, plus a short: isolated, no fee."""
    ports = [
        {
            "name": f"long-{lev:g}x",
            "account": {"wallet": 10_000.0},
            "positions": [
                {"id": "p", "asset": "X", "side": "long", "notional": 10_000.0, "leverage": lev}
            ],
        }
        for lev in LEVERAGES
    ]
    ports.append(
        {
            "name": "short-10x",
            "account": {"wallet": 10_000.0},
            "positions": [
                {"id": "p", "asset": "X", "side": "short", "notional": 10_000.0, "leverage": 10.0}
            ],
        }
    )
    cfg = {
        "name": "ladder",
        "seed": 3,
        "simulation": {"paths": 256, "horizon_days": 2.0, "steps_per_day": 24},
        "model": {"type": "gbm", "assets": {"X": {"price": S0, "vol": vol}}},
        "exchange": {
            "liquidation_fee": 0.0,
            "funding": {"rate": 0.0, "interval_hours": 8.0},
            "default_market": {"mmr": 0.005, "max_leverage": 125.0},
        },
        "portfolios": ports,
        "modes": ["isolated"],
        "scenarios": scenarios,
    }
    cfg.update(overrides)
    return cfg


def _by_portfolio(ports: list[dict]) -> dict[str, dict]:
    return {p["name"]: p["modes"]["isolated"] for p in ports}


# ---------------------------------------------------------------------------------------------
# Shocks


@pytest.fixture(scope="module")
def shocked():
    move = -0.12
    crash = {"asset": "X", "move": move, "over_hours": 2.0, "at_hour": 20.0}
    cfg = ladder_config(
        [
            {"name": "crash", "shock": crash},
            {"name": "wick", "shock": {**crash, "recover_hours": 6.0}},
        ]
    )
    return move, stress.prepare(cfg).config, stress.run(cfg)


def test_a_crash_liquidates_exactly_the_positions_whose_liquidation_price_it_crosses(shocked):
    move, cfg, res = shocked
    liq = stress.liquidation_prices(cfg).set_index("portfolio")["liquidation_price"]
    bottom = S0 * (1 + move)
    crash = _by_portfolio(res.to_dict()["scenarios"][0]["portfolios"])
    # a long is liquidated at or below its price, a short at or above it
    inside = {
        name
        for name, price in liq.items()
        if (price >= bottom if name.startswith("long") else price <= bottom)
    }
    assert inside == {"long-10x", "long-20x", "long-50x"}  # the ladder straddles the move
    for name, m in crash.items():
        assert not math.isclose(liq[name], bottom, rel_tol=1e-3)  # no knife-edge case
        assert m["p_liquidation"] == (1.0 if name in inside else 0.0), name
    base = _by_portfolio(res.to_dict()["portfolios"])
    assert all(m["p_liquidation"] == 0.0 for m in base.values())
    # a survivor holds the marked-down position: its loss is the move on its notional
    assert crash["long-5x"]["expected_loss"] == pytest.approx(-move * 10_000.0, rel=1e-6)
    assert crash["short-10x"]["expected_loss"] == pytest.approx(move * 10_000.0, rel=1e-6)


def test_a_wick_liquidates_on_the_way_and_ends_on_the_unshocked_path(shocked):
    move, cfg, res = shocked
    data = res.to_dict()
    crash = _by_portfolio(data["scenarios"][0]["portfolios"])
    wick = _by_portfolio(data["scenarios"][1]["portfolios"])
    base = _by_portfolio(data["portfolios"])
    grid = time_grid(cfg)
    factor = price_factor(cfg, cfg.scenarios[1], grid)[:, 0]
    assert factor[-1] == 1.0 and factor[0] == 1.0  # exactly the unshocked marks
    assert factor.min() == pytest.approx(1 + move, rel=1e-12)
    assert np.array_equal(factor[: 20 + 1], np.ones(21))  # untouched up to hour 20
    for name in wick:
        # liquidation is path-dependent: the wick liquidates whom the crash liquidates
        assert wick[name]["p_liquidation"] == crash[name]["p_liquidation"], name
        if wick[name]["p_liquidation"] == 0.0:  # survivors end where the base run ends
            assert wick[name]["expected_loss"] == pytest.approx(
                base[name]["expected_loss"], abs=1e-6
            )
        else:  # the liquidated keep nothing of their margin back (mmr taken, no fee)
            assert wick[name]["expected_loss"] > 0.9 * 10_000.0 / float(name[5:-1])


def test_shock_ramp_is_log_linear_and_shocks_compound():
    cfg = stress.load_config(
        ladder_config(
            [
                {
                    "name": "two",
                    "shocks": [
                        {"asset": "X", "move": -0.19, "over_hours": 2.0, "at_hour": 10.0},
                        {"asset": "X", "move": 0.5, "at_hour": 30.0},
                    ],
                }
            ]
        )
    )
    f = price_factor(cfg, cfg.scenarios[0], time_grid(cfg))[:, 0]
    assert f[10] == 1.0 and f[11] == pytest.approx(0.9, rel=1e-12)  # sqrt(0.81) half way
    assert f[12] == pytest.approx(0.81, rel=1e-12) and f[29] == pytest.approx(0.81, rel=1e-12)
    assert f[30] == pytest.approx(0.81 * 1.5, rel=1e-12)  # a gap: the mark at hour 30 moves


# ---------------------------------------------------------------------------------------------
# Model changes on the same random numbers


def _log_returns(prices: np.ndarray) -> np.ndarray:
    return np.log(prices[:, -1, :] / prices[:, 0, :])


def test_vol_multiplier_scales_the_log_return_sd_on_the_same_draws():
    k = 2.0
    cfg = two_asset_config(scenarios=[{"name": "vol", "vol_multiplier": k}])
    res = stress.run(cfg, paths=2048)
    base, vol = _log_returns(res.sample_prices), _log_returns(res.scenarios[0].sample_prices)
    n = base.shape[0]
    horizon = res.grid.n_steps * res.grid.dt
    for a, sigma in enumerate((0.7, 0.9)):
        sd = vol[:, a].std(ddof=1)
        expected = k * sigma * math.sqrt(horizon)
        assert abs(sd - expected) < 4 * expected / math.sqrt(2 * (n - 1))  # 4 SE of an sd
        # common random numbers: the same normals, so the ratio is k up to rounding
        assert sd / base[:, a].std(ddof=1) == pytest.approx(k, rel=1e-9)


def test_correlation_toward_one_gives_the_pushed_sample_correlation():
    w, rho = 0.5, 0.2
    cfg = two_asset_config(
        scenarios=[{"name": "corr", "correlation_toward_one": w}],
        model={
            "type": "gbm",
            "assets": {
                "BTC": {"price": 60_000.0, "vol": 0.7},
                "ETH": {"price": 3_000.0, "vol": 0.9},
            },
            "correlation": [[1.0, rho], [rho, 1.0]],
        },
    )
    loaded = stress.prepare(cfg).config
    pushed = scenario_spec(model_spec(loaded), loaded.scenarios[0]).corr
    assert np.allclose(pushed, [[1.0, 0.6], [0.6, 1.0]], atol=1e-15)
    res = stress.run(cfg, paths=1024)
    inc = np.diff(np.log(res.scenarios[0].sample_prices), axis=1).reshape(-1, 2)
    target = (1 - w) * rho + w
    se = (1 - target**2) / math.sqrt(inc.shape[0])
    assert abs(np.corrcoef(inc.T)[0, 1] - target) < 4 * se


# ---------------------------------------------------------------------------------------------
# Funding


def test_a_funding_spike_charges_its_rate_at_the_boundaries_in_its_window():
    base_rate, spike = 0.0001, 0.003
    cfg = ladder_config(
        [{"name": "spike", "funding_spike": {"rate": spike, "from_hour": 12.0, "hours": 24.0}}],
        exchange={
            "liquidation_fee": 0.0,
            "funding": {"rate": base_rate, "interval_hours": 8.0},
            "default_market": {"mmr": 0.005, "max_leverage": 125.0},
        },
    )
    res = stress.run(cfg)
    # 2 days, a boundary every 8 h: 8, 40, 48 at the base rate, 16, 24, 32 at the spike rate
    rules = res.scenarios[0].rules.funding
    assert rules[[8, 40, 48]].tolist() == [base_rate] * 3
    assert rules[[16, 24, 32]].tolist() == [spike] * 3
    assert np.count_nonzero(rules) == 6
    paid = 10_000.0 * (3 * base_rate + 3 * spike)
    spiked = _by_portfolio(res.to_dict()["scenarios"][0]["portfolios"])
    base = _by_portfolio(res.to_dict()["portfolios"])
    assert spiked["long-2x"]["expected_loss"] == pytest.approx(paid, abs=1e-4)
    assert spiked["short-10x"]["expected_loss"] == pytest.approx(-paid, abs=1e-4)  # shorts earn
    assert base["long-2x"]["expected_loss"] == pytest.approx(6 * 10_000.0 * base_rate, abs=1e-4)


def test_a_spike_window_counts_boundaries_not_steps():
    """Boundaries at hour t with from_hour <= t < from_hour + hours, on a 3-hour step grid."""
    cfg = stress.load_config(
        ladder_config(
            [{"name": "s", "funding_spike": {"rate": 0.01, "from_hour": 16.0, "hours": 8.0}}],
            simulation={"paths": 256, "horizon_days": 2.0, "steps_per_day": 5},  # 4.8 h steps
        )
    )
    grid = time_grid(cfg)

    funding = scenario_rules(cfg, cfg.scenarios[0], market_rules(cfg, grid), grid).funding
    assert funding.sum() == pytest.approx(0.01)  # only the boundary at hour 16, not 24
    assert funding[4] == 0.01  # hour 16 falls in the step (14.4, 19.2]


# ---------------------------------------------------------------------------------------------
# The base run, outputs


def _without_run_info(data: dict) -> dict:
    data = copy.deepcopy(jsonable(data))
    data.pop("run_info")
    data.pop("scenarios", None)
    return data


def test_scenarios_leave_the_base_results_unchanged(tmp_path):
    plain = two_asset_config()
    with_sc = two_asset_config(
        scenarios=[
            {"name": "crash", "shock": {"asset": "ETH", "move": -0.3, "at_hour": 5.0}},
            {"name": "vol", "vol_multiplier": 3.0, "correlation_toward_one": 1.0},
        ]
    )
    a, b = stress.run(plain, paths=512), stress.run(with_sc, paths=512)
    assert _without_run_info(a.to_dict()) == _without_run_info(b.to_dict())
    assert np.array_equal(a.sample_prices, b.sample_prices)
    write_outputs(b, tmp_path)
    table = pd.read_parquet(tmp_path / "results.parquet")
    assert table["scenario"].tolist() == ["base"] * 3 + ["crash"] * 3 + ["vol"] * 3
    pd.testing.assert_frame_equal(table[table.scenario == "base"], a.summary)
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in summary["scenarios"]] == ["crash", "vol"]
    assert summary["scenarios"][0]["description"].startswith("ETH -30.0% as a gap at hour 5")
    assert summary["scenarios"][1]["portfolios"][0]["modes"].keys() == {
        "isolated",
        "cross",
        "as_configured",
    }
    assert "scenarios" not in a.to_dict()


# ---------------------------------------------------------------------------------------------
# Bad input

SHOCK = {"asset": "BTC", "move": -0.2, "at_hour": 1.0}


@pytest.mark.parametrize(
    ("scenarios", "message"),
    [
        (
            [{"name": "a", "shock": {**SHOCK, "asset": "SOL"}}],
            "scenarios[0].shock.asset: expected an asset of model.assets (BTC, ETH), got 'SOL'",
        ),
        (
            [{"name": "a", "shock": {**SHOCK, "move": -1.0}}],
            "scenarios[0].shock.move: expected a number > -1, got -1.0",
        ),
        (
            [{"name": "a", "shocks": [SHOCK, {**SHOCK, "over_hours": -2.0}]}],
            "scenarios[0].shocks[1].over_hours: expected a number >= 0, got -2.0",
        ),
        (
            [{"name": "a", "shock": {**SHOCK, "recover_hours": -1.0}}],
            "scenarios[0].shock.recover_hours: expected a number >= 0, got -1.0",
        ),
        (
            [{"name": "a", "shock": {**SHOCK, "at_hour": 47.5, "over_hours": 1.0}}],
            "scenarios[0].shock.at_hour: expected at_hour + over_hours <= the horizon (48 h), "
            "got 47.5 + 1",
        ),
        (
            [{"name": "a", "correlation_toward_one": 1.5}],
            "scenarios[0].correlation_toward_one: expected a number <= 1, got 1.5",
        ),
        (
            [{"name": "a", "correlation_toward_one": -0.1}],
            "scenarios[0].correlation_toward_one: expected a number >= 0, got -0.1",
        ),
        (
            [{"name": "a", "vol_multiplier": 0.0}],
            "scenarios[0].vol_multiplier: expected a number > 0, got 0.0",
        ),
        (
            [{"name": "a", "vol_multiplier": 2.0}, {"name": "a", "vol_multiplier": 3.0}],
            "scenarios[1].name: duplicate scenario name 'a' (also scenarios[0])",
        ),
        (
            [{"name": "base", "vol_multiplier": 2.0}],
            "scenarios[0].name: expected a name other than 'base'",
        ),
        (
            [{"name": "a"}],
            "scenarios[0]: expected at least one of shock, shocks, vol_multiplier, "
            "correlation_toward_one, funding_spike, liquidity_multiplier, adl, got none",
        ),
        (
            [{"name": "a", "funding_spike": {"rate": 0.01, "from_hour": 12.0, "hours": -1.0}}],
            "scenarios[0].funding_spike.hours: expected a number > 0, got -1.0",
        ),
        (
            [{"name": "a", "funding_spike": {"rate": 0.01, "from_hour": 48.0, "hours": 8.0}}],
            "scenarios[0].funding_spike.from_hour: expected an hour before the horizon (48 h)",
        ),
        (
            [{"name": "a", "vol_multplier": 2.0}],
            "scenarios[0].vol_multplier: unknown key",
        ),
    ],
)
def test_bad_scenarios_name_the_field(scenarios, message):
    with pytest.raises(stress.ConfigError) as info:
        stress.prepare(two_asset_config(scenarios=scenarios))
    text = str(info.value)
    assert "\n" not in text
    assert message in text, text


def test_correlation_push_needs_two_assets():
    cfg = ladder_config([{"name": "c", "correlation_toward_one": 0.5}])
    with pytest.raises(stress.ConfigError, match=r"scenarios\[0\]\.correlation_toward_one: needs"):
        stress.prepare(cfg)
