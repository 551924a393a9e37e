"""`stress calibrate`: fit a model to price history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stress.cli.common import (
    JsonOpt,
    app,
    err,
    on_interrupt,
    out,
)
from stress.errors import one_line


@app.command("calibrate")
def calibrate_cmd(
    prices: Annotated[
        list[Path],
        typer.Argument(
            help="Price files (.csv or .csv.gz, OHLCV with a timestamp and a close), one per "
            "asset; the asset is named after the file (binance_spot_BTCUSDT_1h.csv -> BTC).",
            show_default=False,
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="gbm, merton, student_t, or conditional volatility: garch (GJR-GARCH-t), fhs "
            "(filtered historical simulation) or ewma (RiskMetrics).",
        ),
    ] = "gbm",
    since: Annotated[
        str | None, typer.Option("--since", help="First bar to use: a date or ISO time (UTC).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Last bar to use: a date (the whole day) or ISO time (UTC)."),
    ] = None,
    halflife_days: Annotated[
        float | None,
        typer.Option(
            "--halflife-days",
            help="Weight returns by 0.5 ** (age / half-life) (not for garch, fhs, ewma).",
        ),
    ] = None,
    decay: Annotated[
        float | None,
        typer.Option("--decay", help="ewma: decay of daily variances (default 0.94)."),
    ] = None,
    half_life_hours: Annotated[
        float | None,
        typer.Option("--half-life-hours", help="ewma: half-life of its weights, instead."),
    ] = None,
    drift: Annotated[
        bool, typer.Option("--drift", help="Write the estimated drift (default: drift 0).")
    ] = False,
    names: Annotated[
        list[str] | None,
        typer.Option("--name", help="NAME=FILE: name the asset of FILE (repeatable)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the model block to this YAML file.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit a model to price history; print estimates with standard errors and a model: block.

    For garch, fhs and ewma the block names only the price files and the window: a run
    re-estimates the fit from those files when it is prepared.
    """
    from stress.history.calibrate import (
        calibrate,
        check_halflife,
        check_model,
        check_window,
        model_yaml,
        name_files,
    )
    from stress.history.garch_report import check_options
    from stress.output.files import check_file_target, write_atomic

    check_model(model, "--model")
    check_halflife(halflife_days, "--halflife-days")
    labels = ("--halflife-days", "--drift", "--decay", "--half-life-hours")
    check_options(model, halflife_days, drift, decay, half_life_hours, labels)
    check_window(since, until, ("--since", "--until"))
    files = name_files(prices, names or [], "--name")
    if output is not None:
        check_file_target(output, "-o")  # before fitting: a place it could never be written
    result = calibrate(files, model, since, until, halflife_days, drift, decay, half_life_hours)
    if output is not None:
        write_atomic(output, model_yaml(result))
    with on_interrupt(lambda: "nothing written" if output is None else f"{output} was written"):
        _print_calibration(result, output, as_json)


def _print_calibration(result: dict, output: Path | None, as_json: bool) -> None:
    from stress.history.calibrate import model_yaml, se_lines, summary_line
    from stress.output.publish import json_text

    if as_json:
        print(json_text(result), end="")
    else:
        out.print(summary_line(result), markup=False)
        for line in se_lines(result):
            out.print(f"  {line}", markup=False)
        out.print(f"standard errors: {result['diagnostics']['standard_errors']}", markup=False)
        if "refit" in result["diagnostics"]:  # garch, fhs, ewma
            out.print(f"model block: {result['diagnostics']['refit']}", markup=False)
        if output is None:
            out.print(model_yaml(result, comments=False), markup=False, end="")
    if not result["diagnostics"]["converged"]:
        err.print(f"warning: {result['diagnostics']['message']}", markup=False)
    if output is not None:
        err.print(one_line(f"wrote {output}"), markup=False)
