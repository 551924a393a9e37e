"""The test suite's shared helpers, and where everything lives.

Layout: the folders mirror the package (tests/config/ tests stress/config/, tests/output/report/
tests stress/output/report/, and so on); tests/cli/ holds the command-line tests, run as a user
runs them. The top level keeps only what cuts across every package: the import layers, the house
style and the stored summaries of the example configs.

Helpers: the small ones shared by several files are defined here, once, as plain functions and
constants (`from conftest import ROOT, run_stress`; pyproject.toml's `pythonpath` puts tests/ on
`sys.path`, so this works from the repository root and from any folder; keep this the only
conftest.py, or `conftest` names two modules). No fixture is shared: each file keeps its own.
The larger helper modules live in the package tests/support/, imported as `from support.x
import ...`:

* support.bad_input: BASE, a small valid config, and `mutated` to break it;
* support.factories: small configs for the engine tests and `engine_on`;
* support.strategies: hypothesis strategies for books and tier tables;
* support.reference: the plain-Python reference engine, written from the README;
* support.binance_tiers: Binance's 2021 tier tables (the tier and liquidation-price tests);
* support.report_page: the report parsed back into a small DOM;
* support.expected_summaries: the stored example summaries in tests/support/expected/
  (`python tests/support/expected_summaries.py` rewrites them).

Markers: `slow` marks the long statistical checks and the tests that start a browser or many
subprocesses (`case_params` below keeps one case of each kind out of it). `pytest` runs
everything (CI does); `pytest -m "not slow"` is the quick loop, under 2 minutes.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import stress

# the helper modules' asserts explain themselves as the tests' do (before any imports them)
pytest.register_assert_rewrite("support")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
EXAMPLES = sorted((ROOT / "configs").glob("*.yaml"))


# ---------------------------------------------------------------------------------------------
# Config files and their errors


def write(folder: Path, text: str, name: str = "c.yaml") -> Path:
    """`text` as the file `name` in `folder`."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def base_yaml() -> str:
    """BASE as YAML text, flow style for the innermost collections (one position a line)."""
    from support.bad_input import BASE

    return yaml.safe_dump(BASE, sort_keys=False, default_flow_style=None)


def toml_value(value) -> str:
    """Enough TOML for the configs of the tests (inline tables); no TOML writer is installed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"no TOML for {value!r}")


def to_toml(data: dict) -> str:
    return "".join(f"{key} = {toml_value(value)}\n" for key, value in data.items())


def error_of(source, *, prepare: bool = False) -> str:
    """The `ConfigError` of `stress.load_config(source)` (or `stress.prepare`): one line."""
    with pytest.raises(stress.ConfigError) as info:
        (stress.prepare if prepare else stress.load_config)(source)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    assert len(message.splitlines()) == 1, message
    return message


# ---------------------------------------------------------------------------------------------
# Statistical tolerances


def assert_mean_within_4se(sample, expected: float) -> None:
    """Independent draws average to `expected` within 4 standard errors of their own spread."""
    sample = np.ravel(sample)
    se = sample.std(ddof=1) / np.sqrt(sample.size)
    assert abs(sample.mean() - expected) < 4 * se, (sample.mean(), expected, se)


# ---------------------------------------------------------------------------------------------
# `python -m stress` in a subprocess, as a user runs it

CLI_ENV = {"NO_COLOR": "1", "COLUMNS": "200"}  # no colour codes, no lines wrapped at 80


def stress_command(*args) -> list[str]:
    return [sys.executable, "-m", "stress", *map(str, args)]


def _memory_limit(limit: int | None) -> Callable[[], None] | None:
    """A `preexec_fn` capping the child's address space: a regression fails, the machine lives."""
    if limit is None:
        return None
    import resource  # POSIX only: imported by the tests that ask for a limit

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return cap


def run_stress(
    *args,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    memory_limit: int | None = None,
) -> subprocess.CompletedProcess:
    """`python -m stress ARGS` in `cwd` (a default reports/ folder lands there), text captured."""
    return subprocess.run(
        stress_command(*args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **CLI_ENV, **(env or {})},
        preexec_fn=_memory_limit(memory_limit),
    )


@dataclass
class Finished:
    """One command of `run_stress_many`."""

    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float


def run_stress_many(
    jobs: dict[str, tuple[Sequence, Path]],
    *,
    workers: int = 2,
    timeout: float = 300,
    memory_limit: int | None = None,
) -> dict[str, Finished]:
    """Run `python -m stress ARGS` in `cwd` for every job {name: (ARGS, cwd)}, `workers` at once.

    Each start-up is mostly importing numpy, scipy, numba and pandas, so a few at a time is
    faster. Output goes to temporary files, which never block a child that writes too much; a
    child still running after `timeout` seconds is killed (its return code is None). Children
    are started and polled from this thread only, so the memory limit, set in the child before
    it runs Python, never runs while another thread could fork.
    """
    pending = list(jobs.items())
    running: dict[str, tuple[subprocess.Popen, object, object, float]] = {}
    done: dict[str, Finished] = {}

    def text(fh) -> str:
        fh.seek(0)
        return fh.read().decode("utf-8", errors="replace")

    try:
        while pending or running:
            while pending and len(running) < workers:
                name, (args, cwd) = pending.pop(0)
                out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
                proc = subprocess.Popen(
                    stress_command(*args),
                    cwd=cwd,
                    stdout=out,
                    stderr=err,
                    env={**os.environ, **CLI_ENV},
                    preexec_fn=_memory_limit(memory_limit),
                )
                running[name] = (proc, out, err, time.monotonic())
            for name, (proc, out, err, t0) in list(running.items()):
                code = proc.poll()
                if code is None and time.monotonic() - t0 < timeout:
                    continue
                if code is None:
                    proc.kill()
                    proc.wait()
                del running[name]
                done[name] = Finished(code, text(out), text(err), time.monotonic() - t0)
                out.close()
                err.close()
            time.sleep(0.02)
    finally:
        for proc, out, err, _ in running.values():
            proc.kill()
            proc.wait()
            out.close()
            err.close()
    return {name: done[name] for name in jobs}


def case_params(
    cases: Iterable,
    *,
    quick: Collection[str],
    id_of: Callable[[Any], str] = lambda case: case.id,
    values_of: Callable[[Any], tuple] = lambda case: (case,),
) -> list:
    """`cases` as `pytest.param`s, every one marked slow but those named in `quick`.

    For tests with one subprocess per case: the quick loop (`-m "not slow"`) keeps one case of
    each kind, `pytest` runs them all.
    """
    cases = list(cases)
    unknown = set(quick) - {id_of(case) for case in cases}
    assert not unknown, f"no such case: {sorted(unknown)}"
    return [
        pytest.param(
            *values_of(case),
            id=id_of(case),
            marks=() if id_of(case) in quick else pytest.mark.slow,
        )
        for case in cases
    ]


def selected_cases(request: pytest.FixtureRequest, param: str = "case") -> list:
    """The values of `param` in the tests of the requesting module that this session runs.

    A module-scoped fixture that runs every case at once uses it to run only the cases kept by
    -k, -m or a test id, once each (by their `.id`), in the order collected.
    """
    wanted = [
        item.callspec.params[param]
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and getattr(item, "callspec", None) is not None
        and param in item.callspec.params
    ]
    return list({case.id: case for case in wanted}.values())
