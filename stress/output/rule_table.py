"""The terminal table of the trader's rules: how often each fired per mode, what they saved."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

RULES = (
    ("stop_loss", "stop"),
    ("reduce", "reduce"),
    ("top_up", "top-up"),
    ("hard_stop", "hard stop"),
)


def rules_table(port: dict) -> Table | None:
    """One row per mode of a portfolio of summary.json, or None when it has no rule."""
    modes = port["modes"]
    if not modes or "rules" not in next(iter(modes.values())):
        return None
    table = Table(title=Text(f"{port['name']}: the trader's rules"), title_justify="left")
    table.add_column("mode")
    for _, head in RULES:
        table.add_column(f"{head} fired", justify="right")
    for head in ("P(liq) w/o rules", "E(loss) saved", "ES99 saved"):
        table.add_column(head, justify="right")
    for mode, m in modes.items():
        r = m["rules"]
        saved = r["saved"]
        loss = f"{saved['expected_loss']:+,.2f}"
        if saved["expected_loss_se"] is not None:
            loss += f" ± {1.96 * saved['expected_loss_se']:,.2f}"
        table.add_row(
            Text(mode),
            *(f"{100 * r[key]['p_fired']:.2f}%" for key, _ in RULES),
            f"{100 * r['without_rules']['p_liquidation']:.2f}%",
            loss,
            f"{saved['es_99']:+,.2f}",
        )
    return table
