"""`stress backtest` on the command line: the tables, --json, --report, the default file, and
bad input (exit 2, one line naming the option, nothing written)."""

from __future__ import annotations

import json

import pytest
from conftest import DATA, ROOT, case_params, run_stress

BTC_FILE = DATA / "binance_spot_BTCUSDT_1h.csv.gz"
SHORT = ("--test", "2022-01-01:2022-01-14", "--paths", "64")


def test_json_and_report(tmp_path):
    proc = run_stress("backtest", BTC_FILE, *SHORT, "--json", "--report", "page.html", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["asset"] == "BTC" and data["test"]["days"] == 14
    assert data["models"] == ["garch", "fhs", "ewma", "gbm", "climatology"]
    assert "wrote page.html" in proc.stderr
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    for model in data["models"]:
        assert f'data-plot="reliability-{model}"' in page
    assert 'data-plot="ratio-figure"' in page and "<script src" not in page
    assert page.count('class="numbers reliability-table"') == 5 * 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_the_tables_and_the_default_file_from_the_repository_root():
    proc = run_stress(
        "backtest", "--test", "2022-01-01:2022-01-07", "--paths", "32", "--models", "gbm",
        "--leverages", "20", "--sides", "short", cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "BTC (data/binance_spot_BTCUSDT_1h.csv.gz): 7 days 2022-01-01..2022-01-07" in out
    assert "realised from the bars' lows and highs (wicks)" in out
    for fragment in ("short-20x", "Brier skill against climatology", "Christoffersen", "gbm"):
        assert fragment in out
    assert "long-" not in out


BAD_INPUT = {
    "leverage": (("--leverages", "10,150"), "error: --leverages: BTC allows at most 125x"),
    "window": (
        ("--test", "2021-01-01:2021-03-01"),
        "error: --test: expected a window after --train",
    ),
    "model": (("--models", "arima"), "error: --models: expected some of garch, fhs, ewma, gbm"),
    "paths": (("--paths", "0"), "error: --paths: expected at least 1"),
    "refit": (("--refit-days", "0"), "error: --refit-days: expected at least 1"),
    "asset": (("--asset", "ETH"), "error: --asset: expected one of BTC"),
}


@pytest.mark.parametrize(
    ("args", "fragment"),
    case_params(
        BAD_INPUT, quick={"leverage", "window"}, id_of=str, values_of=lambda k: BAD_INPUT[k]
    ),
)
def test_bad_input_exits_2_naming_the_option(tmp_path, args, fragment):
    proc = run_stress("backtest", BTC_FILE, *args, "--report", "page.html", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(fragment) and proc.stderr.count("\n") == 1, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_missing_default_file_says_where_to_run_from(tmp_path):
    proc = run_stress("backtest", "--paths", "16", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "error: FILES: none given, and the shipped data/binance_spot_BTCUSDT_1h.csv.gz is not "
        "here (run from the repository root, or name the price files)"
    )
