"""The trader's rules in the report: how often each fired per mode, and what they saved or cost.

The table is summary.json's ``rules`` block of each mode (`stress.analysis.rule_metrics`): the
share of paths where each rule fired, and the same book without any rule on the same paths,
with the paired difference. Strings returned are plain text (the template autoescapes).
"""

from __future__ import annotations

from typing import Any

from stress.output.report.fmt import money, pct

RULES = (
    ("stop_loss", "stop-loss"),
    ("reduce", "reduce ladder"),
    ("top_up", "top-up"),
    ("hard_stop", "hard stop"),
)


def _signed_money(x: float) -> str:
    return f"{x:+,.2f}"


def _saved(saved: dict[str, Any]) -> dict[str, str]:
    se = saved["expected_loss_se"]
    loss = _signed_money(saved["expected_loss"])
    if se is not None:
        loss += f" ± {1.96 * se:,.2f}"
    liq = f"{100 * saved['p_liquidation']:+.2f} pts"
    if saved["p_liquidation_se"] is not None:
        liq += f" ± {196 * saved['p_liquidation_se']:.2f}"
    return {"expected_loss": loss, "p_liquidation": liq, "es_99": _signed_money(saved["es_99"])}


def _row(mode: str, r: dict[str, Any]) -> dict[str, Any]:
    fired = {}
    for key, _ in RULES:
        text = pct(r[key]["p_fired"])
        if key == "top_up" and r[key]["p_fired"] > 0:
            text += f" ({money(r[key]['amount_mean'])} per path)"
        fired[key] = text
    bare = r["without_rules"]
    return {
        "mode": mode,
        "fired": fired,
        "without": {
            "p_liquidation": pct(bare["p_liquidation"]),
            "expected_loss": money(bare["expected_loss"]),
            "es_99": money(bare["es_99"]),
        },
        "saved": _saved(r["saved"]),
    }


def rules_section(port: dict[str, Any], modes: list[str], paths: int) -> dict[str, Any] | None:
    """The rules table of one portfolio of summary.json, or None when it has no rule."""
    if "rules" not in port["modes"][modes[0]]:
        return None
    rows = [_row(mode, port["modes"][mode]["rules"]) for mode in modes]
    kept = port["modes"][modes[0]]["rules"]["paths"]
    text = (
        "Share of paths on which each of the trader's rules fired at least once; then the same "
        "book with no rule on the same paths, and what the rules saved (positive) or cost "
        "(negative): expected loss and liquidation probability paired path by path, with their "
        "95 % intervals, and ES99."
    )
    if kept < paths:
        text += f" Computed on the first {kept:,} of {paths:,} paths (the run's memory budget)."
    return {
        "names": [name for _, name in RULES],
        "rule_keys": [key for key, _ in RULES],
        "rows": rows,
        "text": text,
    }
