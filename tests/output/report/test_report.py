"""The HTML report as a reader gets it: parsed back, every figure and the verdict present, the
numbers equal to summary.json at the precision shown, nothing fetched from a network, and user
strings shown as text."""

from __future__ import annotations

import copy
import functools
import html
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, ROOT
from support.report_page import (
    MAX_BYTES,
    Node,
    Tree,
    check_offline_and_single_plotly,
    esc,
    plot_specs,
)

import stress
from stress.analysis.detail import MAX_DETAIL
from stress.output.publish import jsonable
from stress.output.report import overview
from stress.output.report.html import render_report
from stress.pipeline.result import RunResult

PATHS = 2000
SWEEP_PATHS = 256  # a sweep example holds a thousand portfolios: fewer paths keep it quick


def _num(text: str) -> float:
    """A displayed number back to a float: '10,000.00' -> 10000.0, '97.28 %' -> 97.28."""
    text = text.replace("★", "").strip()
    match = re.search(r"[-+]?[\d,]*\.?\d+", text)
    assert match, text
    return float(match.group().replace(",", ""))


def _decimals(text: str) -> int:
    match = re.search(r"\.(\d+)", text.replace("★", ""))
    return len(match.group(1)) if match else 0


def assert_shows(text: str, value: float, scale: float = 1.0):
    """`text` is `value * scale` rounded to the decimals it shows."""
    text = text.replace("★", "").strip()
    if text.startswith("<"):  # "<0.01 %": non-zero but below the shown precision
        assert 0 < value * scale < _num(text), (text, value)
        return
    tol = 0.5 * 10.0 ** -_decimals(text) + 1e-9 * abs(value * scale)
    assert abs(_num(text) - value * scale) <= tol, (text, value * scale)


@functools.cache
def example_run(path: Path) -> RunResult:
    """One run per example for the whole session (the browser tests reuse them)."""
    cfg = stress.load_config(path)
    if cfg.model.type == "replay":  # one path per history window: the count is not ours to set
        return stress.run(cfg)
    return stress.run(cfg, paths=SWEEP_PATHS if cfg.sweep is not None else PATHS)


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.stem)
def example(request):
    res = example_run(request.param)
    page = render_report(res)
    summary = json.loads(json.dumps(jsonable(res.to_dict())))
    # the portfolio checked in detail: the only one, or the riskiest of a sweep
    k = res.detail.portfolios[0]
    return res, summary, page, Tree(page).root, k


def expected_figures(res, k_port: int) -> set[str]:
    port = res.portfolios[k_port]
    assets = list(res.config.model.assets)
    keys = {f"p{k_port}-price{assets.index(a)}" for a in {p.asset for p in port.positions}}
    keys |= {f"p{k_port}-{name}" for name in ("equity", "loss", "survival", "positions")}
    liquidated_cross = False
    for k, book in enumerate(res.layout.books):
        if book.portfolio != k_port or book.mode == "isolated":
            continue
        cross = [
            j
            for j, p in enumerate(book.positions)
            if book.mode == "cross" or p.margin_mode == "cross"
        ]
        if cross:
            col = res.layout.book_first_position[k] + cross[0]
            liquidated_cross |= bool(res.results.pos_liquidated[:, col].any())
    if liquidated_cross:
        keys.add(f"p{k_port}-trigger")
    return keys


def test_page_is_offline_with_plotly_once_and_small(example):
    res, summary, page, tree, k = example
    assert page.startswith("<!DOCTYPE html>")
    check_offline_and_single_plotly(page, tree)
    assert len(page.encode("utf-8")) < MAX_BYTES


def test_header_and_config(example):
    res, summary, page, tree, k = example
    header = tree.find("header").text
    for fact in (
        summary["name"],
        f"{summary['paths']:,}",
        f"{summary['horizon_days']:g} days",
        f"stress {summary['run_info']['version']}",
    ):
        assert fact in header
    facts = {
        dt.text: dd.text for dt, dd in zip(tree.find_all("dt"), tree.find_all("dd"), strict=True)
    }
    assert facts["seed"] == str(summary["seed"])
    assert facts["run time"] == f"{summary['run_info']['elapsed_seconds']:,.1f} s"
    echoed = yaml.safe_load(tree.find("pre").text)  # the config as run, overrides applied
    dumped = res.config.model_dump(mode="json", exclude_none=True)
    dumped["simulation"]["paths"] = summary["paths"]
    assert echoed == dumped


