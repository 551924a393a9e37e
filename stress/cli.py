"""The `stress` command: parse, call the API, print. Exit 0 ok, 2 bad input, 1 failure."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from stress.errors import ConfigError
from stress.tables import print_comparison

if TYPE_CHECKING:
    from stress.config import Config

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


def _check_overrides(paths: int | None, seed: int | None, objective: str = "es_99") -> None:
    """The options, checked before any work and named as the user typed them."""
    from stress.verdict import OBJECTIVES

    if objective not in OBJECTIVES:
        raise ConfigError(f"--objective: expected one of {', '.join(OBJECTIVES)}, got {objective}")
    if paths is not None and paths < 1:
        raise ConfigError(f"--paths: expected an integer >= 1, got {paths}")
    if seed is not None and seed < 0:
        raise ConfigError(f"--seed: expected an integer >= 0, got {seed}")


def _check_out_dir(target: Path) -> None:
    """Refuse an output folder that cannot be created, before simulating anything."""
    if target.exists():
        if not target.is_dir():
            raise ConfigError(f"--out: expected a folder, got {target}, an existing file")
        return
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"--out: expected a folder, got {target}, inside {parent}, which is a file"
                )
            return


def _simulate(cfg: Config, paths: int | None, seed: int | None, objective: str):
    """Run a loaded config, with a progress bar on a terminal."""
    from stress.run import run

    n_paths = cfg.simulation.paths if paths is None else paths
    bar, tick = _progress_runner(n_paths * (1 + len(cfg.scenarios)))  # scenarios rerun the paths
    if bar is None:
        return run(cfg, paths=paths, seed=seed, objective=objective)
    with bar:
        return run(cfg, paths=paths, seed=seed, progress=tick, objective=objective)


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
    """Full stress run: writes report.html, summary.json and results.parquet."""
    import warnings

    from stress.config import load_config
    from stress.outputs import write_outputs
    from stress.per_path import kept_note

    _check_overrides(paths, seed, objective)
    cfg = load_config(config)
    target = out_dir if out_dir is not None else Path("reports") / cfg.name
    _check_out_dir(target)
    result = _simulate(cfg, paths, seed, objective)
    data = result.to_dict()
    table = None
    if per_path:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # said below, in the CLI's words
            table = result.per_path()
    written = write_outputs(result, target, data, per_path=table)
    print_comparison(out, data)
    err.print(f"wrote {', '.join(str(p) for p in written.values())}", markup=False)
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
    from stress.config import load_config
    from stress.outputs import jsonable

    _check_overrides(paths, seed, objective)
    result = _simulate(load_config(config), paths, seed, objective)
    data = result.to_dict()
    if as_json:
        print(json.dumps(jsonable(data), allow_nan=False, indent=2))
    else:
        print_comparison(out, data)


@app.command("liqprice")
def liqprice_cmd(config: ConfigArg, as_json: JsonOpt = False) -> None:
    """Closed-form liquidation price of every position under each mode, at current marks.

    Each position's asset moves alone (with every position of the bucket on it); the price
    shown is the nearer to the mark of the highest one at or below it and the lowest at or
    above it, both also shown.
    """
    from stress.liqprices import liquidation_prices

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
    """Check the config only; prints what it describes."""
    from stress.config import load_config

    cfg = load_config(config)
    books = cfg.book_list()
    n_pos = sum(len(p) for _, _, p, _ in books)
    out.print(
        f"ok: {config}: {len(books)} portfolio(s), {n_pos} position(s), "
        f"model {cfg.model.type}, modes {', '.join(cfg.modes)}"
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
    from stress.calibrate import (
        calibrate,
        check_halflife,
        check_model,
        check_window,
        model_yaml,
        name_files,
        se_lines,
        summary_line,
        write_atomic,
    )
    from stress.outputs import jsonable

    check_model(model, "--model")
    check_halflife(halflife_days, "--halflife-days")
    check_window(since, until, ("--since", "--until"))
    files = name_files(prices, names or [], "--name")
    if output is not None and (output.is_dir() or not output.parent.is_dir()):
        raise ConfigError(f"-o: expected a file in an existing folder, got {output}")
    result = calibrate(files, model, since, until, halflife_days, drift)
    if output is not None:
        write_atomic(output, model_yaml(result))
    if as_json:
        print(json.dumps(jsonable(result), allow_nan=False, indent=2))
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
        err.print(f"wrote {output}", markup=False)


def main() -> None:
    """Console-script entry point: turns errors into exit codes and one-line messages."""
    try:
        app(standalone_mode=False)
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
        print(f"error: unexpected failure: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
