"""The terminal tables of `stress optimise`: the pick, its ties and the pure modes, then the
frontier. Read from the ``--json`` structure (`OptimiseResult.to_dict`), so the two agree.

User text (position ids) goes in as `rich.text.Text`, never as markup.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

MAX_TIED = 8
"""Tied candidates listed at most (all of them: --json)."""
MAX_FRONTIER = 12
"""Frontier candidates listed at most (all of them: --json, --report)."""


def arrangement_text(entry: dict[str, Any]) -> str:
    """``isolated sol-long 7,500 (1.25x); cross eth-long, btc-short``."""
    iso = [p for p in entry["positions"] if p["margin_mode"] == "isolated"]
    cross = [p["id"] for p in entry["positions"] if p["margin_mode"] == "cross"]
    levs = {p["leverage"] for p in entry["positions"]}
    lev = len(levs) > 1 or any(p["leverage"] != entry["positions"][0]["leverage"] for p in iso)

    def at(p: dict[str, Any]) -> str:
        return f" @{p['leverage']:g}x" if lev else ""

    parts = []
    if iso:
        held = ", ".join(
            f"{p['id']} {p['margin']:,.0f} ({p['margin_multiple']:g}x){at(p)}" for p in iso
        )
        parts.append(f"isolated {held}")
    if cross:
        parts.append("cross " + ("all" if not iso else ", ".join(cross)))
    return "; ".join(parts)


def _row(table: Table, label: str, entry: dict[str, Any] | None, style: str = "") -> None:
    if entry is None:
        table.add_row(Text(label), Text("cannot be opened with this wallet and these tiers"))
        return
    lo, hi = entry["p_liquidation_ci"]
    table.add_row(
        Text(label, style=style),
        Text(arrangement_text(entry)),
        Text(f"{100 * entry['p_liquidation']:.2f}%", style=style),
        Text(f"{100 * lo:.2f}-{100 * hi:.2f}%"),
        Text(f"{entry['es_99']:,.0f}", style=style),
        Text(f"{entry['expected_loss']:,.0f}"),
        Text(f"{100 * entry['p_ruin']:.2f}%"),
        Text("yes" if entry["fits"] else "no"),
    )


def _table(title: Text) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("candidate")
    table.add_column("arrangement (margins in USDT, x initial margin)")
    for head in ("P(liq)", "95% CI", "ES99", "E(loss)", "P(ruin)", "fits"):
        table.add_column(head, justify="right")
    return table


def pick_table(data: dict[str, Any]) -> Table:
    """The best (or none), the candidates tied with it, the pure modes and the config."""
    search = data["search"]
    dropped = sum(r["dropped"] for r in search["rounds_run"])
    title = Text(
        f"{data['name']}: {data['paths']:,} paths, seed {data['seed']}, risk capital "
        f"{data['risk_capital']:,.0f} USDT; {search['evaluated']:,} candidates in "
        f"{len(search['rounds_run'])} round(s) ({dropped:,} could not be opened)"
    )
    table = _table(title)
    if data["best"] is None:
        table.add_row(Text("best", style="bold"), Text("none fits the risk capital", style="bold"))
    else:
        _row(table, "best", data["best"], "bold green")
    for entry in data["tied"][:MAX_TIED]:
        _row(table, f"tied {entry['name']}", entry)
    if len(data["tied"]) > MAX_TIED:
        table.add_row(Text(f"... {len(data['tied']) - MAX_TIED} more tied: --json"))
    table.add_section()
    _row(table, "pure cross", data["pure_modes"]["cross"])
    _row(table, "pure isolated", data["pure_modes"]["isolated"])
    _row(table, "as configured", data["as_configured"])
    return table


def frontier_table(data: dict[str, Any]) -> Table:
    """The candidates no other beats on both P(liq) and ES99, by ES99."""
    front = data["frontier"]
    title = Text(
        f"frontier: {len(front)} candidate(s) no other beats on both P(liq) and ES99"
        + (
            f" (the first {MAX_FRONTIER}; all: --json, --report)"
            if len(front) > MAX_FRONTIER
            else ""
        )
    )
    table = _table(title)
    for entry in front[:MAX_FRONTIER]:
        _row(table, entry["name"], entry)
    return table


def print_optimise(console: Console, data: dict[str, Any]) -> None:
    console.print(pick_table(data))
    console.print(frontier_table(data))
    console.print(Text(data["verdict"]))
    for note in data["notes"]:
        console.print(Text(f"note: {note}", style="dim"))
    console.print(Text(data["rule"], style="dim"))