def test_every_figure_drawn_has_title_axes_and_caption(example):
    res, summary, page, tree, k = example
    specs = plot_specs(tree)
    divs = {d.attrs["id"] for d in tree.find_all("div", cls="plot")}
    assert divs == set(specs)
    detailed = [f"portfolio-{i}" for i in res.detail.portfolios]
    assert [x.attrs["id"] for x in tree.find_all("section", cls="portfolio")] == detailed
    expected = set().union(*(expected_figures(res, int(d.split("-")[1])) for d in detailed))
    if len(summary["portfolios"]) > 1:
        expected.add("overview-map")
    if summary.get("sweep"):
        expected |= {"sweep-p_liquidation", "sweep-es_99", "sweep-best-mode", "sweep-frontier"}
    assert divs == expected
    for key, spec in specs.items():
        layout = spec["layout"]
        assert layout["title"]["text"].strip(), key
        for axis in [a for a in layout if re.fullmatch(r"[xy]axis\d*", a)]:
            if layout[axis].get("visible") is False:
                continue  # the hidden 0..1 axis that carries VaR/ES marker lines
            if axis in ("xaxis", "yaxis") or axis.startswith("xaxis"):
                if axis == "xaxis" and "xaxis2" in layout:
                    continue  # small multiples: every panel's own x axis is titled
                assert layout[axis]["title"]["text"].strip(), (key, axis)
        assert spec["data"], key
        caption = tree.find("figure", id=f"fig-{key}").find("figcaption").text.strip()
        assert caption.endswith(".") and len(caption.split()) > 8, key


def test_verdict_and_mode_numbers_match_summary(example):
    res, summary, page, tree, k = example
    port = summary["portfolios"][k]
    verdict = port["verdict"]
    section = tree.find("section", id=f"portfolio-{k}")
    assert section.find("span", cls="pill").text == (verdict["recommended"] or "no single pick")
    # the verdict comes first: before any of the portfolio's figures
    assert page.index(html.escape(verdict["headline"])) < page.index(f'id="p{k}-')
    if verdict["tradeoff"]:
        assert section.find("p", cls="tradeoff").text == verdict["tradeoff"]
    table = section.find("table", cls="modes-table")
    rows = {r.attrs["data-mode"]: r for r in table.find_all("tr") if "data-mode" in r.attrs}
    assert set(rows) == set(port["modes"])
    for mode, row in rows.items():  # the tag on the recommended mode only (none: no pick)
        assert ("recommended" in row.text) == (mode == verdict["recommended"])
    assert f"How the verdict was reached: {verdict['rule']}" in section.text
    all_modes = set(port["modes"])
    for mode, m in port["modes"].items():
        cell = {td.attrs["data-metric"]: td for td in rows[mode].find_all("td")}
        assert_shows(cell["p_liquidation"].text, m["p_liquidation"], 100)
        lo, hi = cell["p_liquidation_ci"].text.split("–")
        assert_shows(lo, m["p_liquidation_ci"][0], 100)
        assert_shows(hi, m["p_liquidation_ci"][1], 100)
        assert_shows(cell["p_ruin"].text, m["p_ruin"], 100)
        for metric in ("expected_loss", "var_99", "es_99", "bad_debt_mean", "bad_debt_max"):
            assert_shows(cell[metric].text, m[metric])
        for metric, won in verdict["winners"].items():
            best = set([won] if isinstance(won, str) else (won or []))
            marked = bool(best) and best != all_modes and mode in best
            assert ("★" in cell[metric].text) == marked, (mode, metric)


