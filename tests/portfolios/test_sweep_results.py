"""Sweep results and outputs: one row per (portfolio, mode), parameters as columns, every
portfolio on the same paths; the shipped example, speed, one expansion per prepare.

The base config is sweep_cases.sweep_config's: tests/support/bad_input.py's BASE with its book
replaced by a sweep of a BTC long (cross) and an ETH short (isolated), 20,000 each, 10x, wallet
10,000.
"""

from __future__ import annotations

import copy
import json
import time

import pandas as pd
import pytest
import yaml
from support.bad_input import BASE
from sweep_cases import BTC, ETH, EXAMPLE, expand, sweep_config

import stress
import stress.pipeline.prepare
from stress.config import Config
from stress.output.publish import write_outputs

# ---------------------------------------------------------------------------------------------
# Results: one row per (portfolio, mode), parameters as columns, every portfolio on the same paths


@pytest.fixture(scope="module")
def small_run():
    grid = {"leverage": [5, 5, 20], "side.btc": ["long", "short"]}
    return stress.run(sweep_config(name="s", grid=grid), paths=512)


def test_summary_has_the_parameter_columns(small_run):
    df = small_run.summary
    assert list(df.columns[:4]) == ["portfolio", "mode", "leverage", "side.btc"]
    assert df.columns.is_unique
    assert len(df) == 6 * 3
    assert list(df.groupby(["portfolio", "mode"]).size().unique()) == [1]
    row = df[(df.portfolio == "s-5") & (df["mode"] == "cross")].iloc[0]
    assert (row["leverage"], row["side.btc"]) == (20.0, "short")


def test_identical_points_give_identical_metrics(small_run):
    """Common random numbers: two copies of a portfolio see the same paths."""
    df = small_run.summary.drop(columns="portfolio")
    for side_offset in (0, 1):
        a = df.iloc[[3 * side_offset + m for m in range(3)]].reset_index(drop=True)
        b = df.iloc[[3 * (2 + side_offset) + m for m in range(3)]].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)


def test_a_generated_portfolio_matches_the_same_portfolio_run_alone(small_run):
    single = copy.deepcopy(BASE)
    single["positions"] = [{**BTC, "leverage": 20, "side": "short"}, {**ETH, "leverage": 20}]
    alone = stress.run(single, paths=512).summary.drop(columns="portfolio")
    swept = small_run.summary
    swept = swept[swept.portfolio == "s-5"].drop(columns=["portfolio", "leverage", "side.btc"])
    pd.testing.assert_frame_equal(swept.reset_index(drop=True), alone.reset_index(drop=True))


def test_outputs_carry_the_parameters(small_run, tmp_path):
    write_outputs(small_run, tmp_path)
    table = pd.read_parquet(tmp_path / "results.parquet")
    pd.testing.assert_frame_equal(table, small_run.summary)
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["sweep"]["requested"] == summary["sweep"]["kept"] == 6
    assert summary["sweep"]["parameters"] == ["leverage", "side.btc"]
    assert [p["params"] for p in summary["portfolios"]] == [
        {"leverage": lev, "side.btc": side} for lev in (5, 5, 20) for side in ("long", "short")
    ]


def test_portfolios_outside_a_sweep_have_no_parameters():
    res = stress.run(copy.deepcopy(BASE), paths=256)
    assert all(p["params"] == {} for p in res.to_dict()["portfolios"])
    assert "sweep" not in res.to_dict()
    assert list(res.summary.columns[:3]) == ["portfolio", "mode", "p_liquidation"]


# ---------------------------------------------------------------------------------------------
# The shipped example, speed, one expansion per prepare


def test_the_example_expands_to_over_a_thousand_portfolios():
    report = stress.prepare(EXAMPLE).sweep.report
    assert report.requested == 6 * 9 * 12 * 2
    assert report.kept >= 1000
    assert report.parameters == ("notional", "leverage", "isolated_share", "side.btc")


def test_ten_thousand_points_expand_quickly():
    grid = {"notional": list(range(20000, 70000, 500)), "leverage": list(range(5, 105))}
    cfg = sweep_config(grid=grid, wallet=100000)
    start = time.perf_counter()
    ports, report = expand(cfg)
    elapsed = time.perf_counter() - start
    assert report["requested"] == report["kept"] == len(ports) == 10000
    assert elapsed < 5.0, f"expanding 10,000 points took {elapsed:.2f} s"


def test_prepare_expands_the_sweep_once_and_does_not_change_the_config(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(sweep_config(grid={"leverage": [5, 10]})), encoding="utf-8")
    cfg = stress.load_config(path)
    calls = []
    real_expand = stress.pipeline.prepare.expand

    def counting_expand(config):
        calls.append(config)
        return real_expand(config)

    monkeypatch.setattr(stress.pipeline.prepare, "expand", counting_expand)
    plan = stress.prepare(cfg)
    assert len(calls) == 1
    assert len(plan.portfolios) == 2
    assert all(a is b for a, b in zip(plan.portfolios, plan.sweep.portfolios, strict=True))
    fresh = Config.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert fresh == cfg  # prepared, still the same config
    other = stress.prepare(cfg.model_copy(update={"modes": ["cross"]}))
    assert len(calls) == 2 and other.sweep is not plan.sweep
