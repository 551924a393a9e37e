"""Per-path outcomes: paths.parquet and `Result.per_path()` reproduce every summary metric.

The metrics are recomputed here from the table alone, with the conventions of the README written
out independently (exact rational ranks for VaR/ES, the Wilson formula, numpy's linear
quantiles for the time to liquidation), not by calling the package's metric functions.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import run_stress
from support.factories import two_asset_config

import stress
from stress.pipeline.per_path import LIQUIDATED_PREFIX

simulate_module = importlib.import_module("stress.pipeline.simulate")

Z95 = 1.959963984540054
LEVELS = {"95": "0.95", "99": "0.99", "999": "0.999"}


def per_path_config() -> dict:
    """Two portfolios (hybrid books, two assets, different position ids) and two scenarios."""
    cfg = two_asset_config()
    cfg.pop("account")
    cfg.pop("positions")
    cfg["simulation"]["paths"] = 1_500  # not a multiple of the 256-path blocks
    cfg["exchange"]["liquidation_fee"] = 0.01
    cfg["portfolios"] = [
        {
            "name": "hedge",
            "account": {"wallet": 6_000.0},
            "positions": [
                {
                    "id": "btc",
                    "asset": "BTC",
                    "side": "short",
                    "notional": 60_000.0,
                    "leverage": 25.0,
                },
                {
                    "id": "eth",
                    "asset": "ETH",
                    "side": "long",
                    "notional": 50_000.0,
                    "leverage": 25.0,
                    "margin_mode": "isolated",
                },
            ],
        },
        {
            "name": "long",
            "account": {"wallet": 3_000.0},
            "positions": [
                {
                    "id": "solo",
                    "asset": "ETH",
                    "side": "long",
                    "notional": 40_000.0,
                    "leverage": 20.0,
                }
            ],
        },
    ]
    cfg["scenarios"] = [
        {"name": "crash", "shock": {"asset": "ETH", "move": -0.08, "at_hour": 6.0}},
        {"name": "spike", "funding_spike": {"rate": 0.002, "from_hour": 0.0, "hours": 24.0}},
    ]
    return cfg


def wilson(k: int, n: int) -> list[float]:
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return [0.0 if k == 0 else centre - half, 1.0 if k == n else centre + half]


def recompute(rows: pd.DataFrame, wallet: float) -> dict:
    """summary.json's metrics of one book from its rows of the per-path table."""
    n = len(rows)
    liquidated = rows["liquidation_step"].notna().to_numpy()
    k = int(liquidated.sum())
    loss = np.sort(rows["loss"].to_numpy())
    out = {
        "p_liquidation": k / n,
        "p_liquidation_ci": wilson(k, n),
        "p_liquidation_se": math.sqrt(k / n * (1 - k / n) / n),
        "p_ruin": float(np.mean(rows["final_equity"].to_numpy() <= 0.01 * wallet)),
        "expected_loss": float(loss.mean()),
        "bad_debt_mean": float(rows["bad_debt"].mean()),
        "bad_debt_max": float(rows["bad_debt"].max()),
        "fees_paid_mean": float(rows["fees_paid"].mean()),
    }
    for tag, level in LEVELS.items():
        rank = math.ceil(Fraction(level) * n)  # the ceil(a n)-th smallest loss, exactly
        worst = n - math.floor(Fraction(level) * n)  # the worst ceil((1 - a) n) losses
        out[f"var_{tag}"] = float(loss[rank - 1])
        out[f"es_{tag}"] = float(loss[n - worst :].mean())
    hours = rows["liquidation_hours"].dropna().to_numpy(dtype=float)
    out["time_to_liquidation_hours"] = (
        None
        if k == 0
        else dict(zip(("p10", "p50", "p90"), np.quantile(hours, [0.1, 0.5, 0.9]), strict=True))
    )
    out["positions"] = {
        col[len(LIQUIDATED_PREFIX) :]: float(rows[col].astype(float).mean())
        for col in rows.columns
        if col.startswith(LIQUIDATED_PREFIX) and rows[col].notna().all()
    }
    return out


