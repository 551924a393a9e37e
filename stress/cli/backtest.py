"""`stress backtest`: one-day liquidation forecasts, day by day, against what happened."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stress.cli.common import JsonOpt, app, err, on_interrupt, out, progress_runner
from stress.errors import one_line

FilesArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Price files (.csv or .csv.gz with open, high, low, close); default: the shipped "
        "data/binance_spot_BTCUSDT_1h.csv.gz (run from the repository root).",
        metavar="PRICES",
        show_default=False,
    ),
]


def _opt(name: str, text: str, **extra):
    return typer.Option(name, help=text, **extra)


def _run(files, options: dict):
    """The backtest, with a progress bar on a terminal (a model's days at a time)."""
    from stress.pipeline.backtest import backtest
    from stress.pipeline.backtest_options import CLI_LABELS

    bar, tick = progress_runner(1)
    if bar is None:
        return backtest(files, **options, labels=CLI_LABELS)
    task = bar.task_ids[0]

    def on_model(name: str, days: int) -> None:
        bar.reset(task, total=days)
        bar.update(task, description=f"{name}: simulating days")

    bar.update(task, description="reading and fitting")
    with bar:
        return backtest(files, **options, progress=tick, on_model=on_model, labels=CLI_LABELS)


@app.command("backtest")
def backtest_cmd(
    files: FilesArg = None,
    asset: Annotated[
        str | None, _opt("--asset", "The asset to use when several files are given (BTC).")
    ] = None,
    leverages: Annotated[str, _opt("--leverages", "Leverages, one position each.")] = "10,25,50",
    sides: Annotated[str, _opt("--sides", "long, short or both.")] = "long,short",
    train: Annotated[
        str, _opt("--train", "FIRST:LAST days the models are fitted to (UTC).")
    ] = "2018-01-01:2021-12-31",
    test: Annotated[
        str, _opt("--test", "FIRST:LAST days forecast, each from the data before it.")
    ] = "2022-01-01:2023-12-31",
    models: Annotated[
        str, _opt("--models", "Some of garch, fhs, ewma, gbm (climatology always).")
    ] = "garch,fhs,ewma,gbm",
    paths: Annotated[int, _opt("--paths", "Simulated paths per day and model.")] = 2000,
    seed: Annotated[int, _opt("--seed", "Seed of the days' random streams.")] = 13,
    notional: Annotated[float, _opt("--notional", "USDT per position.")] = 10_000.0,
    closes_only: Annotated[
        bool, _opt("--closes-only", "Judge (and simulate) by hourly closes, not the wicks.")
    ] = False,
    refit_days: Annotated[
        int | None,
        _opt("--refit-days", "Refit garch, fhs, ewma every N days (default: fit once, filter)."),
    ] = None,
    as_json: JsonOpt = False,
    report: Annotated[
        Path | None, _opt("--report", "Write an HTML page with the reliability diagrams.")
    ] = None,
) -> None:
    """Rolling backtest of one-day liquidation forecasts against what happened.

    Every day of the test window, each model's P(liq) from the data before that day against
    whether the position was liquidated (by the bars' wicks): mean forecast against realised
    frequency, Brier skill against climatology, coverage and independence tests.
    """
    from stress.output.backtest_table import print_backtest
    from stress.output.files import check_file_target, write_atomic
    from stress.output.publish import json_text, jsonable
    from stress.output.report.backtest_page import render_backtest

    if report is not None:
        check_file_target(report, "--report")
    options = dict(
        asset=asset, leverages=leverages, sides=sides, train=train, test=test, models=models,
        paths=paths, seed=seed, notional=notional, closes_only=closes_only,
        refit_days=refit_days,
    )  # fmt: skip
    data = jsonable(_run(files, options).to_dict())
    written = []
    with on_interrupt(lambda: f"{report} written" if written else "nothing written"):
        if report is not None:
            write_atomic(report, render_backtest(data))
            written.append(report)
        if as_json:
            print(json_text(data), end="")
        else:
            print_backtest(out, data)
        if written:
            err.print(one_line(f"wrote {report}"), markup=False)
