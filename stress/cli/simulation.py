"""`stress run` and `stress compare` (also across venues)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stress.cli.common import (
    ConfigArg,
    JsonOpt,
    ObjectiveOpt,
    PathsOpt,
    SeedOpt,
    app,
    err,
    on_interrupt,
    out,
    prepare_plan,
    progress_runner,
    run_note,
    simulate_plan,
)
from stress.errors import ConfigError, one_line
from stress.output.files import OutputFolder
from stress.output.terminal import print_comparison


@app.command("run")
def run_cmd(
    config: ConfigArg,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder [default: reports/<name>/]."),
    ] = None,
    paths: PathsOpt = None,
    seed: SeedOpt = None,
    objective: ObjectiveOpt = None,
    per_path: Annotated[
        bool,
        typer.Option(
            "--per-path",
            help="Also write paths.parquet: every path's outcome per scenario, portfolio and mode.",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Mark the paths on a local Dask cluster of this many processes (the dask extra).",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", help="Mark the paths on the Dask cluster at this scheduler address."
        ),
    ] = None,
) -> None:
    """Full stress run: writes report.html, summary.json, results.parquet and manifest.json."""
    import warnings

    from stress.output.publish import check_output_names, output_names, write_outputs
    from stress.pipeline.per_path import kept_note

    if workers is not None and scheduler is not None:
        raise ConfigError("--workers: expected either --workers or --scheduler, got both")
    plan = prepare_plan(config, paths, seed, objective)
    name = plan.config.name
    folder = OutputFolder(out_dir if out_dir is not None else Path("reports") / name, "--out")
    with on_interrupt(lambda: run_note(folder)):
        # Held from before simulating: a folder that cannot be written, a folder in the way of
        # an output or a concurrent run into it is found before any work.
        with folder:
            check_output_names(folder.path, output_names(per_path), "--out")
            result = simulate_plan(plan, workers, scheduler)
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
    objective: ObjectiveOpt = None,
    venues: Annotated[
        str | None,
        typer.Option(
            "--venues",
            help="Comma-separated presets (see `stress venues`): run the book on each venue, "
            "its exchange block replaced by the preset, on the same paths; the first is the "
            "reference the others are compared with.",
        ),
    ] = None,
):
    """The margin modes side by side for each portfolio (same paths for every mode)."""
    from stress.output.publish import json_text

    if venues is not None:
        _compare_venues(config, venues, paths, seed, as_json)
        return
    result = simulate_plan(prepare_plan(config, paths, seed, objective))
    data = result.to_dict()
    if as_json:
        print(json_text(data), end="")
    else:
        print_comparison(out, data)


def _compare_venues(
    config: Path, venues: str, paths: int | None, seed: int | None, as_json: bool
) -> None:
    from stress.config.load import load_config
    from stress.output.publish import json_text
    from stress.output.venue_table import print_venues
    from stress.pipeline.prepare import CLI_NAMES, check_overrides
    from stress.pipeline.simulate import simulate
    from stress.pipeline.venues import parse_venues, prepare_venues, venue_table

    names = parse_venues(venues)
    check_overrides(paths, seed, names=CLI_NAMES)
    plans, refused = prepare_venues(load_config(config), names, paths, seed, CLI_NAMES)
    for venue, reason in refused.items():
        err.print(one_line(f"note: venue {venue} cannot open the book: {reason}"), markup=False)
    ready = [p for p in plans if p is not None]
    bar, tick = progress_runner(sum(p.paths * (1 + len(p.config.scenarios)) for p in ready))

    def run_all():
        return [None if p is None else simulate(p, tick) for p in plans]

    if bar is None:
        results = run_all()
    else:
        with bar:
            results = run_all()
    data = venue_table(names, results, refused)
    if as_json:
        print(json_text(data), end="")
    else:
        print_venues(out, data)
