"""A sweep's overview figures: heat maps whose cells are summary.json's numbers, the
recommended-mode map that agrees with every verdict, scatters for random sweeps, and a page
that stays light for a 10,000-portfolio sweep."""

from __future__ import annotations

import functools
import json

import pytest
import yaml
from conftest import ROOT
from support.report_page import (
    MAX_BYTES,
    Node,
    Tree,
    check_offline_and_single_plotly,
    esc,
    plot_specs,
)

import stress
from stress.output.publish import jsonable
from stress.output.report.fmt import script_json
from stress.output.report.html import render_report
from stress.output.report.sweep_grid import MAX_CELLS
from stress.output.report.sweep_points import pareto, sweep_figures
from stress.output.report.sweep_values import choose_axes

NOTIONALS = [40_000, 80_000, 120_000]
LEVERAGES = [2, 5, 10, 20]
SIDES = ["short", "long"]


def grid_config(random: bool = False) -> dict:
    cfg = yaml.safe_load((ROOT / "configs" / "btc_eth_hedge.yaml").read_text())
    base = {"account": cfg.pop("account"), "positions": cfg.pop("positions")}
    base["account"]["wallet"] = 60_000
    cfg["name"] = "grid"
    cfg["sweep"] = {"name": "g", "base": base}
    if random:
        cfg["sweep"]["random"] = {
            "n": 40,
            "seed": 3,
            "params": {
                "leverage": {"loguniform": [2, 20]},
                "notional": {"uniform": [40_000, 120_000]},
                "side.btc-short": {"choice": ["short", "long"]},
            },
        }
    else:
        cfg["sweep"]["grid"] = {
            "notional": NOTIONALS,
            "leverage": LEVERAGES,
            "side.btc-short": SIDES,
        }
    return cfg


@functools.cache
def grid_page(random: bool = False, risk_capital: float | None = None) -> tuple[dict, dict, Node]:
    """The report of a small sweep; ranked by ES99 (an explicit objective) unless a risk
    capital is given."""
    cfg = grid_config(random)
    cfg["sweep"]["base"]["account"]["risk_capital"] = risk_capital
    objective = "es_99" if risk_capital is None else None
    res = stress.run(cfg, paths=300, objective=objective)
    summary = json.loads(json.dumps(jsonable(res.to_dict())))
    page = render_report(res)
    assert len(page.encode("utf-8")) < MAX_BYTES
    tree = Tree(page).root
    check_offline_and_single_plotly(page, tree)
    return summary, plot_specs(tree), tree


def _cells(trace: dict) -> list[tuple[str, str, str, float | list]]:
    """(x label, y label, customdata, z) of every cell of a heat map trace."""
    out = []
    for iy, y in enumerate(trace["y"]):
        for ix, x in enumerate(trace["x"]):
            out.append((x, y, trace["customdata"][iy][ix], trace["z"][iy][ix]))
    return out


def test_grid_heat_maps_hold_the_summary_numbers():
    summary, specs, _ = grid_page()
    by_name = {p["name"]: p for p in summary["portfolios"]}
    modes = list(summary["portfolios"][0]["modes"])
    for key, metric, scale in (
        ("sweep-p_liquidation", "p_liquidation", 100),
        ("sweep-es_99", "es_99", 1),
    ):
        spec = specs[key]
        traces = spec["data"]
        # 4 leverages across, 3 notionals up, one panel per mode, one menu entry per side
        assert len(traces) == len(SIDES) * len(modes)
        assert sum(t["visible"] for t in traces) == len(modes)
        seen = set()
        for t in traces:
            assert t["x"] == [f"{v:g}" for v in LEVERAGES]
            assert t["y"] == [f"{v:,}" for v in NOTIONALS]
            assert len(t["z"]) == 3 and all(len(row) == 4 for row in t["z"])
            mode = t["name"]
            for x, y, name, z in _cells(t):
                port = by_name[name]
                assert port["params"]["leverage"] == float(x)
                assert port["params"]["notional"] == float(y.replace(",", ""))
                side = port["params"]["side.btc-short"]
                assert f"side.btc-short {side}" in t["hovertemplate"]
                assert z == pytest.approx(scale * port["modes"][mode][metric], abs=0.005)
                seen.add((name, mode))
        assert len(seen) == len(summary["portfolios"]) * len(modes)
        layout = spec["layout"]
        unit = "P(liquidation) (%)" if metric == "p_liquidation" else "ES 99 % (USDT)"
        assert layout["coloraxis"]["colorbar"]["title"]["text"] == unit
        assert layout["xaxis"]["title"]["text"] == "leverage (×)"
        assert layout["yaxis"]["title"]["text"] == "notional (USDT, gross)"
        (menu,) = layout["updatemenus"]
        assert [b["label"] for b in menu["buttons"]] == [f"side.btc-short {s}" for s in SIDES]
        # each entry shows its own panels and rescales to the values it shows
        for s, button in enumerate(menu["buttons"]):
            visible, relayout = button["args"]
            shown = [t for t, v in zip(traces, visible["visible"], strict=True) if v]
            assert all(f"side.btc-short {SIDES[s]}" in t["hovertemplate"] for t in shown)
            top = max(z for t in shown for row in t["z"] for z in row if z is not None)
            assert relayout["coloraxis.cmax"] == pytest.approx(top)


