"""The scenario tables of the report (equal to summary.json) and of `stress compare`.

The scenarios themselves (shocks, model changes, funding spikes) are tested in
tests/paths/test_scenarios.py.
"""

from __future__ import annotations

import html
import json
import re

from conftest import ROOT
from support.factories import two_asset_config

import stress
from stress.output.publish import jsonable
from stress.output.report.html import render_report

EXAMPLE = ROOT / "configs" / "scenarios_btc_eth_tail.yaml"
CELL = re.compile(
    r'<tr data-scenario="([^"]+)">(.*?)</tr>',
    re.S,
)
TD = re.compile(r'<td data-mode="([^"]+)" data-metric="([^"]+)">([^<]*)</td>')


def test_the_example_runs_and_its_report_shows_the_scenario_table():
    from stress.output.report.fmt import money, pct

    res = stress.run(EXAMPLE, paths=1024)
    data = json.loads(json.dumps(jsonable(res.to_dict())))
    page = render_report(res)
    assert 'id="scenarios"' in page and "<caption>" in page
    rows = CELL.findall(page)
    names = ["base"] + [s["name"] for s in data["scenarios"]]
    assert [html.unescape(n) for n, _ in rows] == names
    runs = [data["portfolios"][0]] + [s["portfolios"][0] for s in data["scenarios"]]
    for (_, cells), port in zip(rows, runs, strict=True):
        found = TD.findall(cells)
        assert len(found) == 3 * len(port["modes"])
        for mode, metric, text in found:
            value = port["modes"][mode][metric]
            shown = pct(value) if metric == "p_liquidation" else money(value)
            assert html.unescape(text) == shown
    # the scenarios do bite: the wick liquidates the isolated BTC long far more than the base
    base, wick = runs[0]["modes"]["isolated"], runs[1]["modes"]["isolated"]
    assert wick["p_liquidation"] > base["p_liquidation"] + 0.3


def test_compare_prints_a_scenario_table_after_the_main_one():
    from rich.console import Console

    from stress.output.terminal import print_comparison

    cfg = two_asset_config(scenarios=[{"name": "vol-x3", "vol_multiplier": 3.0}])
    data = jsonable(stress.run(cfg, paths=256).to_dict())
    console = Console(record=True, width=200)
    print_comparison(console, data)
    text = console.export_text()
    assert text.index("stress scenarios on the same paths") > text.index("Verdict")
    rows = [line for line in text.splitlines() if "base" in line or "vol-x3" in line]
    assert len(rows) == 2
    iso = data["scenarios"][0]["portfolios"][0]["modes"]["isolated"]
    assert f"{100 * iso['p_liquidation']:.2f}%" in rows[1]
