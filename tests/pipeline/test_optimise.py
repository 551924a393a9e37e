"""`stress optimise` (stress.pipeline.optimise): the split with the lowest liquidation
probability within the risk capital, every candidate on the same paths.

Small books, a few thousand paths and fixed seeds keep each search to a second or two; the
statements are about the search and its rule, which hold on any seed, and tolerances come from
the runs' own paired intervals.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

import stress
from stress.config.optimise import Optimise
from stress.output.optimise_config import best_yaml
from stress.pipeline.optimise_candidates import (
    Hold,
    Space,
    coarse,
    finer,
    grid,
    references,
)

HEDGE = ROOT / "configs" / "btc_eth_hedge.yaml"


def twins(risk_capital: float, rounds: int = 2) -> dict:
    """Two independent, identical longs: same price, vol and size, correlation 0."""
    asset = {"price": 100.0, "vol": 1.2}
    return {
        "name": "twins",
        "seed": 5,
        "simulation": {"paths": 2048, "horizon_days": 2, "steps_per_day": 48},
        "model": {
            "type": "gbm",
            "assets": {"A": dict(asset), "B": dict(asset)},
            "correlation": [[1.0, 0.0], [0.0, 1.0]],
        },
        "account": {"wallet": 5000, "risk_capital": risk_capital},
        "positions": [
            {"id": "a", "asset": "A", "side": "long", "notional": 10000, "leverage": 10},
            {"id": "b", "asset": "B", "side": "long", "notional": 10000, "leverage": 10},
        ],
        "optimise": {"margin": {"min": 1, "max": 2.5}, "steps": 4, "rounds": rounds},
    }


def mirror(holds: tuple[Hold, ...]) -> tuple[Hold, ...]:
    return (holds[1], holds[0])


# ---------------------------------------------------------------------------------------------
# The candidates


SPACE = Space(
    searched=(0, 1, 2),
    configured=(Hold("cross", None, 10.0), Hold("isolated", 2.0, 5.0), Hold("cross", None, 20.0)),
    margin=(1.0, 4.0),
    leverage=None,
    steps=4,
)


def test_the_coarse_round_is_every_combination_within_the_cap():
    got = coarse(SPACE, 1000)
    assert len(got) == 5**3 == len(set(got))
    for arr in got:
        for hold, conf in zip(arr, SPACE.configured, strict=True):
            assert hold.leverage == conf.leverage  # leverage not searched: kept
            assert hold.mode == "cross" or hold.multiple in (1.0, 2.0, 3.0, 4.0)


def test_past_the_cap_isolated_positions_share_one_multiple_then_are_sampled():
    shared = coarse(SPACE, 100)  # 125 combinations > 100: every subset x 4 multiples + all cross
    assert len(shared) == (2**3 - 1) * 4 + 1
    for arr in shared:
        assert len({h.multiple for h in arr if h.mode == "isolated"}) <= 1
    sampled = coarse(SPACE, 10)
    assert len(sampled) <= 10 and len(set(sampled)) == len(sampled)
    assert set(sampled) <= set(shared)


def test_a_finer_round_halves_the_spacing_around_the_centre_within_bounds():
    centre = (Hold("isolated", 1.0, 10.0), Hold("isolated", 3.0, 5.0), Hold("cross", None, 20.0))
    got = finer(SPACE, centre, 1, 1000)
    assert centre in got
    assert {a[0].multiple for a in got} == {1.0, 1.5}  # 0.5 is below margin.min
    assert {a[1].multiple for a in got} == {2.5, 3.0, 3.5}
    assert all(a[2] == centre[2] for a in got)  # a cross position stays cross
    assert {a[1].multiple for a in finer(SPACE, centre, 2, 1000)} == {2.75, 3.0, 3.25}
    assert finer(SPACE, references(SPACE)["cross"], 1, 1000) == []  # nothing to refine


def test_searched_leverage_sets_the_grid_and_cross_positions_keep_theirs_within_bounds():
    space = Space((0,), (Hold("cross", None, 50.0),), (1.0, 2.0), (5.0, 20.0), 3)
    got = coarse(space, 100)
    assert got[0] == (Hold("cross", None, 20.0),)  # 50x moved into the bounds
    assert {(h.multiple, h.leverage) for (h,) in got[1:]} == {
        (m, lev) for m in (1.0, 1.5, 2.0) for lev in (5.0, 12.5, 20.0)
    }
    assert grid(2.0, 2.0, 5) == [2.0]


def test_references_are_the_pure_modes_and_the_config():
    refs = references(SPACE)
    assert all(h.mode == "cross" for h in refs["cross"])
    assert all(
        h == Hold("isolated", 1.0, c.leverage)
        for h, c in zip(refs["isolated"], SPACE.configured, strict=True)
    )
    assert refs["as_configured"] == SPACE.configured


# ---------------------------------------------------------------------------------------------
# The search


@pytest.fixture(scope="module")
def twin_search():
    return stress.optimise(twins(3000))


def test_two_independent_identical_positions_have_a_symmetric_optimum(twin_search):
    res = twin_search
    assert res.best is not None and res.best.fits
    tied = {c.holds for c in res.tied}
    # the mirror image of the pick (the positions swapped) is as good: the pick itself when it
    # is symmetric, else a candidate tied with it within noise
    assert mirror(res.best.holds) == res.best.holds or mirror(res.best.holds) in tied
    # and every tied candidate's mirror image was run and fits too
    by_holds = {c.holds: c for c in res.candidates}
    for c in res.tied:
        assert by_holds[mirror(c.holds)].fits


def test_the_pick_follows_the_rule(twin_search):
    res = twin_search
    m = res.best.metrics
    assert m["es_99"] <= res.risk_capital
    for c in res.candidates:  # nothing that fits is distinguishably safer
        if c.fits and c.holds not in {t.holds for t in res.tied}:
            assert c.metrics["p_liquidation"] >= m["p_liquidation"]
    lo, hi = m["p_liquidation_ci"]
    assert lo <= m["p_liquidation"] <= hi
    assert res.references["cross"].metrics["es_99"] > res.risk_capital  # cross does not fit


def test_a_book_where_pure_cross_is_optimal_finds_it():
    res = stress.optimise(twins(4000))  # cross fits: it almost never liquidates
    assert res.best.holds == res.references["cross"].holds
    assert all(c.holds != res.best.holds for c in res.tied)


def test_a_book_where_pure_isolated_is_optimal_finds_it():
    # within the pure isolated book's own ES99 nothing with more margin or a cross bucket fits
    first = stress.optimise(twins(3000, rounds=1))
    budget = first.references["isolated"].metrics["es_99"]
    res = stress.optimise(twins(budget, rounds=1))
    assert res.best.holds == res.references["isolated"].holds
    assert [c.holds for c in res.candidates if c.fits] == [res.best.holds]


def test_the_shipped_hedge_reports_the_best_within_the_budget():
    res = stress.optimise(HEDGE, paths=2048, risk_capital=9000)
    assert res.best is not None
    assert res.best.metrics["es_99"] <= 9000
    # cross would almost never liquidate, but loses the whole wallet in the tail
    assert not res.references["cross"].fits
    assert res.best.metrics["p_liquidation"] < res.references["isolated"].metrics["p_liquidation"]
    data = res.to_dict()
    assert data["best"]["es_99"] == res.best.metrics["es_99"]
    assert {p["id"] for p in data["best"]["positions"]} == {"eth-long", "btc-short"}


def test_the_shipped_hedge_says_when_nothing_fits():
    res = stress.optimise(HEDGE, paths=1024, risk_capital=5000)
    assert res.best is None and res.tied == ()
    assert all(not c.fits for c in res.candidates)
    data = res.to_dict()
    assert data["best"] is None and data["tied"] == []
    assert data["verdict"].startswith("No arrangement fits the risk capital of 5,000 USDT")
    assert res.best_config() is None


def test_the_shipped_hedge_as_shipped_gets_an_answer_either_way():
    res = stress.optimise(HEDGE, paths=1024)
    assert res.risk_capital == stress.load_config(HEDGE).account.risk_capital
    if res.best is None:
        assert not any(c.fits for c in res.candidates)
        assert res.verdict().startswith("No arrangement fits")
    else:
        assert res.best.fits and res.verdict().startswith("Hold ")
        tied = {c.holds for c in res.tied}
        for c in res.candidates:
            if c.fits and c.holds not in tied:
                assert c.metrics["p_liquidation"] >= res.best.metrics["p_liquidation"]


def test_a_book_without_a_risk_capital_is_one_line_naming_the_field():
    cfg = yaml.safe_load(HEDGE.read_text())
    cfg["account"].pop("risk_capital", None)
    with pytest.raises(stress.ConfigError) as info:
        stress.optimise(cfg, paths=256)
    text = str(info.value)
    assert text.startswith("<config>: account.risk_capital: required by stress optimise"), text
    assert "\n" not in text
    cfg["portfolios"] = [{"name": "one", "account": cfg.pop("account")}]
    cfg["portfolios"][0]["positions"] = cfg.pop("positions")
    with pytest.raises(stress.ConfigError) as info:
        stress.optimise(cfg, paths=256)
    assert "<config>: portfolios[0].account.risk_capital: required" in str(info.value)
    assert stress.optimise(cfg, paths=256, risk_capital=10000).best is not None


def test_the_written_config_reproduces_the_pick_exactly(twin_search, tmp_path):
    res = twin_search
    path = tmp_path / "best.yaml"
    path.write_text(best_yaml(res, path), encoding="utf-8")
    cfg = stress.load_config(path)
    assert cfg.optimise is None and cfg.account.risk_capital == res.risk_capital
    run = stress.run(path, paths=res.paths, seed=res.seed)
    k = [b.mode for b in run.layout.books].index("as_configured")
    assert run.metrics[k]["p_liquidation"] == res.best.metrics["p_liquidation"]
    assert run.metrics[k]["es_99"] == res.best.metrics["es_99"]
    for pos, hold in zip(cfg.positions, res.best.holds, strict=True):
        assert pos.margin_mode == hold.mode


def test_a_config_without_a_block_uses_the_defaults():
    cfg = twins(3000, rounds=1)
    del cfg["optimise"]
    res = stress.optimise(cfg, paths=512)
    assert res.settings == Optimise()
    coarse_round = [c for c in res.candidates if c.round == 1]
    multiples = {h.multiple for c in coarse_round for h in c.holds if h.mode == "isolated"}
    assert multiples == {1.0, 2.0, 3.0, 4.0}  # margin: {min: 1, max: 4}, steps: 4
    assert [r["kind"] for r in res.rounds] in (["coarse", "finer"], ["coarse"])


def test_only_the_searched_positions_change_and_rules_are_carried(tmp_path):
    cfg = twins(3500, rounds=1)
    cfg["positions"][0]["margin_mode"] = "isolated"
    cfg["positions"][0]["margin"] = 1200
    cfg["positions"][1]["stop_loss"] = {"margin_fraction": 0.9}
    cfg["optimise"]["positions"] = ["b"]
    cfg["scenarios"] = [{"name": "vol-up", "vol_multiplier": 1.5}]
    res = stress.optimise(cfg, paths=512)
    searched = {c.holds[0] for c in res.candidates if c.name.startswith("r1-")}
    pure = {res.references[k].holds[0] for k in ("cross", "isolated")}
    assert searched - pure == {Hold("isolated", 1.2, 10.0)}  # a is never searched
    assert any("scenario" in note for note in res.notes)
    written = res.best_config(tmp_path)
    assert written["positions"][1]["stop_loss"] == {"margin_fraction": 0.9}
    assert written["scenarios"] == cfg["scenarios"]  # kept for `stress run`


def test_every_candidate_of_a_round_shares_the_paths():
    # the same arrangement in two rounds (a reference) has the same numbers, bit for bit
    res = stress.optimise(twins(3000), paths=1024)
    first = {c.holds: c for c in res.candidates if c.round == 1}
    again = [c for c in res.candidates if c.round > 1]
    assert res.rounds[-1]["round"] > 1
    ref = res.references["isolated"]
    assert ref.round == res.rounds[-1]["round"]
    assert ref.metrics == first[ref.holds].metrics
    assert all(c.holds not in first for c in again)  # the list holds each arrangement once


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"risk_capital": -5}, "risk_capital: expected an amount of USDT above 0"),
        ({"risk_capital": float("nan")}, "risk_capital: expected an amount of USDT above 0"),
        ({"paths": 0}, "paths: expected an integer from 1"),
    ],
)
def test_bad_overrides_are_one_line(kwargs, fragment):
    with pytest.raises(stress.ConfigError) as info:
        stress.optimise(twins(3000), **kwargs)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_sweep_is_refused_naming_it():
    sweep = yaml.safe_load((ROOT / "configs" / "sweep_leverage_allocation.yaml").read_text())
    sweep = copy.deepcopy(sweep)
    with pytest.raises(stress.ConfigError) as info:
        stress.optimise(sweep, risk_capital=5000)
    assert "sweep: not searched by stress optimise" in str(info.value)


def test_the_example_gives_a_hybrid_within_its_risk_capital():
    res = stress.optimise(ROOT / "configs" / "hybrid_optimise.yaml", paths=2048)
    modes = {p.id: h.mode for p, h in zip(res.positions, res.best.holds, strict=True)}
    assert modes == {"eth-long": "cross", "btc-short": "cross", "sol-long": "isolated"}
    assert not res.references["cross"].fits
    assert res.best.metrics["p_liquidation"] < res.references["isolated"].metrics["p_liquidation"]


def test_the_result_is_plain_json(twin_search):
    import json

    data = json.loads(json.dumps(twin_search.to_dict(), allow_nan=False))
    assert set(data) >= {"best", "tied", "frontier", "pure_modes", "as_configured", "search"}
    best = data["best"]
    assert set(best) >= {"positions", "p_liquidation", "p_liquidation_ci", "es_99", "p_ruin"}
    assert set(best["positions"][0]) >= {"id", "margin_mode", "margin"}
    es = [e["es_99"] for e in data["frontier"]]
    assert es == sorted(es)
    p = [e["p_liquidation"] for e in data["frontier"]]
    assert p == sorted(p, reverse=True) and len(set(p)) == len(p)


def test_history_files_are_named_from_the_written_config(tmp_path):
    cfg = stress.load_config(ROOT / "configs" / "bootstrap_btc_eth_hedge.yaml")
    res = stress.optimise(cfg, paths=256, risk_capital=20000)
    folder = tmp_path / "deep" / "er"
    folder.mkdir(parents=True)
    written = res.best_config(folder)
    for name in written["model"]["history"]:
        assert (folder / name).resolve().is_file()
    assert all(not Path(name).is_absolute() for name in written["model"]["history"])


def test_a_round_past_the_per_path_budget_holds_fewer_candidates(monkeypatch):
    import stress.pipeline.optimise as search

    per_book = 28 + 2 * 2  # the per-path results of a book of two positions, bytes a path
    monkeypatch.setattr(search, "KEEP_BYTES", 12 * per_book * 1024)  # room for about 12
    res = stress.optimise(twins(3000, rounds=1), paths=1024)
    first = res.rounds[0]
    assert first["reasons"]["memory: candidates past the per-path results budget"] > 0
    assert 3 < first["candidates"] <= 12
    assert all(res.references[k] is not None for k in ("cross", "isolated", "as_configured"))
    monkeypatch.setattr(search, "KEEP_BYTES", 2 * per_book * 1024)  # not even the references
    with pytest.raises(stress.ConfigError, match=r"^paths: expected fewer paths"):
        stress.optimise(twins(3000, rounds=1), paths=1024)
