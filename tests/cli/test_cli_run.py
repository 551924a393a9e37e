"""The commands as a user runs them: files written, JSON shapes, atomic outputs."""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import EXAMPLES, case_params, run_stress, stress_command
from support.factories import two_asset_config

import stress
from stress.output import publish as outputs

SPEC_MODE_KEYS = {
    "p_liquidation",
    "p_liquidation_ci",
    "p_ruin",
    "expected_loss",
    "var_95",
    "var_99",
    "es_95",
    "es_99",
    "es_999",
    "bad_debt_mean",
    "bad_debt_max",
    "fees_paid_mean",
    "time_to_liquidation_hours",
    "positions",
}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag not in ("meta", "br", "hr", "img", "link", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def _check_html(text: str) -> str:
    parser = _Tags()
    parser.feed(text)
    assert text.startswith("<!DOCTYPE html>")
    assert not parser.errors and not parser.stack, (parser.errors, parser.stack)
    return "".join(parser.text)


# one example in the quick loop: the others run in process there (tests/test_examples_unchanged.py)
@pytest.mark.parametrize(
    "config", case_params(EXAMPLES, quick={"btc_eth_hedge"}, id_of=lambda p: p.stem)
)
def test_every_example_runs_and_writes_three_consistent_files(config, tmp_path):
    out = tmp_path / "out"
    cfg = stress.prepare(config).config
    replay = cfg.model.type == "replay"  # one path per history window: no --paths
    paths = () if replay else ("--paths", 2000)
    proc = run_stress("run", config, "--out", out, *paths, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(outputs.OUTPUT_FILES)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["paths"] == (cfg.simulation.paths if replay else 2000)
    assert summary["name"] == cfg.name and summary["seed"] == cfg.seed
    table = pd.read_parquet(out / "results.parquet")
    rows = 0
    for port in summary["portfolios"]:
        assert set(port["modes"]) == set(cfg.modes)
        for mode, m in port["modes"].items():
            assert SPEC_MODE_KEYS <= set(m)
            lo, hi = m["p_liquidation_ci"]
            assert lo <= m["p_liquidation"] <= hi
            assert m["var_99"] <= m["es_99"] + 1e-9
            row = table[
                (table["portfolio"] == port["name"])
                & (table["mode"] == mode)
                & (table["scenario"] == "base")
            ]
            assert len(row) == 1
            assert row["p_liquidation"].iloc[0] == m["p_liquidation"]
            assert row["es_99"].iloc[0] == pytest.approx(m["es_99"], rel=1e-15)
            rows += 1
    assert len(table) == rows * (1 + len(summary.get("scenarios", [])))
    text = _check_html((out / "report.html").read_text())
    assert cfg.name in text
    first = summary["portfolios"][0]["modes"]
    assert f"{100 * next(iter(first.values()))['p_liquidation']:.2f} %" in text


def test_run_defaults_to_reports_name_and_is_reproducible(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(two_asset_config()))
    assert run_stress("run", cfg, "--paths", 600, cwd=tmp_path).returncode == 0
    first = json.loads((tmp_path / "reports" / "pair" / "summary.json").read_text())
    assert run_stress("run", cfg, "--paths", 600, cwd=tmp_path).returncode == 0
    second = json.loads((tmp_path / "reports" / "pair" / "summary.json").read_text())
    first.pop("run_info"), second.pop("run_info")
    assert first == second
    assert not list((tmp_path / "reports" / "pair").glob(".*tmp"))


def test_compare_json_matches_the_api(tmp_path):
    cfg = tmp_path / "c.yaml"
    book = two_asset_config(account={"wallet": 10_000.0, "risk_capital": 5_000.0})
    cfg.write_text(yaml.safe_dump(book))
    proc = run_stress("compare", cfg, "--json", "--paths", 512, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    api = stress.run(book, paths=512).to_dict()
    for mode in api["portfolios"][0]["modes"]:
        got = data["portfolios"][0]["modes"][mode]
        want = api["portfolios"][0]["modes"][mode]
        assert got["p_liquidation"] == want["p_liquidation"]
        assert got["es_99"] == pytest.approx(want["es_99"], rel=1e-12)
    assert data["portfolios"][0]["verdict"] == json.loads(
        json.dumps(api["portfolios"][0]["verdict"])
    )
    table = run_stress("compare", cfg, "--paths", 512, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rec = api["portfolios"][0]["verdict"]["recommended"]
    assert f"{rec} (recommended)" in table.stdout
    assert "Verdict: " + api["portfolios"][0]["verdict"]["headline"] in table.stdout
    for line in table.stdout.splitlines():  # every mode row, with '*' on the winners
        if "as_configured" in line or "isolated" in line or "cross  " in line:
            assert "%" in line
    assert " *" in table.stdout
    other = run_stress("compare", cfg, "--paths", 512, "--objective", "p_liquidation", cwd=tmp_path)
    assert other.returncode == 0 and "lowest liquidation probability" in other.stdout
    bad = run_stress("compare", cfg, "--objective", "sharpe", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --objective: expected one of")


def test_liqprice_json_follows_the_spec(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(two_asset_config()))
    proc = run_stress("liqprice", cfg, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["positions"]
    assert {r["mode"] for r in rows} == {"isolated", "cross", "as_configured"}
    api = stress.liquidation_prices(two_asset_config())
    assert len(rows) == len(api)
    for r, (_, a) in zip(rows, api.iterrows(), strict=True):
        assert {"id", "asset", "mode", "liquidation_price"} <= set(r)
        assert (r["id"], r["mode"]) == (a["id"], a["mode"])
        assert r["liquidation_price"] == pytest.approx(a["liquidation_price"], rel=1e-12)


def test_liqprice_reports_null_for_an_unleveraged_long(tmp_path):
    cfg = two_asset_config(
        positions=[{"asset": "ETH", "side": "long", "notional": 3_000.0, "leverage": 1.0}],
        account={"wallet": 3_000.0},
    )
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rows = json.loads(run_stress("liqprice", path, "--json", cwd=tmp_path).stdout)["positions"]
    assert all(r["liquidation_price"] is None for r in rows)


def test_outputs_appear_whole_or_not_at_all(tmp_path, monkeypatch):
    res = stress.run(two_asset_config(), paths=300)
    out = tmp_path / "out"
    outputs.write_outputs(res, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(_):
        raise RuntimeError("disk full")

    monkeypatch.setattr(outputs, "results_parquet", broken)
    with pytest.raises(RuntimeError):
        outputs.write_outputs(stress.run(two_asset_config(), paths=300, seed=9), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old run intact, no temps


def test_report_escapes_user_text(tmp_path):
    cfg = two_asset_config()
    cfg["positions"][0]["id"] = "<script>alert(1)</script>"
    res = stress.run(cfg, paths=300)
    html = outputs.render_report(res)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_summary_json_is_strict_json(tmp_path):
    # nothing liquidates: time to liquidation is null, never NaN
    cfg = two_asset_config(
        positions=[{"asset": "BTC", "side": "long", "notional": 1_000.0, "leverage": 1.0}]
    )
    res = stress.run(cfg, paths=300)
    data = json.loads(outputs.summary_json(res))
    modes = data["portfolios"][0]["modes"]
    assert all(m["time_to_liquidation_hours"] is None for m in modes.values())
    assert np.isnan(res.summary["ttl_hours_p50"].astype(float)).all()


def test_progress_bar_only_on_a_terminal(tmp_path):
    import os
    import pty

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(two_asset_config()))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        stress_command("run", cfg, "--paths", 3000, "--out", "o"),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closes when the process exits
            break
        if not data:
            break
        seen += data
    assert proc.wait(timeout=600) == 0
    assert b"simulating paths" in seen
    piped = run_stress("run", cfg, "--paths", 3000, "--out", "p", cwd=tmp_path)
    assert "simulating" not in piped.stderr
