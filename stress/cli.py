"""The `stress` command: parse, call the API, print.

Exit 0 ok, 2 bad input, 1 failure, 130 interrupted (SIGINT), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from stress.errors import ConfigError, one_line
from stress.output.files import OutputFolder
from stress.output.terminal import print_comparison

if TYPE_CHECKING:
    from stress.pipeline.prepare import Plan

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Monte Carlo stress tests of leveraged perpetual-futures portfolios under "
    "isolated, cross and hybrid margin.",
)
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigArg = Annotated[Path, typer.Argument(help="YAML or TOML config file.", show_default=False)]
PathsOpt = Annotated[int | None, typer.Option("--paths", help="Override simulation.paths.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Override the seed.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
ObjectiveOpt = Annotated[
    str,
    typer.Option(
        "--objective",
        help="What the recommended mode minimises: es_99 (tail loss), p_liquidation or "
        "expected_loss.",
    ),
]


def _progress_runner(n_paths: int):
    """A rich progress bar on a terminal; nothing when stderr is not a TTY."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    if not sys.stderr.isatty():
        return None, None
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task("simulating paths", total=n_paths)
    return bar, lambda done: bar.advance(task, done)


class Interrupted(BaseException):
    """SIGINT or SIGTERM, raised where the command was, so that its `finally` blocks run.

    A BaseException like KeyboardInterrupt, so that no ``except Exception`` takes it for a
    failure. ``note`` says what the command leaves behind; commands that write set it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.note = "nothing written"

    def line(self) -> str:
        verb = "interrupted" if self.signum == signal.SIGINT else "terminated"
        return f"{verb}; {self.note}"


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Interrupted` during the block; the old handlers come back after.

    Only the first signal raises: a second one, while the first unwinds the command, is
    ignored so that the cleanup under way (temporary files, created folders) is not cut short.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers, and only it runs them
        return
    raised = False

    def handler(signum: int, _frame: object) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Interrupted(signum)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # a signal the caller ignores stays ignored (a job started in the background by a script)
    previous = {s: old for s, old in previous.items() if old is not signal.SIG_IGN}
    for signum in previous:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            if old is not None:  # None: set outside Python, and left as it was
                signal.signal(signum, old)


@contextmanager
def _on_interrupt(note: Callable[[], str]) -> Iterator[None]:
    """An interruption in the block says ``note()`` (asked then) about what was written."""
    try:
        yield
    except Interrupted as exc:
        exc.note = note()
        raise


def _run_note(folder: OutputFolder) -> str:
    if folder.published:
        return f"the outputs in {folder.path} are complete"
    if folder.created and not folder.path.exists():
        return f"nothing written; {folder.path} did not exist and still does not"
    return f"nothing written; the files already in {folder.path} are untouched"


def _prepare(config: Path, paths: int | None, seed: int | None, objective: str = "es_99"):
    """Options checked before any work (named as typed), then the config loaded and prepared."""
    from stress.pipeline.prepare import CLI_NAMES, check_overrides, prepare

    check_overrides(paths, seed, objective, names=CLI_NAMES)
    return prepare(config, paths, seed, objective=objective, names=CLI_NAMES)


def _simulate(plan: Plan):
    """Run a prepared plan, with a progress bar on a terminal."""
    from stress.pipeline.simulate import simulate

    bar, tick = _progress_runner(plan.paths * (1 + len(plan.config.scenarios)))  # scenarios rerun
    if bar is None:
        return simulate(plan)
    with bar:
        return simulate(plan, tick)


@app.command("run")
def run_cmd(
    config: ConfigArg,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder [default: reports/<name>/]."),
    ] = None,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    objective: ObjectiveOpt = "es_99",
    per_path: Annotated[
        bool,
        typer.Option(
            "--per-path",
            help="Also write paths.parquet: every path's outcome per scenario, portfolio and mode.",
        ),
    ] = False,
) -> None:
    """Full stress run: writes report.html, summary.json, results.parquet and manifest.json."""
    import warnings

    from stress.output.publish import check_output_names, output_names, write_outputs
    from stress.pipeline.per_path import kept_note

    plan = _prepare(config, paths, seed, objective)
    name = plan.config.name
    folder = OutputFolder(out_dir if out_dir is not None else Path("reports") / name, "--out")
    with _on_interrupt(lambda: _run_note(folder)):
        # Held from before simulating: a folder that cannot be written, a folder in the way of
        # an output or a concurrent run into it is found before any work.
        with folder:
            check_output_names(folder.path, output_names(per_path), "--out")
            result = _simulate(plan)
            data = result.to_dict()
            table = None
            if per_path:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # said below, in the CLI's words
                    table = result.per_path()
            written = write_outputs(result, folder.path, data, per_path=table)
        print_comparison(out, data)
        err.print(one_line(f"wrote {', '.join(str(p) for p in written.values())}"), markup=False)
        note = kept_note(result) if per_path else None
        if note is not None:
            err.print(f"note: --per-path: paths.parquet: {note}", markup=False)


@app.command("compare")
def compare_cmd(
    config: ConfigArg,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
    objective: ObjectiveOpt = "es_99",
):
    """The margin modes side by side for each portfolio (same paths for every mode)."""
    from stress.output.publish import json_text

    result = _simulate(_prepare(config, paths, seed, objective))
    data = result.to_dict()
    if as_json:
        print(json_text(data), end="")
    else:
        print_comparison(out, data)


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
    """Check the config and prepare the run (history, portfolios, sweep, its cost); prints what
    it describes and simulates nothing."""
    plan = _prepare(config, None, None)
    cfg = plan.config
    n_pos = sum(len(p.positions) for p in plan.portfolios)
    out.print(
        f"ok: {one_line(str(config))}: {len(plan.portfolios)} portfolio(s), {n_pos} position(s), "
        f"model {cfg.model.type}, modes {', '.join(cfg.modes)}",
        markup=False,
    )


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
    model: Annotated[str, typer.Option("--model", help="gbm, merton or student_t.")] = "gbm",
    since: Annotated[
        str | None, typer.Option("--since", help="First bar to use: a date or ISO time (UTC).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Last bar to use: a date (the whole day) or ISO time (UTC)."),
    ] = None,
    halflife_days: Annotated[
        float | None,
        typer.Option("--halflife-days", help="Weight returns by 0.5 ** (age / half-life)."),
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
    """Fit a model to price history; print estimates with standard errors and a model: block."""
    from stress.history.calibrate import (
        calibrate,
        check_halflife,
        check_model,
        check_window,
        model_yaml,
        name_files,
    )
    from stress.output.files import check_file_target, write_atomic

    check_model(model, "--model")
    check_halflife(halflife_days, "--halflife-days")
    check_window(since, until, ("--since", "--until"))
    files = name_files(prices, names or [], "--name")
    if output is not None:
        check_file_target(output, "-o")  # before fitting: a place it could never be written
    result = calibrate(files, model, since, until, halflife_days, drift)
    if output is not None:
        write_atomic(output, model_yaml(result))
    with _on_interrupt(lambda: "nothing written" if output is None else f"{output} was written"):
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
        if output is None:
            out.print(model_yaml(result, comments=False), markup=False, end="")
    if not result["diagnostics"]["converged"]:
        err.print(f"warning: {result['diagnostics']['message']}", markup=False)
    if output is not None:
        err.print(one_line(f"wrote {output}"), markup=False)


def main() -> None:
    """Console-script entry point: turns errors into exit codes and one-line messages.

    SIGINT exits 130 and SIGTERM 143 (128 + the signal's number, the shell's convention),
    after the command's cleanup, with one line saying what was written.
    """
    try:
        with _signals_raise():
            code = app(standalone_mode=False)
    except Interrupted as exc:
        print(one_line(exc.line()), file=sys.stderr)
        sys.exit(128 + exc.signum)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except SystemExit:
        raise
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        # Usage errors (bad option, missing argument) carry their own exit code, 2. Recent typer
        # vendors click, so they are recognised by shape rather than by click's classes.
        code, message = getattr(exc, "exit_code", None), getattr(exc, "format_message", None)
        if isinstance(code, int) and callable(message):
            text = " ".join(str(message()).split())  # one line
            if text:  # empty when the help was shown instead (no arguments at all)
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                print(f"error: {text}{hint}", file=sys.stderr)
            sys.exit(code)
        print(
            f"error: unexpected failure: {type(exc).__name__}: {one_line(str(exc))}",
            file=sys.stderr,
        )
        sys.exit(1)
    if isinstance(code, int) and code:  # typer.Exit(code), or typer's 130 for a KeyboardInterrupt
        if code == 130:
            print("interrupted", file=sys.stderr)
        sys.exit(code)
