"""Under importance sampling the report shows weighted shares, not path counts."""

from __future__ import annotations

from stress.output.report.liquidations import trigger_bars


def test_trigger_legend_shows_counts_only_for_plain_runs():
    counts = {"cross": (40, {"eth": 30, "btc": 10})}
    plain = trigger_bars("k", ["eth", "btc"], counts)
    weighted = trigger_bars("k", ["eth", "btc"], counts, weighted=True)
    assert plain.data[0]["name"] == "cross (40 liquidations)"
    assert weighted.data[0]["name"] == "cross (weighted)"
    assert "paths" in plain.data[0]["hovertemplate"]
    assert "paths" not in weighted.data[0]["hovertemplate"]
    assert weighted.data[0]["y"] == plain.data[0]["y"]  # the same shares
