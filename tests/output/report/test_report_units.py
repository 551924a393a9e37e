"""The report's building blocks: number formats, escaping, and the summaries figures draw
(the run's all-path statistics and the kept per-path arrays must tell the same story)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from support.factories import two_asset_config

import stress
from stress.analysis import detail
from stress.analysis.metrics import wilson_bounds, wilson_interval
from stress.output.report import figure, fmt, overview, series
from stress.output.report.html import render_report


def test_script_json_cannot_end_its_script_element():
    obj = {"id": "</script><script>alert(1)</script>", "c": "<!-- & \u2028", "x": [1.5, None]}
    text = fmt.script_json(obj)
    assert not set("<>&") & set(text) and "\u2028" not in text
    assert json.loads(text) == obj


def test_label_escapes_markup_but_not_quotes():
    assert fmt.label('<b>"x" & y</b>') == '&lt;b&gt;"x" &amp; y&lt;/b&gt;'
    assert fmt.label(3) == "3"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.9728, "97.28 %"), (0.0, "0.00 %"), (0.00001, "<0.01 %"), (None, "n/a"), (1.0, "100.00 %")],
)
def test_pct(value, text):
    assert fmt.pct(value) == text


def test_money_price_hours():
    assert fmt.money(10_000) == "10,000.00" and fmt.money(float("nan")) == "n/a"
    assert fmt.price(62736.3) == "62,736" and fmt.price(145.453) == "145.45"
    assert fmt.price(0.123456) == "0.1235" and fmt.price(None) == "none"
    assert fmt.hours(24.75) == "24.8 h" and fmt.hours(138.8) == "5.8 d"
    assert fmt.metric_difference("p_ruin", -0.017) == "-1.70 pts"
    assert fmt.metric_difference("es_99", -4000) == "-4,000.00"


def test_time_axis_keeps_both_ends_and_few_points():
    axis = detail.time_axis(2016, 5 / 60)
    assert axis.steps[0] == 0 and axis.steps[-1] == 2016 and len(axis.steps) <= 301
    assert axis.unit == "days" and axis.x[-1] == pytest.approx(7.0)
    short = detail.time_axis(48, 0.5)
    assert short.unit == "hours" and list(short.steps) == list(range(49))


def test_stagger_separates_close_labels():
    assert figure.stagger([0.0, 0.01, 0.5, 0.51, 0.52], 1.0, 0.1) == [0, 1, 0, 1, 2]


def test_riskiest_is_deterministic_and_in_config_order():
    def port(name, es, p):
        return {
            "name": name,
            "wallet": 100.0,
            "modes": {"cross": {"es_99": es, "p_liquidation": p}},
        }

    ports = [port("a", 50, 0.1), port("b", 90, 0.2), port("c", 90, 0.3), port("d", 10, 0.9)]
    assert overview.riskiest(ports, 2) == [1, 2]
    assert overview.riskiest(ports, 9) == [0, 1, 2, 3]
    assert "2 riskiest of 4" in overview.detail_reason(ports, [1, 2])


@pytest.fixture(scope="module")
def pair():
    """A run whose books liquidate often enough to have something to count."""
    cfg = two_asset_config()
    for p in cfg["positions"]:
        p.update(leverage=20, side="long")  # two longs: the cross bucket goes down too
    res = stress.run(cfg, paths=1024)
    assert res.stats is not None and res.kept_paths == res.paths
    return res, dataclasses.replace(res, stats=None)  # the same run, per-path arrays only


def test_liquidation_curve_and_triggers_agree_between_stats_and_paths(pair):
    with_stats, per_path = pair
    for k in range(with_stats.layout.n_books):
        a, n_a = series.cumulative_liquidation(with_stats, k)
        b, n_b = series.cumulative_liquidation(per_path, k)
        assert n_a == n_b == with_stats.paths and np.array_equal(a, b)
        assert a[-1] / n_a == pytest.approx(with_stats.metrics[k]["p_liquidation"])
        n_liq, counts = series.trigger_counts(with_stats, k)
        assert (n_liq, counts) == series.trigger_counts(per_path, k)
        if counts:
            assert sum(counts.values()) == n_liq  # one leg sets off each liquidation
    assert any(series.trigger_counts(with_stats, k)[0] for k in range(with_stats.layout.n_books))


def test_loss_histogram_from_stats_matches_the_paths(pair):
    with_stats, per_path = pair
    books = list(range(with_stats.layout.n_books))
    edges, shares, lumped = series.loss_histogram(with_stats, books)
    assert len(edges) <= series.LOSS_BINS + 2
    beyond = [(series.book_loss(per_path, k) < edges[0]).mean() for k in books]
    assert lumped == pytest.approx(max(beyond)) and lumped > 0  # big profits do happen here
    for k, share in zip(books, shares, strict=True):
        assert share.sum() == pytest.approx(1.0)
        loss = series.book_loss(per_path, k)
        # the share below every coarse edge matches the paths (profits beyond the first edge
        # are in the first bin), up to a path on a bin boundary
        cdf = np.cumsum(share)
        below = np.array([(loss < e).mean() for e in edges[1:]])
        assert np.abs(cdf - below).max() <= 2.0 / with_stats.paths
    edges_b, shares_b, lumped_b = series.loss_histogram(per_path, books)
    assert lumped_b == 0.0
    assert [s.sum() for s in shares_b] == pytest.approx([1.0] * len(books))


def test_the_run_holds_the_equity_fans_of_the_books_the_report_details(pair):
    res, _ = pair
    bands = res.detail
    scores = [
        detail.risk_score(port.wallet, [res.metrics[k] for k in res.books_of(i)])
        for i, port in enumerate(res.portfolios)
    ]
    assert bands.portfolios == tuple(detail.select_detail(scores))
    axis = detail.time_axis(res.grid.n_steps, res.grid.step_hours)
    assert np.array_equal(bands.axis.steps, axis.steps) and bands.axis.unit == axis.unit
    assert set(bands.equity) == {(i, m) for i in bands.portfolios for m in res.config.modes}
    equity = res.sample_equity()  # every book re-marked along the sampled paths
    for k, book in enumerate(res.layout.books):
        if book.portfolio in bands.portfolios:
            fan = np.quantile(equity[:, k, axis.steps], detail.FAN_QUANTILES, axis=0)
            assert np.allclose(bands.equity[(book.portfolio, book.mode)], fan, rtol=1e-12)
    assert all(sc.detail is None for sc in res.scenarios)


def test_the_report_never_runs_the_engine(pair, monkeypatch):
    import stress.margin.engine as engine

    def refuse(*args, **kwargs):
        raise AssertionError("the report ran the engine")

    for name in ("book_equity_paths", "mark_chunk", "evaluate"):
        monkeypatch.setattr(engine, name, refuse)
    res, _ = pair
    assert "p0-equity" in render_report(res)
    with pytest.raises(ValueError, match="base run"):
        render_report(dataclasses.replace(res, detail=None))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 512, 1000, 2000, 4096, 100_000])
def test_wilson_bounds_is_wilson_interval_elementwise(n):
    k = np.unique(np.r_[0:50, n - 50 : n + 1, np.linspace(0, n, 200).astype(int)].clip(0, n))
    lo, hi = wilson_bounds(k, n)
    assert [(a, b) for a, b in zip(lo, hi, strict=True)] == [wilson_interval(i, n) for i in k]
    assert lo[0] == 0.0 and hi[-1] == 1.0  # exact at the edges, as in summary.json


@pytest.mark.parametrize(
    "changes",
    [
        {"modes": ["isolated"]},  # one mode: no paired differences, no cross bucket
        {
            "modes": ["cross"],
            "simulation": {"paths": 300, "horizon_days": 0.5, "steps_per_day": 96},
        },
        {"positions": [{"asset": "BTC", "side": "long", "notional": 1_000.0, "leverage": 1.0}]},
    ],
    ids=["isolated-only", "cross-only-hours", "never-liquidated"],
)
def test_unusual_runs_still_render(changes):
    from support.report_page import Tree, check_offline_and_single_plotly, plot_specs

    res = stress.run({**two_asset_config(), **changes}, paths=300)
    page = render_report(res)
    tree = Tree(page).root
    check_offline_and_single_plotly(page, tree)
    specs = plot_specs(tree)
    assert {"p0-equity", "p0-loss", "p0-survival", "p0-positions"} <= set(specs)
    if "cross" not in res.config.modes:
        assert "p0-trigger" not in specs and "no leg can set off" in page
    if res.grid.n_steps * res.grid.step_hours <= 48:
        assert specs["p0-survival"]["layout"]["xaxis"]["title"]["text"].endswith("(hours)")