def test_recommended_mode_map_agrees_with_every_verdict():
    summary, specs, _ = grid_page()
    by_name = {p["name"]: p for p in summary["portfolios"]}
    spec = specs["sweep-best-mode"]
    ticks = spec["data"][0]["colorbar"]["ticktext"]
    colours = {c for _, c in spec["data"][0]["colorscale"]}
    assert colours <= {"#0072B2", "#D55E00", "#009E73"}  # the mode colours used elsewhere
    seen = 0
    for t in spec["data"]:
        for _, _, (name, mode), z in _cells(t):
            rec = by_name[name]["verdict"]["recommended"]
            assert mode == rec and ticks[z] == rec
            seen += 1
    assert seen == len(summary["portfolios"])


def test_under_a_risk_capital_the_map_leaves_points_without_a_pick_blank():
    summary, specs, tree = grid_page(risk_capital=10_000.0)
    by_name = {p["name"]: p for p in summary["portfolios"]}
    recs = [p["verdict"]["recommended"] for p in summary["portfolios"]]
    assert None in recs and len(set(recs) - {None}) >= 1  # a mix, or the test shows nothing
    assert {p["verdict"]["decided_by"] for p in summary["portfolios"]} == {"risk_capital"}
    spec = specs["sweep-best-mode"]
    ticks = spec["data"][0]["colorbar"]["ticktext"]
    blank = picked = 0
    for t in spec["data"]:
        for _, _, (name, shown), z in _cells(t):
            rec = by_name[name]["verdict"]["recommended"]
            if rec is None:
                assert z is None and shown == "no single pick"
                blank += 1
            else:
                assert shown == rec and ticks[z] == rec
                picked += 1
    assert (blank, picked) == (recs.count(None), len(recs) - recs.count(None))
    caption = tree.find("figure", id="fig-sweep-best-mode").find("figcaption").text
    assert "whose ES 99 % stays within the risk capital of 10,000 USDT" in caption
    assert f"no single pick at {recs.count(None):,} (blank cells)" in caption
    for p in summary["portfolios"]:
        rec = p["verdict"]["recommended"]
        assert rec is None or p["modes"][rec]["es_99"] <= p["verdict"]["risk_capital"]


def test_frontier_is_the_recommended_modes_trade_off():
    summary, specs, _ = grid_page()
    traces = specs["sweep-frontier"]["data"]
    points = {}
    for t in traces[:-1]:
        for x, y, (name, _) in zip(t["x"], t["y"], t["customdata"], strict=True):
            points[name] = (x, y)
    assert len(points) == len(summary["portfolios"])
    for p in summary["portfolios"]:
        m = p["modes"][p["verdict"]["recommended"]]
        assert points[p["name"]] == pytest.approx((100 * m["p_liquidation"], m["es_99"]), abs=1e-4)
    line = traces[-1]
    front = pareto([(x, y, n) for n, (x, y) in points.items()])
    assert line["x"] == [points[n][0] for n in front]
    assert all(b < a for a, b in zip(line["y"], line["y"][1:], strict=False))  # each step lowers ES


def test_random_sweep_gets_scatters_not_heat_maps():
    summary, specs, _ = grid_page(random=True)
    assert {"sweep-p_liquidation", "sweep-es_99", "sweep-best-mode", "sweep-frontier"} <= set(specs)
    by_name = {p["name"]: p for p in summary["portfolios"]}
    traces = specs["sweep-p_liquidation"]["data"]
    assert {t["type"] for t in traces} == {"scatter"}
    panels = {t["xaxis"] for t in traces}
    assert panels == {"x", "x2"}  # leverage and notional; the side is in the hover only
    for t in traces:
        param = "leverage" if t["xaxis"] == "x" else "notional"
        for x, y, name in zip(t["x"], t["y"], t["customdata"], strict=True):
            port = by_name[name]
            assert x == port["params"][param]
            assert y == pytest.approx(100 * port["modes"][t["name"]]["p_liquidation"], abs=1e-4)
    for t in specs["sweep-best-mode"]["data"]:
        assert all(by_name[n]["verdict"]["recommended"] == t["name"] for n in t["customdata"])


def test_sweep_figures_have_units_and_captions_in_the_page():
    _, _, tree = grid_page()
    section = tree.find("section", id="overview")
    assert "grid of 24 points over notional × leverage × side.btc-short" in section.text
    for key in ("sweep-p_liquidation", "sweep-es_99", "sweep-best-mode", "sweep-frontier"):
        caption = section.find("figure", id=f"fig-{key}").find("figcaption").text
        assert caption.endswith(".") and len(caption.split()) > 10


# --- synthetic summaries: size, units, escaping -----------------------------------------------


