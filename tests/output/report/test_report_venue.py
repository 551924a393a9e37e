"""The venue in the report: the header names the preset, the liquidation process, the order books
and the funding cap when a config sets them (and nothing when it does not); a process that closes
in parts shows each detailed portfolio's partial closes, equal to summary.json's."""

from __future__ import annotations

import functools
import json

import pytest
from conftest import EXAMPLES, ROOT
from support.report_page import Tree, check_offline_and_single_plotly, plot_specs
from test_report import assert_shows

import stress
from stress.config.schema import Liquidation
from stress.output.publish import jsonable
from stress.output.report import venue as V
from stress.output.report.html import render_report

PATHS = 300
METRICS = ("p_partial_close", "partial_closes_mean", "partial_notional_mean")


def venue_config(preset: str, asset: str = "BTC") -> dict:
    """One BTC long big enough (2.5M) to sit above the venue's lowest tier, on a volatile week."""
    return {
        "name": f"{preset}-partial",
        "seed": 3,
        "simulation": {"paths": PATHS, "horizon_days": 3, "steps_per_day": 96},
        "model": {"type": "gbm", "assets": {asset: {"price": 60000, "vol": 0.9}}},
        "exchange": {"preset": preset},
        "account": {"wallet": 150_000},
        "positions": [
            {"id": "big-long", "asset": asset, "side": "long", "notional": 2_500_000}
            | {"leverage": 20, "margin_mode": "cross"}
        ],
        "modes": ["isolated", "cross", "as_configured"],
    }


@functools.cache
def venue_page(preset: str) -> tuple[dict, str]:
    res = stress.run(venue_config(preset))
    return json.loads(json.dumps(jsonable(res.to_dict()))), render_report(res)


@pytest.fixture(scope="module", params=["bybit", "hyperliquid"])
def partial(request):
    summary, page = venue_page(request.param)
    return request.param, summary, page, Tree(page).root


def test_partial_close_table_matches_summary(partial):
    preset, summary, page, tree = partial
    port = summary["portfolios"][0]
    table = tree.find("section", id="portfolio-0").find("table", cls="partial-closes")
    rows = {r.attrs["data-mode"]: r for r in table.find_all("tr") if "data-mode" in r.attrs}
    assert set(rows) == set(port["modes"])
    for mode, m in port["modes"].items():
        cell = {td.attrs["data-metric"]: td.text for td in rows[mode].find_all("td")}
        assert set(cell) == set(METRICS)
        assert_shows(cell["p_partial_close"], m["p_partial_close"], 100)
        assert_shows(cell["partial_closes_mean"], m["partial_closes_mean"])
        assert_shows(cell["partial_notional_mean"], m["partial_notional_mean"])
    # the position is big enough that the venue closes it in parts on many paths
    assert max(m["p_partial_close"] for m in port["modes"].values()) > 0.1


def test_partial_notional_histogram_adds_up_to_the_share_with_a_partial_close(partial):
    preset, summary, page, tree = partial
    port = summary["portfolios"][0]
    spec = plot_specs(tree)["p0-partial"]
    traces = {t["name"]: t for t in spec["data"]}
    assert set(traces) == set(port["modes"])
    for mode, m in port["modes"].items():
        y = traces[mode]["y"][:-1]  # the last point repeats the last bin for the step outline
        assert sum(y) == pytest.approx(100 * m["p_partial_close"], abs=1e-3)
        assert min(traces[mode]["x"]) == 0.0
    figure = tree.find("figure", id="fig-p0-partial")
    assert figure.find("figcaption").text.strip().endswith(".")
    assert spec["layout"]["xaxis"]["title"]["text"] and spec["layout"]["yaxis"]["title"]["text"]


def test_first_liquidation_is_labelled_partial_or_full(partial):
    preset, summary, page, tree = partial
    head = tree.find("section", id="portfolio-0").find("table", cls="modes-table").find("thead")
    assert "first liquidation" in head.text and "partial or full" in head.text
    survival = plot_specs(tree)["p0-survival"]
    assert "partial or full" in survival["layout"]["yaxis"]["title"]["text"]
    assert "partial or full" in tree.find("figure", id="fig-p0-survival").text


def test_header_names_venue_process_books_and_funding_cap(partial):
    preset, summary, page, tree = partial
    header = tree.find("header")
    venue = header.find("p", cls="venue").text
    assert f"preset {preset}" in venue
    assert "slippage" in venue and "BTC depth" in venue
    if preset == "bybit":
        assert "Bybit" in venue and "tier step-down" in venue and "insurance fund" in venue
    else:
        assert "slices" in venue and "100,000 USDT" in venue and "20 %" in venue
    assert "capped at" in header.text


def test_partial_page_is_self_contained_and_every_figure_has_a_div(partial):
    preset, summary, page, tree = partial
    check_offline_and_single_plotly(page, tree)
    divs = {d.attrs["id"] for d in tree.find_all("div", cls="plot")}
    assert divs == set(plot_specs(tree)) and "p0-partial" in divs


def test_example_without_a_preset_has_no_venue_line_or_partial_section():
    res = stress.run(stress.load_config(ROOT / "configs" / "btc_eth_hedge.yaml"), paths=PATHS)
    page = render_report(res)
    tree = Tree(page).root
    check_offline_and_single_plotly(page, tree)
    assert not tree.find_all("table", cls="partial-closes") and "Partial closes" not in page
    assert not tree.find_all("p", cls="venue")
    assert "p0-partial" not in plot_specs(tree)
    assert "partial or full" not in page
    market = tree.find("header").find("p", cls="market").text
    assert market.endswith("funding +0.0100% every 8 h.")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_add_no_venue_sentence(path):
    cfg = stress.load_config(path)
    assert V.venue_lines(cfg) == [] and V.funding_cap_text(cfg) == ""


def test_process_sentences():
    assert V.process_text(Liquidation()) is None  # the default says nothing
    assert "insurance fund" in V.process_text(Liquidation(residual="venue"))
    step = V.process_text(Liquidation(process="tier_step_down", full_close_tiers=2))
    assert "lowest 2 tiers" in step
    fill = V.process_text(Liquidation(process="fillable_price", fill_maintenance_multiple=1.5))
    assert "1.5 maintenance margins" in fill and "trader" in fill


def test_asset_names_in_the_venue_line_are_text():
    nasty = "</script><b>X</b>"
    cfg = venue_config("bybit", asset=nasty)  # no market of its own: the default market's book
    cfg["positions"][0]["notional"] = 100_000
    res = stress.run(cfg, paths=64)
    page = render_report(res)
    assert nasty not in page
    tree = Tree(page).root
    check_offline_and_single_plotly(page, tree)
    assert f"{nasty} depth 200,000 USDT" in tree.find("p", cls="venue").text
    assert all(b.text != "X" for b in tree.find_all("b"))