def test_paired_differences_match_summary(example):
    res, summary, page, tree, k = example
    verdict = summary["portfolios"][k]["verdict"]
    table = tree.find("section", id=f"portfolio-{k}").find("table", cls="paired")
    versus = list(dict.fromkeys(c["versus"] for c in verdict["comparisons"]))
    rows = {
        r.attrs["data-metric"]: r.find_all("td")
        for r in table.find_all("tr")
        if "data-metric" in r.attrs
    }
    for c in verdict["comparisons"]:
        cell = rows[c["metric"]][versus.index(c["versus"])]
        scale = 100 if c["metric"].startswith("p_") else 1
        assert_shows(cell.find("span", cls="diff").text, c["difference"], scale)
        lo, hi = cell.find("span", cls="ci").text.strip("()").split(" to ")
        assert_shows(lo, c["ci"][0], scale)
        assert_shows(hi, c["ci"][1], scale)
        badge = cell.find("span", cls="badge").text
        assert badge == ("distinguishable" if c["distinguishable"] else "within noise")


def test_positions_table_matches_summary(example):
    res, summary, page, tree, k = example
    port = summary["portfolios"][k]
    table = tree.find("section", id=f"portfolio-{k}").find("table", cls="positions")
    modes = [th.text.strip() for th in table.find_all("th", cls="group")]
    body = table.find("tbody")
    for row, pos in zip(body.find_all("tr"), res.portfolios[k].positions, strict=True):
        cells = [c for c in row.children if isinstance(c, Node)]
        assert cells[0].text == pos.id
        per_mode = cells[9:]
        for i, mode in enumerate(modes):
            info = port["modes"][mode]["positions"][pos.id]
            assert_shows(per_mode[2 * i].text, info["p_liquidation"], 100)
            if info["liquidation_price"] is None:
                assert per_mode[2 * i + 1].text == "none"
            else:
                assert_shows(per_mode[2 * i + 1].text, info["liquidation_price"])


def test_figures_agree_with_summary(example):
    res, summary, page, tree, k = example
    port = summary["portfolios"][k]
    specs = plot_specs(tree)
    survival = {t["name"]: t["y"][-1] for t in specs[f"p{k}-survival"]["data"] if t.get("name")}
    bars = {t["name"]: t for t in specs[f"p{k}-positions"]["data"]}
    ids = [p.id for p in res.portfolios[k].positions]
    marks = [t for t in specs[f"p{k}-loss"]["data"] if t.get("yaxis") == "y2"]
    for mode, m in port["modes"].items():
        # the survival curve ends at P(liquidation): first liquidations over ALL paths
        assert survival[mode] == pytest.approx(100 * m["p_liquidation"], rel=1e-4, abs=1e-9)
        assert bars[mode]["x"] == [esc(i) for i in ids]
        expected = [100 * m["positions"][i]["p_liquidation"] for i in ids]
        assert bars[mode]["y"] == pytest.approx(expected, rel=1e-4, abs=1e-9)
        for metric in ("var_99", "es_99"):
            label = "VaR 99 %" if metric == "var_99" else "ES 99 %"
            line = [t for t in marks if t["x"][0] == pytest.approx(m[metric], abs=0.01)]
            assert line and label in line[0]["name"] and mode in line[0]["name"], (mode, metric)
    # liquidation prices drawn on the fans: every finite one is a line or an off-chart note
    for key, spec in specs.items():
        if not key.startswith(f"p{k}-price"):
            continue
        drawn = " ".join(a["text"] for a in spec["layout"].get("annotations", []))
        asset = list(res.config.model.assets)[int(key.rsplit("price", 1)[1])]
        for mode, m in port["modes"].items():
            for pid, info in m["positions"].items():
                if info["asset"] == asset and info["liquidation_price"] is not None:
                    assert esc(pid) in drawn and mode in drawn
    loss_traces = [t for t in specs[f"p{k}-loss"]["data"] if t.get("yaxis") != "y2"]
    assert {m for t in loss_traces for m in port["modes"] if m in t["name"]} == set(port["modes"])
    floor = 100 * 0.1 / summary["paths"]  # where an empty bin's outline drops off the chart
    # the last point repeats the last bin for the step outline
    shares = [sum(v for v in t["y"][:-1] if v > 1.5 * floor) for t in loss_traces]
    assert shares == pytest.approx([100.0] * len(shares), abs=0.05)


