"""`stress compare` and `stress run` say which rule decided the verdict, and why.

The pair of `two_asset_config` at 512 paths: isolated caps its loss at 4,500 USDT and is
liquidated on about two thirds of the paths, cross is never liquidated with an ES99 near 4,000
USDT, as_configured lies between with an ES99 near 4,900 USDT.
"""

from __future__ import annotations

import json

import yaml
from conftest import run_stress
from support.factories import two_asset_config

PATHS = "512"


def _config(tmp_path, risk_capital=None):
    account = {"wallet": 10_000.0}
    if risk_capital is not None:
        account["risk_capital"] = risk_capital
    path = tmp_path / "pair.yaml"
    path.write_text(yaml.safe_dump(two_asset_config(account=account)))
    return path


def _compare(tmp_path, cfg, *more):
    proc = run_stress("compare", cfg, "--paths", PATHS, *more, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_without_risk_capital_compare_states_the_trade_off_and_asks_for_it(tmp_path):
    cfg = _config(tmp_path)
    data = json.loads(_compare(tmp_path, cfg, "--json"))
    v = data["portfolios"][0]["verdict"]
    assert v["recommended"] is None and v["decided_by"] is None
    text = _compare(tmp_path, cfg)
    assert "Verdict: No single pick without a risk capital." in text
    for mode in data["portfolios"][0]["modes"]:
        assert f" {mode}: " in text  # one sentence each
    assert "Set account.risk_capital" in text and "(recommended)" not in text
    assert "Rule: No rule decided" in text


def test_risk_capital_decides_and_an_objective_overrides_it(tmp_path):
    cfg = _config(tmp_path, risk_capital=4_200.0)
    data = json.loads(_compare(tmp_path, cfg, "--json"))
    port = data["portfolios"][0]
    v = port["verdict"]
    assert v["decided_by"] == "risk_capital" and v["recommended"] == "cross"
    assert port["modes"]["cross"]["es_99"] <= 4_200.0 < port["modes"]["isolated"]["es_99"]
    text = _compare(tmp_path, cfg)
    assert "cross (recommended)" in text
    assert "Verdict: Choose cross: it is the only mode whose ES99" in text
    assert "Rule: Decided by the risk capital (account.risk_capital)" in text
    # --objective ranks by one metric, whatever the risk capital
    tail = _compare(tmp_path, cfg, "--objective", "p_liquidation")
    assert "Rule: The recommended mode has the best liquidation probability" in tail


def test_run_writes_which_rule_decided_and_what_would_fit(tmp_path):
    cfg = _config(tmp_path, risk_capital=1_000.0)
    proc = run_stress("run", cfg, "--paths", PATHS, "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    v = json.loads((tmp_path / "out" / "summary.json").read_text())["portfolios"][0]["verdict"]
    assert v["decided_by"] == "risk_capital" and v["recommended"] is None
    assert v["headline"].startswith("No mode fits the risk capital of 1,000 USDT")
    assert f"a quick search on {int(PATHS):,} of the same paths" in v["headline"]
    assert v["fit"]["paths"] == int(PATHS) and v["fit"]["notional"]["es_99"] <= 1_000.0
    assert "Verdict: No mode fits" in proc.stdout
    page = (tmp_path / "out" / "report.html").read_text()
    assert "no single pick" in page and "How the verdict was reached: Decided by the risk" in page


def test_many_portfolios_without_a_pick_are_listed_and_counted():
    from rich.console import Console

    from stress.output.terminal import print_comparison

    def port(i: int, rec):
        modes = {
            m: {"p_liquidation": 0.01 * (i + j), "es_99": 100.0 * (i + 1) + j, "expected_loss": 1.0}
            for j, m in enumerate(("isolated", "cross"))
        }
        rule = "Decided by the risk capital" if rec else "No rule decided"
        verdict = {"recommended": rec, "rule": rule}
        return {"name": f"p{i}", "modes": modes, "verdict": verdict}

    ports = [port(i, "cross" if i % 3 else None) for i in range(12)]
    console = Console(record=True, width=200)
    print_comparison(console, {"paths": 100, "portfolios": ports})
    text = console.export_text()
    assert "recommended mode across portfolios: cross 8, no pick 4" in text
    assert "Rule: Decided by the risk capital" in text and "Rule: No rule decided" in text
    # sorted by the recommended mode's ES99, or without one the lowest of any mode
    rows = [line.split()[1] for line in text.splitlines() if line.startswith("│ p")]
    assert rows[0] == "p11" and len(rows) == 12
    assert text.count("no pick") == 1 + 4
