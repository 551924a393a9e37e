"""The page of `stress optimise --report` (stress.output.report.optimise_page): the frontier
figure and the tables, self-contained, with every user string escaped."""

from __future__ import annotations

import json
import re

import pytest

import stress
from stress.output.report.optimise_page import frontier_figure, render_optimise

ODD = "<b>a&b</b>"


def book(risk_capital: float) -> dict:
    asset = {"price": 100.0, "vol": 1.0}
    return {
        "name": "page",
        "seed": 3,
        "simulation": {"paths": 512, "horizon_days": 1, "steps_per_day": 24},
        "model": {
            "type": "gbm",
            "assets": {"A": dict(asset), "B": dict(asset)},
            "correlation": [[1.0, 0.5], [0.5, 1.0]],
        },
        "account": {"wallet": 5000, "risk_capital": risk_capital},
        "positions": [
            {"id": ODD, "asset": "A", "side": "long", "notional": 10000, "leverage": 10},
            {"id": "b", "asset": "B", "side": "short", "notional": 10000, "leverage": 10},
        ],
        "optimise": {"margin": {"min": 1, "max": 2}, "steps": 3, "rounds": 1},
    }


@pytest.fixture(scope="module")
def data():
    return stress.optimise(book(3000)).to_dict()


def test_the_figure_draws_every_candidate_and_the_risk_capital(data):
    fig = frontier_figure(data)
    drawn = {t["name"]: t for t in fig.data}
    assert len(drawn["fits"]["x"]) + len(drawn["over the limit"]["x"]) == len(data["candidates"])
    assert drawn["fits"]["x"] and all(x <= 3000 for x in drawn["fits"]["x"])
    assert [s["x0"] for s in fig.layout["shapes"]] == [3000]
    assert drawn["best"]["y"] == [100 * data["best"]["p_liquidation"]]
    lo, hi = data["best"]["p_liquidation_ci"]
    bar = drawn["best"]["error_y"]
    assert bar["array"][0] == pytest.approx(100 * (hi - data["best"]["p_liquidation"]))
    assert bar["arrayminus"][0] == pytest.approx(100 * (data["best"]["p_liquidation"] - lo))
    assert len(drawn["frontier"]["x"]) == len(data["frontier"])


def test_the_page_is_self_contained_and_escapes_ids(data):
    page = render_optimise(data, "name: page\n")
    assert ODD not in page  # neither in the tables nor in the figure's JSON
    assert "&lt;b&gt;a&amp;b&lt;/b&gt;" in page
    spec = re.search(r'data-plot="frontier-figure">(.*?)</script>', page, re.S)[1]
    assert "<" not in spec
    hovers = [row[1] for t in json.loads(spec)["data"] for row in t["customdata"]]
    # plotly draws the characters, not the markup
    assert any("&lt;b&gt;a&amp;b&lt;/b&gt;" in h for h in hovers)
    assert not any(ODD in h for h in hovers)
    assert "<script src" not in page and "https://" not in page.split("<script>")[0]
    assert 'id="frontier-figure"' in page and "name: page" in page


def test_nothing_fits_says_so_and_draws_no_best():
    data = stress.optimise(book(100)).to_dict()
    page = render_optimise(data)
    assert "none fits" in page and "No arrangement fits the risk capital of 100 USDT" in page
    assert "best" not in {t["name"] for t in frontier_figure(data).data}
