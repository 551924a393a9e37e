"""`stress liqprice`, `stress validate` and `stress venues`: what a config or venue says."""

from __future__ import annotations

import json
import math

from rich.table import Table

from stress.cli.common import (
    ConfigArg,
    JsonOpt,
    app,
    out,
    prepare_plan,
)
from stress.errors import one_line


@app.command("liqprice")
def liqprice_cmd(config: ConfigArg, as_json: JsonOpt = False) -> None:
    """Closed-form liquidation price of every position under each mode, at current marks.

    Each position's asset moves alone (with every position of the bucket on it); the price
    shown is the nearer to the mark of the highest one at or below it and the lowest at or
    above it, both also shown.
    """
    from stress.pipeline.api import liquidation_prices

    df = liquidation_prices(config)
    keys = ("liquidation_price", "liquidation_price_below", "liquidation_price_above")
    rows = [
        {
            "portfolio": r["portfolio"],
            "id": r["id"],
            "asset": r["asset"],
            "mode": r["mode"],
            **{k: None if math.isnan(r[k]) else float(r[k]) for k in keys},
        }
        for r in df.to_dict("records")
    ]
    if as_json:
        print(json.dumps({"positions": rows}, indent=2))
        return
    table = Table(title="liquidation prices at current marks")
    for col in ("portfolio", "id", "asset", "mode"):
        table.add_column(col)
    for col in ("liquidation price", "below mark", "above mark"):
        table.add_column(col, justify="right")
    for r in rows:
        shown = ("none" if r[k] is None else f"{r[k]:,.2f}" for k in keys)
        table.add_row(r["portfolio"], r["id"], r["asset"], r["mode"], *shown)
    out.print(table)


@app.command("validate")
def validate_cmd(config: ConfigArg) -> None:
    """Check the config and prepare the run (history, portfolios, sweep, cost); simulate nothing.

    Prints what the config describes.
    """
    plan = prepare_plan(config, None, None)
    cfg = plan.config
    n_pos = sum(len(p.positions) for p in plan.portfolios)
    out.print(
        f"ok: {one_line(str(config))}: {len(plan.portfolios)} portfolio(s), {n_pos} position(s), "
        f"model {cfg.model.type}, modes {', '.join(cfg.modes)}",
        markup=False,
    )


@app.command("venues")
def venues_cmd(as_json: JsonOpt = False) -> None:
    """The venue presets: their snapshot date, liquidation process and what each one models."""
    from stress.venues.presets import presets

    rows = [
        {
            "name": p.name,
            "title": p.title,
            "snapshot": p.snapshot,
            "process": p.exchange["liquidation"]["process"],
            "funding_hours": p.exchange["funding"]["interval_hours"],
            "models": p.models,
            "sources": list(p.sources),
            "unverified": list(p.unverified),
        }
        for p in presets()
    ]
    if as_json:
        print(json.dumps({"presets": rows}, indent=2))
        return
    table = Table(title="venue presets (exchange: {preset: NAME})", show_lines=True)
    for col in ("preset", "snapshot", "process", "funding", "what it models"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            f"{r['name']}\n{r['title']}",
            r["snapshot"],
            r["process"],
            f"every {r['funding_hours']:g} h",
            r["models"],
        )
    out.print(table)
    out.print("sources and unverified numbers: stress venues --json, or the files themselves")
