"""Terminal tables for `stress run` and `stress compare`: the modes side by side, winners marked.

User text (portfolio names) goes in as `rich.text.Text`, never as markup, so a name with
brackets prints as written.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from stress.output.rule_table import rules_table

MANY_PORTFOLIOS = 10
"""Above this many portfolios, one summary row per portfolio instead of a table each."""

COLUMNS = (
    ("P(liq)", "p_liquidation", "pct"),
    ("95% CI", "p_liquidation_ci", "ci"),
    ("P(ruin)", "p_ruin", "pct"),
    ("E(loss)", "expected_loss", "money"),
    ("VaR99", "var_99", "money"),
    ("ES99", "es_99", "money"),
    ("bad debt", "bad_debt_mean", "money"),
    ("TTL p50 (h)", "time_to_liquidation_hours", "ttl"),
)
_SHOWN = (("p_liquidation", "pct"), ("es_99", "money"), ("expected_loss", "money"))
NO_PICK = "no pick"
"""Where a verdict recommends no mode (no rule decided, or nothing fits the risk capital)."""
_WINNER_KEY = {"p_liquidation_ci": None, "var_99": None, "time_to_liquidation_hours": None}


def _percent(p: float) -> str:
    """Two decimals, or two significant digits below 0.01 % (importance sampling estimates
    probabilities of 1e-5 and less, which two decimals would show as 0.00 %)."""
    x = 100 * p
    return f"{x:.2g}" if 0 < abs(x) < 0.01 else f"{x:.2f}"


def _cell(kind: str, value: Any) -> str:
    if kind == "pct":
        return f"{_percent(value)}%"
    if kind == "ci":
        return f"{_percent(value[0])}-{_percent(value[1])}%"
    if kind == "ttl":
        return "-" if value is None else f"{value['p50']:,.1f}"
    return f"{value:,.2f}"


def portfolio_table(data: dict, port: dict) -> Table:
    """One row per mode; '*' marks the best value of a metric (ties within noise included)."""
    title = Text(f"{port['name']}: {data['paths']:,} paths, {data['horizon_days']:g} days, ")
    title.append(f"model {data['model']}, wallet {port['wallet']:,.0f} USDT")
    table = Table(title=title, title_justify="left")
    table.add_column("mode")
    for head, _, _ in COLUMNS:
        table.add_column(head, justify="right")
    verdict = port.get("verdict") or {}
    winners = verdict.get("winners", {})
    for mode, m in port["modes"].items():
        label = Text(mode)
        if mode == verdict.get("recommended"):
            label = Text(f"{mode} (recommended)", style="bold")
        cells = [label]
        for _, key, kind in COLUMNS:
            text = _cell(kind, m[key])
            best = key not in _WINNER_KEY and mode in winners.get(key, ())
            cells.append(Text(text + " *", style="bold green") if best else Text(text + "  "))
        table.add_row(*cells)
    return table


def _shown_es(port: dict) -> float:
    """ES99 under the recommended mode; without a pick, the lowest of any mode."""
    rec = port["verdict"]["recommended"]
    if rec is not None:
        return port["modes"][rec]["es_99"]
    return min(m["es_99"] for m in port["modes"].values())


def many_portfolios_table(data: dict, rows: int = 20) -> Table:
    """The `rows` portfolios with the largest tail loss under their recommended mode (without a
    pick, their lowest tail loss of any mode)."""
    ports = sorted(data["portfolios"], key=_shown_es, reverse=True)
    title = Text(
        f"{len(ports)} portfolios, {data['paths']:,} paths: the {min(rows, len(ports))} with the "
        "largest ES99 under their recommended mode, or without one their lowest of any mode "
        "(all of them: results.parquet, report.html)"
    )
    table = Table(title=title, title_justify="left")
    for head in ("portfolio", "recommended", "P(liq)", "ES99", "E(loss)", "P(liq) per mode"):
        table.add_column(head, justify="left" if head in ("portfolio", "recommended") else "right")
    for port in ports[:rows]:
        rec = port["verdict"]["recommended"]
        per_mode = ", ".join(
            f"{k} {100 * v['p_liquidation']:.1f}%" for k, v in port["modes"].items()
        )
        if rec is None:
            cells = ["-", "-", "-"]
        else:
            m = port["modes"][rec]
            cells = [_cell(kind, m[key]) for key, kind in _SHOWN]
        table.add_row(Text(port["name"]), Text(rec or NO_PICK), *cells, Text(per_mode))
    return table


def recommendation_counts(data: dict) -> str:
    """'isolated 412, cross 698, no pick 3': how often each mode is recommended across
    portfolios."""
    counts: dict[str, int] = {}
    for port in data["portfolios"]:
        rec = port["verdict"]["recommended"] or NO_PICK
        counts[rec] = counts.get(rec, 0) + 1
    return ", ".join(f"{mode} {n:,}" for mode, n in sorted(counts.items(), key=lambda x: -x[1]))


def rules_in_use(data: dict) -> list[str]:
    """The verdict rules that decided across the run's portfolios, each once."""
    return list(dict.fromkeys(p["verdict"]["rule"] for p in data["portfolios"] if p.get("verdict")))


def scenario_table(data: dict, k_port: int) -> Table:
    """Compact: per scenario (base first) P(liq) and ES99 of each mode of portfolio `k_port`."""
    port = data["portfolios"][k_port]
    table = Table(
        title=Text(f"{port['name']}: stress scenarios on the same paths"), title_justify="left"
    )
    table.add_column("scenario")
    for mode in port["modes"]:
        table.add_column(f"P(liq) {mode}", justify="right")
        table.add_column(f"ES99 {mode}", justify="right")
    runs = [("base", port)] + [(s["name"], s["portfolios"][k_port]) for s in data["scenarios"]]
    for name, run in runs:
        cells = [Text(name)]
        for m in run["modes"].values():
            cells += [Text(_cell("pct", m["p_liquidation"])), Text(_cell("money", m["es_99"]))]
        table.add_row(*cells)
    return table


def print_comparison(console: Console, data: dict) -> None:
    """The tables and verdict lines of a run's summary (then its scenarios, if any)."""
    ports = data["portfolios"]
    if len(ports) > MANY_PORTFOLIOS:
        console.print(many_portfolios_table(data))
        console.print(Text(f"recommended mode across portfolios: {recommendation_counts(data)}"))
        for rule in rules_in_use(data):
            console.print(Text(f"Rule: {rule}", style="dim"))
        if data.get("scenarios"):
            console.print(Text("scenarios: see summary.json, results.parquet or report.html"))
        return
    for port in ports:
        console.print(portfolio_table(data, port))
        rules = rules_table(port)
        if rules is not None:
            console.print(rules)
        verdict = port.get("verdict")
        if verdict:
            console.print(Text("Verdict: " + verdict["headline"], style="bold"))
            if verdict["tradeoff"]:
                console.print(Text(verdict["tradeoff"]))
            console.print(Text(f"Rule: {verdict['rule']}", style="dim"))
        console.print(
            Text("* best value, or tied with the best within the 95 % paired interval", style="dim")
        )
    for k in range(len(ports)) if data.get("scenarios") else ():
        console.print(scenario_table(data, k))
