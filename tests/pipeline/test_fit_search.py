"""What would fit the risk capital: the search runs smaller books on the same paths, and what it
reports holds when that book is run on its own."""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
import yaml
from conftest import ROOT
from support.factories import two_asset_config

import stress
from stress.analysis.paired import per_path
from stress.pipeline.fit_search import FIT_PATHS, SCALES, at_leverage, fit_sentence, scaled

RISK_CAPITAL = 3_000.0
PATHS = 4_000  # the search runs the first FIT_PATHS of them


def hedge(scale: float = 1.0, risk_capital: float | None = RISK_CAPITAL) -> dict:
    """The shipped 20x hedge, its notionals times `scale`."""
    cfg = yaml.safe_load((ROOT / "configs" / "btc_eth_hedge.yaml").read_text())
    cfg["account"]["risk_capital"] = risk_capital
    for p in cfg["positions"]:
        p["notional"] *= scale
    return cfg


@functools.cache
def verdict() -> dict:
    return stress.run(hedge(), paths=PATHS).verdicts[0]


def _es_and_se(res, mode: str) -> tuple[float, float]:
    """A book's ES99 and its standard error (from the ES influence function)."""
    (k,) = [k for k in res.books_of(0) if res.layout.books[k].mode == mode]
    x = per_path(res, k, "es_99")
    return res.metrics[k]["es_99"], float(np.std(x, ddof=1) / math.sqrt(res.paths))


def test_no_mode_fits_and_the_search_finds_a_smaller_notional():
    v = verdict()
    assert v["decided_by"] == "risk_capital" and v["recommended"] is None
    fit = v["fit"]
    assert fit["paths"] == FIT_PATHS
    found = fit["notional"]
    assert found is not None and found["scale"] < 1.0 and found["es_99"] <= RISK_CAPITAL
    assert "What would fit (a quick search on 2,000 of the same paths)" in v["headline"]
    assert f"{found['notional']:,.0f} USDT" in v["headline"]


def test_the_found_notionals_fit_when_run_alone_and_the_next_larger_does_not():
    fit = verdict()["fit"]
    for e in [fit["notional"], *fit["by_mode"]["notional"].values()]:
        # the same numbers on the same paths: the search's books are the run's first paths
        same = stress.run(hedge(e["scale"], None), paths=FIT_PATHS, objective="es_99")
        assert _es_and_se(same, e["mode"])[0] == pytest.approx(e["es_99"], rel=1e-9)
        # on twice as many paths (the same seed), still within the risk capital, up to noise
        more = stress.run(hedge(e["scale"], None), paths=PATHS, objective="es_99")
        es, se = _es_and_se(more, e["mode"])
        assert es <= RISK_CAPITAL + 3 * se
        # the largest: one step up the grid, that mode does not fit on the searched paths
        up = SCALES[SCALES.index(e["scale"]) - 1] if e["scale"] != SCALES[0] else 1.0
        bigger = stress.run(hedge(up, None), paths=FIT_PATHS, objective="es_99")
        assert _es_and_se(bigger, e["mode"])[0] > RISK_CAPITAL


def test_variants_scale_the_notional_or_lower_the_leverage():
    plan = stress.prepare(hedge())
    port = plan.portfolios[0]
    half = scaled(port, 0.5)
    for p, q in zip(port.positions, half.positions, strict=True):
        assert q.entry_notional == pytest.approx(0.5 * p.entry_notional)
        assert q.margin == pytest.approx(0.5 * p.margin) and q.leverage == p.leverage
    low = at_leverage(port, 5)
    for p, q in zip(port.positions, low.positions, strict=True):
        assert q.entry_notional == p.entry_notional and q.leverage == 5.0
        assert q.margin == pytest.approx(4 * p.margin)  # 20x -> 5x posts four times as much
    assert half.risk_capital is None and low.risk_capital is None  # never searched again


def test_leverage_search_lists_only_what_can_be_opened():
    # 12x posts 2 x 5,000 = 10,000: the wallet; 10x and below cannot be opened in isolated
    fit = verdict()["fit"]
    assert fit["leverages"] == [15.0, 12.0]
    # isolated at 15x loses up to its 8,000 of margin; cross's leverage changes nothing
    assert fit["leverage"] is None
    assert "at today's notional, no leverage down to 12x fits" in verdict()["headline"]


def test_the_sentence_names_what_fits():
    fit = {
        "paths": 2_000,
        "notional": {"scale": 0.5, "notional": 60_000.0, "mode": "cross", "es_99": 2_900.0,
                     "p_liquidation": 0.004},
        "leverage": {"leverage": 5.0, "mode": "isolated", "es_99": 2_500.0,
                     "p_liquidation": 0.01},
        "by_mode": {"notional": {}, "leverage": {}},
        "smallest_scale": SCALES[-1],
        "leverages": [10.0, 5.0],
    }  # fmt: skip
    text = fit_sentence(fit, 120_000.0)
    assert "a gross notional of 60,000 USDT (50 % of today's 120,000 USDT) fits in cross" in text
    assert "leverage 5x fits in isolated (ES99 2,500 USDT" in text
    nothing = {**fit, "notional": None, "leverage": None, "leverages": []}
    text = fit_sentence(nothing, 120_000.0)
    assert "no notional down to 1.2 % of today's fits" in text
    assert "no lower leverage can be opened" in text


def test_scenarios_and_sweeps_are_not_searched():
    cfg = two_asset_config(account={"wallet": 10_000.0, "risk_capital": 100.0})
    cfg["scenarios"] = [{"name": "vol", "vol_multiplier": 2.0}]
    res = stress.run(cfg, paths=512)
    assert res.verdicts[0]["recommended"] is None and res.verdicts[0]["fit"] is not None
    assert all(v["fit"] is None for sc in res.scenarios for v in sc.verdicts)
    base = {"account": cfg.pop("account"), "positions": cfg.pop("positions")}
    cfg.pop("scenarios")
    cfg["sweep"] = {"name": "s", "base": base, "grid": {"leverage": [10, 20]}}
    swept = stress.run(copy.deepcopy(cfg), paths=256)
    assert all(v["recommended"] is None and v["fit"] is None for v in swept.verdicts)