def fake_summary(n_x: int, n_y: int, n_z: int, walls=(10_000.0,), pid="btc", kind="grid"):
    """A summary with an n_x x n_y x n_z grid (and the wallet as a fourth axis if several)."""
    ports, k = [], 0
    for wallet in walls:
        for z in range(n_z):
            for y in range(n_y):
                for x in range(n_x):
                    p = (x + 1) / n_x * (y + 1) / n_y
                    params = {"leverage": 1.0 + x, "notional": 1000.0 * (y + 1)}
                    params["isolated_share"] = z / n_z
                    params[f"side.{pid}"] = "long" if z % 2 else "short"
                    if len(walls) > 1:
                        params["wallet"] = wallet
                    modes = {
                        mode: {"p_liquidation": p * f, "es_99": wallet * p * f}
                        for mode, f in (("isolated", 0.5), ("cross", 0.9), ("as_configured", 0.7))
                    }
                    rec = "isolated" if p < 0.5 else "cross"
                    ports.append(
                        {
                            "name": f"s-{k:05d}",
                            "wallet": wallet,
                            "params": params,
                            "modes": modes,
                            "verdict": {"recommended": rec, "objective": "es_99"},
                        }
                    )
                    k += 1
    names = ["leverage", "notional", "isolated_share", f"side.{pid}"] + (
        ["wallet"] if len(walls) > 1 else []
    )
    sweep = {"kind": kind, "parameters": names, "requested": k, "kept": k, "dropped": 0}
    return {"sweep": sweep | {"reasons": {}}, "portfolios": ports}


def figures_bytes(figs) -> int:
    return sum(len(script_json(f.spec())) for f in figs)


@pytest.mark.parametrize("shape", [(100, 100, 1), (25, 20, 20), (10, 10, 100)])
def test_a_10000_portfolio_sweep_stays_light(shape):
    data = fake_summary(*shape)
    assert len(data["portfolios"]) == 10_000
    figs, note = sweep_figures(data)
    # with plotly.js (4.8 MB), the capped table (1.5 MB) and the risk map, under 10 MB
    assert figures_bytes(figs) < 1_800_000
    heat = next(f for f in figs if f.key == "sweep-p_liquidation")
    cells = sum(len(row) for row in heat.data[0]["z"]) * len(heat.data) / 3
    assert cells <= MAX_CELLS
    assert "To keep the page light" in heat.caption


def test_random_10000_portfolio_sweep_is_sampled():
    data = fake_summary(100, 100, 1, kind="random")
    figs, _ = sweep_figures(data)
    assert [f.data[0]["type"] for f in figs] == ["scatter"] * 4
    assert figures_bytes(figs) < 1_800_000
    assert all("A sample of" in f.caption for f in figs)


def test_es_is_a_share_of_the_wallet_when_wallets_differ():
    data = fake_summary(3, 4, 1, walls=(10_000.0, 20_000.0))
    figs, _ = sweep_figures(data)
    es = next(f for f in figs if f.key == "sweep-es_99")
    assert es.layout["coloraxis"]["colorbar"]["title"]["text"] == "ES 99 % (% of the wallet)"
    by_name = {p["name"]: p for p in data["portfolios"]}
    for t in es.data:
        for _, _, name, z in _cells(t):
            if name:
                port = by_name[name]
                expected = 100 * port["modes"][t["name"]]["es_99"] / port["wallet"]
                assert z == pytest.approx(expected, rel=1e-5)
    assert "wallet" in es.layout["updatemenus"][0]["buttons"][0]["label"]


def test_user_strings_in_sweep_figures_are_escaped():
    nasty = '<img src=x onerror="alert(1)">%{x}'
    data = fake_summary(3, 4, 2, pid=nasty)
    figs, _ = sweep_figures(data)
    blob = "".join(script_json(f.spec()) for f in figs)
    assert "<img" not in blob and "\\u003cimg" not in blob
    heat = next(f for f in figs if f.key == "sweep-p_liquidation")
    assert esc(f"side.{nasty}".replace("%{", "%\u200b{")) in heat.data[0]["hovertemplate"]


def test_choose_axes_skips_parameters_tied_to_another():
    ports = [
        {"params": {"weight.a": w, "weight.b": 1 - w, "leverage": lev}}
        for w in (0.2, 0.5, 0.8)
        for lev in (2, 5)
    ]
    x, y, others = choose_axes(ports, ["weight.a", "weight.b", "leverage"])
    assert (x, y, others) == ("weight.a", "leverage", [])


def test_a_one_parameter_grid_gets_lines():
    data = fake_summary(6, 1, 1)
    figs, note = sweep_figures(data)
    assert [f.key for f in figs] == [
        "sweep-p_liquidation",
        "sweep-es_99",
        "sweep-best-mode",
        "sweep-frontier",
    ]
    for t in figs[0].data:
        assert t["type"] == "scatter" and t["mode"] == "lines+markers"
        assert t["x"] == sorted(t["x"]) and len(t["x"]) == 6
    assert "grid of 6 points" in note


def test_a_plain_list_of_portfolios_gets_no_sweep_figures():
    data = fake_summary(3, 4, 1)
    del data["sweep"]
    assert sweep_figures(data) == ([], None)
