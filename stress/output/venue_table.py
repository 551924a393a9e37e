"""The terminal table of ``stress compare --venues``: each venue per portfolio and mode."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from stress.output.terminal import MANY_PORTFOLIOS


def _pct(x: float) -> str:
    return f"{x:.2%}"


def _diff(d: dict[str, Any], pct: bool) -> str:
    show = _pct if pct else (lambda x: f"{x:,.2f}")
    mark = "" if d["distinguishable"] else " ~"
    lo, hi = d["ci"]
    sign = "+" if d["difference"] >= 0 else ""
    return f"{sign}{show(d['difference'])} [{show(lo)}, {show(hi)}]{mark}"


def venue_rows(data: dict[str, Any], port: dict[str, Any]) -> Table:
    """One portfolio: a row per (mode, venue)."""
    ref = data["reference"]
    table = Table(title=f"{port['name']}: venues on the same {data['paths']:,} paths")
    for col in ("mode", "venue", "P(liq) [95 % CI]", "ES99", "bad debt", f"P(liq) vs {ref}"):
        table.add_column(col, justify="left" if col in ("mode", "venue") else "right")
    table.add_column(f"ES99 vs {ref}", justify="right")
    for mode, rows in port["modes"].items():
        for venue, row in rows.items():
            if not row.get("feasible", True):
                table.add_row(mode, venue, "cannot be opened here", "", "", "", "")
                continue
            lo, hi = row["p_liquidation_ci"]
            versus = row.get("versus_" + ref)
            table.add_row(
                mode,
                venue,
                f"{_pct(row['p_liquidation'])} [{_pct(lo)}, {_pct(hi)}]",
                f"{row['es_99']:,.2f}",
                f"{row['bad_debt_mean']:,.2f}",
                "reference" if versus is None else _diff(versus["p_liquidation"], True),
                "" if versus is None else _diff(versus["es_99"], False),
            )
        table.add_section()
    return table


def print_venues(console: Console, data: dict[str, Any]) -> None:
    ports = data["portfolios"]
    for port in ports[:MANY_PORTFOLIOS]:
        console.print(venue_rows(data, port))
    if len(ports) > MANY_PORTFOLIOS:
        console.print(Text(f"... and {len(ports) - MANY_PORTFOLIOS:,} more portfolios: --json"))
    console.print(
        Text(
            "differences are paired (same paths); ~ marks one within its 95 % interval",
            style="dim",
        )
    )