def test_report_renders_without_a_verdict(example):
    res, summary, page, tree, k = example
    bare = copy.deepcopy(res.to_dict())
    for port in bare["portfolios"]:
        port.pop("verdict", None)
    text = Tree(render_report(res, bare)).root.find("section", id=f"portfolio-{k}").text
    assert "No recommendation was computed" in text and "★" not in text


# --- user strings -----------------------------------------------------------------------------

NASTY_ID = "<script>alert(1)</script>"
NASTY_ID2 = '<img src=x onerror="window.__pwned=1">&amp;'
NASTY_ASSET = "</script><b>X</b>"


def nasty_config() -> dict:
    cfg = yaml.safe_load((ROOT / "configs" / "btc_eth_hedge.yaml").read_text())
    cfg["model"]["assets"] = {
        NASTY_ASSET: cfg["model"]["assets"]["ETH"],
        "BTC": cfg["model"]["assets"]["BTC"],
    }
    cfg["exchange"]["markets"] = {
        NASTY_ASSET: cfg["exchange"]["markets"]["ETH"],
        "BTC": cfg["exchange"]["markets"]["BTC"],
    }
    cfg["positions"][0].update(id=NASTY_ID, asset=NASTY_ASSET)
    cfg["positions"][1]["id"] = NASTY_ID2
    return cfg


@functools.cache
def nasty_run() -> RunResult:
    return stress.run(nasty_config(), paths=600)


def test_user_strings_are_text_in_page_and_figures():
    page = render_report(nasty_run())
    for raw in (NASTY_ID, NASTY_ID2, NASTY_ASSET):
        assert raw not in page
    tree = Tree(page).root
    check_offline_and_single_plotly(page, tree)
    assert all(b.text != "X" for b in tree.find_all("b"))  # no markup from the asset name
    ids = [th.text for th in tree.find("table", cls="positions").find_all("th", cls="pid")]
    assert ids == [NASTY_ID, NASTY_ID2]  # shown as the characters the user typed
    assert NASTY_ID in tree.find("pre").text  # the config echo, as text
    specs = plot_specs(tree)
    bars = specs["p0-positions"]["data"][0]["x"]
    assert bars == [esc(NASTY_ID), esc(NASTY_ID2)]  # plotly decodes entities
    titles = [s["layout"]["title"]["text"] for s in specs.values()]
    assert esc(NASTY_ASSET) + " mark price" in titles
    for spec in specs.values():
        blob = json.dumps(spec)
        assert "<script" not in blob and "<img" not in blob and "<b>X" not in blob


# --- many portfolios --------------------------------------------------------------------------


def sweep_config(leverages: list[float]) -> dict:
    cfg = yaml.safe_load((ROOT / "configs" / "btc_eth_hedge.yaml").read_text())
    positions = cfg.pop("positions")
    cfg.pop("account")
    cfg["name"] = "sweep"
    cfg["portfolios"] = [
        {
            "name": f"h{i:02d}-{lev:g}x",
            "account": {"wallet": max(10_000.0, 120_000.0 / lev)},
            "positions": [dict(p, leverage=lev) for p in positions],
        }
        for i, lev in enumerate(leverages)
    ]
    return cfg


LEVERAGES = [2, 3, 4, 5, 6, 8, 10, 12, 15, 18, 20, 25]


@functools.cache
def sweep_run() -> RunResult:
    return stress.run(sweep_config(LEVERAGES), paths=PATHS)


@pytest.fixture(scope="module")
def sweep():
    res = sweep_run()
    page = render_report(res)
    return res, json.loads(json.dumps(jsonable(res.to_dict()))), page, Tree(page).root


def overview_table(tree: Node) -> tuple[list[str], list[list[str]]]:
    table = tree.find("table", id="overview-table")
    heads = [th.text for th in table.find("thead").find_all("th")]
    rows = [[td.text for td in r.find_all("td")] for r in table.find("tbody").find_all("tr")]
    return heads, rows