def check_against_summary(table: pd.DataFrame, summary: dict) -> int:
    """Compare every book of every scenario; returns the number of books checked."""
    runs = [("base", summary["portfolios"])]
    runs += [(sc["name"], sc["portfolios"]) for sc in summary.get("scenarios", [])]
    checked = 0
    for scenario, ports in runs:
        for port in ports:
            for mode, m in port["modes"].items():
                rows = table[
                    (table["scenario"] == scenario)
                    & (table["portfolio"] == port["name"])
                    & (table["mode"] == mode)
                ]
                assert len(rows) == summary["paths"]
                assert rows["path"].tolist() == list(range(summary["paths"]))
                got = recompute(rows, port["wallet"])
                positions = got.pop("positions")
                assert set(positions) == set(m["positions"])
                for pid, p in positions.items():
                    assert p == m["positions"][pid]["p_liquidation"]
                for key, value in got.items():
                    want = m[key]
                    if isinstance(value, dict):
                        assert value == pytest.approx(want, rel=1e-12), key
                    else:
                        assert value == pytest.approx(want, rel=1e-12, abs=1e-12), key
                checked += 1
    return checked


def test_paths_parquet_reproduces_summary_json(tmp_path):
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(per_path_config()))
    out = tmp_path / "out"
    proc = run_stress("run", cfg_file, "--out", out, "--per-path", cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "paths.parquet" in proc.stderr and "note:" not in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    table = pd.read_parquet(out / "paths.parquet")
    # 3 scenarios (base first) x 2 portfolios x 3 modes x 1,500 paths
    assert len(table) == 3 * 2 * 3 * 1_500
    assert list(table["scenario"].unique()) == ["base", "crash", "spike"]
    assert check_against_summary(table, summary) == 18
    # the checks above are only worth something if the run has liquidations, bad debt and fees
    assert table["liquidation_step"].notna().mean() > 0.05
    assert (table["bad_debt"] > 0).any() and (table["fees_paid"] > 0).any()


def test_columns_and_types():
    res = stress.run(per_path_config(), paths=300)
    df = res.per_path()
    assert list(df.columns) == [
        "scenario",
        "portfolio",
        "mode",
        "path",
        "liquidation_step",
        "liquidation_hours",
        "final_equity",
        "loss",
        "bad_debt",
        "fees_paid",
        "liquidated.btc",
        "liquidated.eth",
        "liquidated.solo",
    ]
    assert str(df["liquidation_step"].dtype) == "Int32"
    assert str(df["liquidation_hours"].dtype) == "Float64"
    assert str(df["liquidated.btc"].dtype) == "boolean"
    # a position the portfolio does not hold is null, not False
    long_rows = df[df["portfolio"] == "long"]
    assert long_rows["liquidated.btc"].isna().all()
    assert long_rows["liquidated.solo"].notna().all()
    hours = res.grid.step_hours * df["liquidation_step"].astype("Float64")
    pd.testing.assert_series_equal(hours, df["liquidation_hours"], check_names=False)
    # loss and final equity add up to the book's initial equity on every path
    total = (df["loss"] + df["final_equity"]).groupby([df["portfolio"], df["mode"]], observed=True)
    assert (total.max() - total.min()).max() < 1e-6
    # the API gives the same table the CLI writes
    assert check_against_summary(df, res.to_dict()) == 18
    assert df.attrs["paths_kept"] == {"base": 300, "crash": 300, "spike": 300}


def test_streaming_run_keeps_the_first_paths_and_says_so(monkeypatch):
    cfg = per_path_config()
    cfg.pop("scenarios")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = stress.run(cfg, paths=1_000).per_path()  # no warning when every path is kept
    monkeypatch.setattr(simulate_module, "KEEP_BYTES", 1)  # keep only the first block of 256 paths
    res = stress.run(cfg, paths=1_000)
    with pytest.warns(UserWarning, match="256 of 1,000"):
        df = res.per_path()
    assert len(df) == 2 * 3 * 256
    assert df.attrs == {"paths": 1_000, "paths_kept": {"base": 256}}
    # the kept rows are the run's first paths, identical to those of an exact run
    first = exact[exact["path"] < 256].reset_index(drop=True)
    pd.testing.assert_frame_equal(df, first, check_categorical=False)


def test_cli_says_when_paths_parquet_holds_fewer_paths(tmp_path, monkeypatch, capsys):
    from stress import cli

    monkeypatch.setattr(simulate_module, "KEEP_BYTES", 1)
    cfg = per_path_config()
    cfg.pop("scenarios")
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    argv = ["stress", "run", str(cfg_file), "--out", str(out), "--per-path", "--paths", "600"]
    monkeypatch.setattr(sys, "argv", argv)
    cli.main()
    err = capsys.readouterr().err
    assert "note: --per-path: paths.parquet" in err and "256 of 600" in err
    assert len(pd.read_parquet(Path(out) / "paths.parquet")) == 2 * 3 * 256
