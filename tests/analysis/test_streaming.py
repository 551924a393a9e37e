"""Metrics accumulated chunk by chunk (big runs) agree with the exact per-path ones."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from support.factories import two_asset_config

import stress
from stress.analysis.streaming import LOSS_BINS, _hist_var_es, _ttl_quantiles

simulate_module = importlib.import_module("stress.pipeline.simulate")


def _runs(monkeypatch, paths=3000):
    cfg = two_asset_config()
    exact = stress.run(cfg, paths=paths, chunk_paths=512)
    monkeypatch.setattr(simulate_module, "KEEP_BYTES", 1)  # keep only the first block of paths
    streamed = stress.run(cfg, paths=paths, chunk_paths=512)
    assert exact.kept_paths == paths and streamed.kept_paths == 256
    return exact, streamed


def test_streamed_metrics_match_exact_ones(monkeypatch):
    exact, streamed = _runs(monkeypatch)
    for e, s in zip(exact.metrics, streamed.metrics, strict=True):
        for key in ("p_liquidation", "p_ruin", "p_liquidation_se", "bad_debt_max"):
            assert s[key] == e[key]
        assert s["p_liquidation_ci"] == e["p_liquidation_ci"]
        for key in ("expected_loss", "bad_debt_mean", "fees_paid_mean"):
            assert s[key] == pytest.approx(e[key], rel=1e-9, abs=1e-9)
        assert (s["time_to_liquidation_hours"] is None) == (e["time_to_liquidation_hours"] is None)
        if e["time_to_liquidation_hours"]:
            for q, v in e["time_to_liquidation_hours"].items():
                assert s["time_to_liquidation_hours"][q] == pytest.approx(v, rel=1e-12)
        for key in ("var_95", "var_99", "var_999", "es_95", "es_99", "es_999"):
            assert abs(s[key] - e[key]) <= s["loss_resolution"], key
        for pid, pos in e["positions"].items():
            assert s["positions"][pid]["p_liquidation"] == pos["p_liquidation"]


def test_histogram_quantiles_on_known_samples():
    rng = np.random.default_rng(0)
    scale = 100.0
    loss = np.concatenate([rng.uniform(-100, 100, 9_000), np.full(1_000, 100.0)])
    edges = np.floor((loss + scale) / (2 * scale) * LOSS_BINS)
    bins = np.clip(edges, -1, LOSS_BINS).astype(int) + 1
    count = np.bincount(bins, minlength=LOSS_BINS + 2)
    total = np.bincount(bins, weights=loss, minlength=LOSS_BINS + 2)
    width = 2 * scale / LOSS_BINS
    for a in (0.5, 0.8, 0.95, 0.99):
        var, es = _hist_var_es(count, total, scale, loss.size, a)
        srt = np.sort(loss)
        k = int(np.ceil(a * loss.size))
        m = loss.size - int(np.floor(a * loss.size))
        assert abs(var - srt[k - 1]) <= width
        assert abs(es - srt[-m:].mean()) <= width
        assert es >= var


def test_time_to_liquidation_quantiles_from_counts_are_exact():
    steps = np.array([0, 3, 3, 7, 12, 12, 12, 40])
    hist = np.bincount(steps, minlength=50)
    got = _ttl_quantiles(hist, 0.25)
    want = np.quantile(steps * 0.25, [0.1, 0.5, 0.9])
    assert [got["p10"], got["p50"], got["p90"]] == pytest.approx(list(want), rel=1e-15)
    assert _ttl_quantiles(np.zeros(10, dtype=int), 1.0) is None