def test_many_portfolios_table_has_every_row(sweep):
    res, summary, page, tree = sweep
    heads, rows = overview_table(tree)
    assert heads[:2] == ["portfolio", "mode"] and "ES 99 % (USDT)" in heads
    col = {h: i for i, h in enumerate(heads)}
    by_key = {
        (p["name"], mode): (p, m) for p in summary["portfolios"] for mode, m in p["modes"].items()
    }
    seen = [(r[0], r[1].split()[0]) for r in rows]
    assert len(rows) == 3 * len(LEVERAGES) and set(seen) == set(by_key)
    for r, key in zip(rows, seen, strict=True):
        port, m = by_key[key]
        assert ("recommended" in r[1]) == (key[1] == port["verdict"]["recommended"])
        assert_shows(r[col["wallet (USDT)"]], port["wallet"])
        assert_shows(r[col["P(liquidation)"]], m["p_liquidation"], 100)
        assert_shows(r[col["ES 99 % (USDT)"]], m["es_99"])
        assert_shows(r[col["VaR 99 % (USDT)"]], m["var_99"])
        assert_shows(r[col["E(loss) (USDT)"]], m["expected_loss"])
        assert_shows(r[col["ES 99 % / wallet"]], m["es_99"] / port["wallet"], 100)
    sortable = tree.find("table", id="overview-table")
    assert "sortable" in sortable.classes()
    assert {th.attrs["data-type"] for th in sortable.find_all("th")} == {"num", "text"}


def test_many_portfolios_detail_only_the_riskiest(sweep):
    res, summary, page, tree = sweep
    ports = summary["portfolios"]
    chosen = list(res.detail.portfolios)  # chosen in the run, from its metrics
    assert len(chosen) == MAX_DETAIL
    worst = sorted(range(len(ports)), key=lambda i: overview.risk_score(ports[i]), reverse=True)
    assert chosen == sorted(worst[:MAX_DETAIL])
    sections = tree.find_all("section", cls="portfolio")
    assert [s.attrs["id"] for s in sections] == [f"portfolio-{i}" for i in chosen]
    note = tree.find("section", id="overview").find("p", cls="note").text
    assert "3 riskiest of 12" in note and all(ports[i]["name"] in note for i in chosen)
    specs = plot_specs(tree)
    expected = {"overview-map"}.union(*(expected_figures(res, i) for i in chosen))
    assert set(specs) == expected
    risk_map = specs["overview-map"]["data"]
    assert sum(len(t["x"]) for t in risk_map) == 3 * len(LEVERAGES)
    check_offline_and_single_plotly(page, tree)
    assert len(page.encode("utf-8")) < MAX_BYTES


def test_sweep_parameters_are_table_columns_and_the_table_is_capped(monkeypatch):
    cfg = sweep_config(LEVERAGES)
    positions = cfg.pop("portfolios")[0]["positions"]
    cfg["sweep"] = {
        "name": "lev",
        "base": {"account": {"wallet": 60_000}, "positions": positions},
        "grid": {"leverage": [2, 5, 10, 20], "side.btc-short": ["short", "long"]},
    }
    monkeypatch.setattr(overview, "MAX_TABLE", 5)
    res = stress.run(cfg, paths=300)
    tree = Tree(render_report(res)).root
    heads, rows = overview_table(tree)
    assert heads[:4] == ["portfolio", "leverage", "side.btc-short", "mode"]
    assert "wallet (USDT)" not in heads  # the same for every portfolio: no column
    ports = res.to_dict()["portfolios"]
    shown = overview.riskiest(ports, 5)
    assert len(rows) == 3 * 5 and {r[0] for r in rows} == {ports[i]["name"] for i in shown}
    assert "5 riskiest of 8" in tree.find("section", id="overview").text


def test_page_size_grows_only_with_the_table():
    small = render_report(stress.run(sweep_config(LEVERAGES[:4]), paths=500))
    large = render_report(stress.run(sweep_config(LEVERAGES * 3), paths=500))
    per_portfolio = (len(large) - len(small)) / (3 * len(LEVERAGES) - 4)
    assert per_portfolio < 3_000  # three table rows, no figures
