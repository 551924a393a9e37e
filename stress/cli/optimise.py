"""`stress optimise`: the hybrid split with the lowest liquidation probability within the risk
capital, with its ties, the frontier and the pure modes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stress.cli.common import (
    ConfigArg,
    JsonOpt,
    PathsOpt,
    SeedOpt,
    app,
    err,
    on_interrupt,
    out,
    progress_runner,
)
from stress.errors import ConfigError, one_line

RiskCapitalOpt = Annotated[
    float | None,
    typer.Option(
        "--risk-capital",
        help="Override account.risk_capital: the USDT you can afford to lose (ES99 must stay "
        "within it).",
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output",
        help="Write the chosen arrangement as a ready-to-run config (.yaml); not written when "
        "nothing fits.",
    ),
]
ReportOpt = Annotated[
    Path | None,
    typer.Option("--report", help="Write a self-contained HTML page with the frontier."),
]


def _check_targets(output: Path | None, report: Path | None) -> None:
    """Refuse, before any work, a file that could not be written or read back."""
    from stress.output.files import check_file_target
    from stress.output.optimise_config import SUFFIXES

    if output is not None:
        if output.suffix.lower() not in SUFFIXES:
            raise ConfigError(f"-o: expected a .yaml or .yml file (a config), got {output}")
        check_file_target(output, "-o")
    if report is not None:
        check_file_target(report, "--report")
    if output is not None and report is not None and output.resolve() == report.resolve():
        raise ConfigError(f"--report: expected another file than -o, got {report} for both")


def _search(config: Path, paths: int | None, seed: int | None, risk_capital: float | None):
    """Run the search with a progress bar on a terminal (a round at a time)."""
    from stress.pipeline.optimise import optimise
    from stress.pipeline.prepare import CLI_NAMES

    bar, tick = progress_runner(1)
    if bar is None:
        return optimise(config, paths, seed, risk_capital, names=CLI_NAMES)
    task = bar.task_ids[0]

    def on_round(round_no: int, rounds: int, candidates: int, paths_per_round: int) -> None:
        bar.reset(task, total=paths_per_round)
        bar.update(task, description=f"round {round_no}/{rounds}: {candidates:,} candidates")

    with bar:
        return optimise(
            config, paths, seed, risk_capital, progress=tick, on_round=on_round, names=CLI_NAMES
        )


@app.command("optimise")
def optimise_cmd(
    config: ConfigArg,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    risk_capital: RiskCapitalOpt = None,
    as_json: JsonOpt = False,
    output: OutputOpt = None,
    report: ReportOpt = None,
) -> None:
    """Choose which positions to isolate and with how much margin: the lowest liquidation
    probability whose ES99 stays within the risk capital, every candidate on the same paths."""
    from stress.output.files import write_atomic
    from stress.output.optimise_config import best_yaml
    from stress.output.optimise_table import print_optimise
    from stress.output.publish import json_text
    from stress.output.report.optimise_page import render_optimise

    _check_targets(output, report)
    result = _search(config, paths, seed, risk_capital)
    data = result.to_dict()
    text = None if output is None else best_yaml(result, output)
    written: list[Path] = []

    def note() -> str:
        return "nothing written" if not written else f"{', '.join(map(str, written))} written"

    with on_interrupt(note):
        if report is not None:
            write_atomic(report, render_optimise(data, text or best_yaml(result, report)))
            written.append(report)
        if text is not None:
            write_atomic(output, text)
            written.append(output)
        if as_json:
            print(json_text(data), end="")
        else:
            print_optimise(out, data)
        if output is not None and text is None:
            err.print(
                one_line(f"note: nothing fits the risk capital: {output} not written"), markup=False
            )
        if written:
            err.print(one_line(f"wrote {', '.join(map(str, written))}"), markup=False)
