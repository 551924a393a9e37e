"""The scenario table of the report: each stress scenario beside the base run, per mode.

Read from the summary.json structure only (`RunResult.to_dict()`), so the page shows exactly
the numbers of summary.json, at the precision of `stress.output.report.fmt`.
"""

from __future__ import annotations

from typing import Any

from stress.output.report.fmt import money, pct

MAX_PORTFOLIOS = 10
"""Portfolios given a scenario table; a sweep's others are in summary.json and results.parquet."""

METRICS = (
    ("p_liquidation", "P(liquidation)", "", pct),
    ("es_99", "ES 99\u00a0%", "USDT", money),
    ("bad_debt_mean", "bad debt, mean", "USDT", money),
)


def _row(name: str, description: str, port: dict[str, Any], modes: list[str]) -> dict:
    cells = []
    for mode in modes:
        m = port["modes"][mode]
        for key, _, _, fmt in METRICS:
            cells.append({"mode": mode, "metric": key, "text": fmt(m[key])})
    return {"name": name, "description": description, "cells": cells}


def scenario_tables(data: dict[str, Any], chosen: list[int]) -> dict[str, Any] | None:
    """Template context of the scenario section; None when the run has no scenarios.

    Parameters
    ----------
    data : the run's summary.json structure
    chosen : indices of the portfolios shown in detail; their tables come first, and at most
        `MAX_PORTFOLIOS` tables are drawn in all
    """
    scenarios = data.get("scenarios") or []
    if not scenarios:
        return None
    ports = data["portfolios"]
    order = list(chosen) + [i for i in range(len(ports)) if i not in chosen]
    shown = order[:MAX_PORTFOLIOS]
    tables = []
    for i in shown:
        port = ports[i]
        modes = list(port["modes"])
        rows = [_row("base", "the configured model and exchange, unchanged", port, modes)]
        rows += [_row(s["name"], s["description"], s["portfolios"][i], modes) for s in scenarios]
        tables.append({"portfolio": port["name"], "modes": modes, "rows": rows})
    left = len(ports) - len(shown)
    return {
        "metrics": [(key, head, unit) for key, head, unit, _ in METRICS],
        "tables": tables,
        "paths": data["paths"],
        "more": (
            f"{left:,} more portfolio{'s' * (left != 1)} in summary.json and results.parquet."
            if left > 0
            else ""
        ),
    }
