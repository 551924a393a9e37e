"""The typer app, its consoles, shared options, progress bar and signal handling, and `main`.

Exit 0 ok, 2 bad input, 1 failure, 130 interrupted (SIGINT), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from stress.errors import ConfigError, one_line
from stress.output.files import OutputFolder

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
    str | None,
    typer.Option(
        "--objective",
        help="Recommend the mode with the best value of one metric: es_99 (tail loss), "
        "p_liquidation or expected_loss. Without it, account.risk_capital decides (the lowest "
        "liquidation probability whose ES99 stays within it); without either, no single pick.",
        show_default=False,
    ),
]


def progress_runner(n_paths: int):
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


class Caught:
    """The first signal `_signals_raise` turned into `Interrupted` (0: none)."""

    signum: int = 0


@contextmanager
def _signals_raise() -> Iterator[Caught]:
    """SIGINT and SIGTERM raise `Interrupted` during the block; the old handlers come back after.

    Only the first signal raises: a second one, while the first unwinds the command, is
    ignored so that the cleanup under way (temporary files, created folders) is not cut short.
    The block gets a `Caught` that records the signal, for when compiled code that cannot pass
    an exception on (it prints "Exception ignored") swallowed the `Interrupted`.
    """
    caught = Caught()
    if threading.current_thread() is not threading.main_thread():
        yield caught  # only the main thread may set handlers, and only it runs them
        return

    def handler(signum: int, _frame: object) -> None:
        if not caught.signum:
            caught.signum = signum
            raise Interrupted(signum)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # a signal the caller ignores stays ignored (a job started in the background by a script)
    previous = {s: old for s, old in previous.items() if old is not signal.SIG_IGN}
    for signum in previous:
        signal.signal(signum, handler)
    try:
        yield caught
    finally:
        for signum, old in previous.items():
            if old is not None:  # None: set outside Python, and left as it was
                signal.signal(signum, old)


@contextmanager
def on_interrupt(note: Callable[[], str]) -> Iterator[None]:
    """An interruption in the block says ``note()`` (asked then) about what was written."""
    try:
        yield
    except Interrupted as exc:
        exc.note = note()
        raise


def run_note(folder: OutputFolder) -> str:
    if folder.published:
        return f"the outputs in {folder.path} are complete"
    if folder.created and not folder.path.exists():
        return f"nothing written; {folder.path} did not exist and still does not"
    return f"nothing written; the files already in {folder.path} are untouched"


def prepare_plan(config: Path, paths: int | None, seed: int | None, objective: str | None = None):
    """The config loaded and prepared; `prepare` checks the options first, before any work,
    named as typed."""
    from stress.pipeline.prepare import CLI_NAMES, prepare

    return prepare(config, paths, seed, objective=objective, names=CLI_NAMES)


def simulate_plan(plan: Plan, workers: int | None = None, scheduler: str | None = None):
    """Run a prepared plan, with a progress bar on a terminal; on a Dask cluster with
    `workers` local processes or the scheduler at `scheduler` (`stress.pipeline.distributed`)."""
    from stress.pipeline.distributed import close_client, open_client
    from stress.pipeline.simulate import simulate

    client = None
    if workers is not None or scheduler is not None:
        client = open_client(workers, scheduler)
    try:
        bar, tick = progress_runner(plan.paths * (1 + len(plan.config.scenarios)))
        if bar is None:
            return simulate(plan, client=client)
        with bar:
            return simulate(plan, tick, client=client)
    finally:
        if client is not None:
            close_client(client)


def main() -> None:
    """Console-script entry point: turns errors into exit codes and one-line messages.

    SIGINT exits 130 and SIGTERM 143 (128 + the signal's number, the shell's convention),
    after the command's cleanup, with one line saying what was written.
    """
    # Loaded before the handlers are set: building the pydantic models compiles their patterns
    # in compiled code, where an `Interrupted` raised by the handler would be swallowed.
    import stress.config.schema  # noqa: F401

    try:
        with _signals_raise() as caught:
            code = app(standalone_mode=False)
        if caught.signum:  # raised where it could not stop the command, which went on to finish
            word = "interrupted" if caught.signum == signal.SIGINT else "terminated"
            print(f"{word}; the command had finished its work", file=sys.stderr)
            sys.exit(128 + caught.signum)
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
