"""The terminal tables of `stress backtest`, read from its ``--json`` structure
(`BacktestResult.to_dict`) so that the two agree.

Two tables, one row per position: the mean forecast of each model with its ratio to the realised
frequency (the realised one with its 95 % interval, and the other realisation, closes or wicks,
for reference); then each model's Brier skill against climatology with the p-value of the
coverage test. A line per position gives Christoffersen's independence test of the events.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

OTHER = {"wicks": "closes", "closes": "wicks"}
WHAT = {
    "wicks": "the bars' lows and highs (wicks)",
    "closes": "hourly closes only",
}


def pct(x: float | None, digits: int = 1) -> str:
    """A probability in percent; ``n/a`` for None (what JSON makes of NaN)."""
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def ratio_text(r: float | None) -> str:
    """``x1.05``; ``n/a`` for None (nothing happened)."""
    return "n/a" if r is None else f"x{r:.2f}"


def heading(data: dict[str, Any]) -> str:
    """One line: asset, windows, paths, and what the realised events were read from."""
    test, train = data["test"], data["train"]
    step = 60 * data["bar_hours"] / data["steps_per_bar"]
    refit = "" if data["refit_days"] is None else f", refitted every {data['refit_days']} days"
    return (
        f"{data['asset']} ({data['file']}): {test['days']:,} days {test['first_day']}.."
        f"{test['last_day']}, forecasts fitted on {train['since']}..{train['until']}{refit}; "
        f"{data['paths']:,} paths a day on {step:g}-minute steps, seed {data['seed']}; "
        f"realised from {WHAT[data['realised_from']]}; {data['notional']:,.0f} USDT isolated, "
        f"{data['brackets']}"
    )


def frequency_table(data: dict[str, Any]) -> Table:
    """Mean forecast (ratio to realised) per position and model."""
    used = data["realised_from"]
    other = OTHER[used]
    table = Table(title=Text("mean forecast P(liq) per day (x realised)"), title_justify="left")
    table.add_column("position")
    table.add_column(f"realised ({used})", justify="right")
    table.add_column("95% CI", justify="right")
    if data["has_wicks"]:
        table.add_column(f"{other}", justify="right")
    for model in data["models"]:
        table.add_column(model, justify="right")
    for pos in data["positions"]:
        real = pos["realised"]
        lo, hi = real["ci"]
        cells = [Text(pos["name"]), Text(pct(real["frequency"])), Text(f"{pct(lo)}-{pct(hi)}")]
        if data["has_wicks"]:
            cells.append(Text(pct(real[f"frequency_{other}"])))
        for model in data["models"]:
            f = pos["forecasts"][model]
            cells.append(Text(f"{pct(f['mean_predicted'])} ({ratio_text(f['ratio'])})"))
        table.add_row(*cells)
    return table


def skill_table(data: dict[str, Any]) -> Table:
    """Brier skill against climatology and the coverage p-value per position and model."""
    title = Text("Brier skill against climatology (coverage test p-value)")
    table = Table(title=title, title_justify="left")
    table.add_column("position")
    for model in data["models"]:
        table.add_column(model, justify="right")
    for pos in data["positions"]:
        cells = [Text(pos["name"])]
        for model in data["models"]:
            f = pos["forecasts"][model]
            skill = f["brier_skill"]
            shown = "n/a" if skill is None else f"{skill:+.3f}"
            cells.append(Text(f"{shown} (p {f['coverage']['p_value']:.2g})"))
        table.add_row(*cells)
    return table


def independence_lines(data: dict[str, Any]) -> list[str]:
    """Christoffersen's test per position: do the liquidation days cluster?"""
    lines = []
    for pos in data["positions"]:
        ind = pos["realised"]["independence"]
        lines.append(
            f"{pos['name']}: after a liquidation day {pct(ind['pi11'])} liquidate, after a quiet "
            f"day {pct(ind['pi01'])} (independence LR {ind['lr']:.2f}, p {ind['p_value']:.2g})"
        )
    return lines


def print_backtest(console: Console, data: dict[str, Any]) -> None:
    """Heading, the two tables, the independence lines and the time taken."""
    console.print(Text(heading(data)))
    console.print(frequency_table(data))
    console.print(skill_table(data))
    console.print(Text("Independence of the liquidation days (Christoffersen):"))
    for line in independence_lines(data):
        console.print(Text(f"  {line}"))
    console.print(Text(f"{data['elapsed_seconds']:.1f} s"))
