"""`stress import`: the user's own account, from the JSON files a venue gave them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stress.cli.common import (
    app,
    err,
)
from stress.errors import ConfigError, one_line


@app.command("import")
def import_cmd(
    positions: Annotated[
        Path,
        typer.Argument(
            help="The open positions: ccxt fetch_positions output, or Binance's "
            "/fapi/v2/positionRisk, as JSON.",
            show_default=False,
        ),
    ],
    tiers: Annotated[
        Path | None,
        typer.Option(
            "--tiers",
            help="The tier tables: ccxt fetch_leverage_tiers output, or Binance's "
            "/fapi/v1/leverageBracket, as JSON.",
        ),
    ] = None,
    balance: Annotated[
        Path | None,
        typer.Option(
            "--balance",
            help="The wallet: ccxt fetch_balance output (total minus the positions' unrealised "
            "PnL), or Binance's /fapi/v2/balance or /fapi/v2/account, as JSON.",
        ),
    ] = None,
    wallet: Annotated[
        float | None,
        typer.Option("--wallet", help="The wallet balance in USDT, instead of --balance."),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="A YAML file with a model: block (stress calibrate -o); default: a gbm with "
            "assumed volatilities, and a warning.",
        ),
    ] = None,
    venue: Annotated[
        str | None,
        typer.Option("--venue", help="A preset (stress venues): fee, funding, process."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the config to this file.")
    ] = None,
) -> None:
    """An account's own files (positions, tiers, balance) as a config; nothing is fetched."""
    import yaml

    from stress.config.load import parse_config
    from stress.output.files import check_file_target, write_atomic
    from stress.pipeline.prepare import prepare
    from stress.venues.account import check_options, import_account

    check_options(balance, wallet, venue)
    if output is not None:
        check_file_target(output, "-o")  # before reading: a place it could never be written
    made = import_account(
        positions, tiers=tiers, balance=balance, wallet=wallet, model=model, venue=venue,
        output=output,
    )  # fmt: skip
    for line in made.warnings:
        err.print(one_line(f"warning: {line}"), markup=False)
    target = "the imported config" if output is None else str(output)
    folder = Path.cwd() if output is None else output.absolute().parent
    try:  # what needs the whole book: every mode funded, leverage within the tiers, history
        prepare(parse_config(yaml.safe_load(made.text), target, folder), check_cost=False)
    except ConfigError as exc:
        err.print(
            one_line(f"warning: {exc} (stress runs the config once that changes)"), markup=False
        )
    if output is None:
        print(made.text, end="")
        return
    write_atomic(output, made.text)
    err.print(one_line(f"wrote {output}"), markup=False)
