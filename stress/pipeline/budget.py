"""What a run will cost, estimated from the config alone, and the limits it must fit.

A run's memory is flat in the number of paths (chunks of paths are generated, marked and
dropped), but it grows with the number of steps times the number of books, assets and
scenarios: the time-to-liquidation histogram holds a count per book per step, the fan charts
keep a sample of whole paths, and even the smallest chunk holds one block of whole paths.
`check_budget` refuses a config whose estimate does not fit this machine (or whose work would
take days), naming the fields that drive it, so `stress validate` says what `stress run` would
refuse and nothing allocates gigabytes before failing.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from stress.errors import ConfigError
from stress.paths import BLOCK_PATHS, TimeGrid
from stress.paths.generate import chunk_paths_for

KEEP_BYTES = 256 * 2**20
"""Memory for per-path results; past it only the first paths are kept and the metrics come
from statistics accumulated over every path (`stress.analysis.streaming`), so memory stays flat."""

FAN_PATHS = 500
"""Paths kept whole (every step) for fan charts; the rest are summarised and dropped."""

GENERATION_RATE = 3e7
"""Asset-steps of price paths generated per second (measured on a shared 2-core machine:
`configs/btc_eth_hedge.yaml` spends most of its 4 s drawing 20,000 x 2,017 x 2)."""

ENGINE_RATE = 1e10
"""Position-steps marked per second by the engine on the same machine (the headline benchmark
does 1.8e10 with the safe-stretch skip; books near liquidation are slower)."""

MAX_HOURS = 12.0
"""Longest run accepted, by the estimate above (which may be off by a few times either way):
beyond it, split the study into several runs."""

MEMORY_SHARE = 0.75
"""Share of the machine's memory a run may plan to use (`STRESS_MEMORY_LIMIT_GB` overrides)."""

BASE_BYTES = 600 * 2**20
"""What a run holds whatever its size: the interpreter, numpy, numba, compiled kernels."""


@dataclass(frozen=True)
class Estimate:
    """Planned memory in bytes, by part, and the work in position-steps."""

    parts: dict[str, float]
    work: float  # position-steps marked
    seconds: float  # estimated wall time on the reference machine

    @property
    def memory(self) -> float:
        return BASE_BYTES + sum(self.parts.values())


def memory_limit() -> float:
    """Bytes a run may plan to use: `STRESS_MEMORY_LIMIT_GB`, else a share of the memory this
    process may have (the machine's, or a container's cgroup limit when lower)."""
    given = os.environ.get("STRESS_MEMORY_LIMIT_GB")
    if given:
        try:
            value = float(given)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(
                f"STRESS_MEMORY_LIMIT_GB: expected a number of gigabytes > 0, got {given!r}"
            )
        return value * 2**30
    try:
        physical = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not on every platform
        physical = math.inf
    return MEMORY_SHARE * min(physical, _cgroup_limit())


def _cgroup_limit() -> float:
    """A container's memory limit (cgroup v2, then v1), or inf."""
    for name in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(name, encoding="ascii") as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit():
            return float(text)
    return math.inf


def estimate(
    grid: TimeGrid,
    n_assets: int,
    n_books: int,
    n_positions: int,
    paths: int,
    n_scenarios: int,
    chunk_paths: int | None = None,
) -> Estimate:
    """The dominant allocations of a run (see the module doc).

    Parameters
    ----------
    n_books, n_positions : over every portfolio and mode
    n_scenarios : scenarios configured (each is a full run kept beside the base one)
    """
    marks = grid.n_steps + 1
    runs = 1 + n_scenarios
    chunk = chunk_paths or chunk_paths_for(grid, n_assets)
    chunk = min(max(chunk, BLOCK_PATHS), max(paths, BLOCK_PATHS))
    parts = {
        # prices of a chunk, the normals they are built from, one more block of temporaries
        "chunk": 8.0 * marks * n_assets * (2 * chunk + BLOCK_PATHS),
        # per run: first-liquidation counts per book and step, the loss histograms
        "histograms": runs * n_books * (8.0 * marks + 16.0 * 2050),
        "fan sample": runs * 8.0 * min(paths, FAN_PATHS) * marks * n_assets,
        "per-path results": 2.0 * min(KEEP_BYTES, paths * (28.0 * n_books + 2.0 * n_positions)),
    }
    work = float(runs) * paths * marks * n_positions
    seconds = float(runs) * paths * marks * n_assets / GENERATION_RATE + work / ENGINE_RATE
    return Estimate(parts=parts, work=work, seconds=seconds)


def _gb(x: float) -> str:
    return f"{x / 2**30:,.1f} GB"


def check_budget(est: Estimate, paths_field: str = "simulation.paths") -> None:
    """Refuse a run that cannot fit: one line naming the fields behind the largest part."""
    if est.seconds > MAX_HOURS * 3600.0:
        raise ConfigError(
            f"{paths_field}: the run would take about {est.seconds / 3600.0:,.0f} hours "
            f"(paths x steps x assets to generate, x positions over every portfolio, mode and "
            f"scenario to mark: {est.work:.3g} position-steps), more than the {MAX_HOURS:g} "
            "hours a run may take: lower the paths, the steps "
            "(simulation.horizon_days x steps_per_day) or the number of portfolios, or split it"
        )
    limit = memory_limit()
    if est.memory > limit:
        part = max(est.parts, key=est.parts.get)
        fields = {
            "chunk": "simulation.horizon_days x steps_per_day and the assets",
            "histograms": "simulation.horizon_days x steps_per_day and the number of portfolios",
            "fan sample": "simulation.horizon_days x steps_per_day and the assets",
            "per-path results": "the number of portfolios",
        }[part]
        raise ConfigError(
            f"simulation: the run would need about {_gb(est.memory)} of memory "
            f"({part}: {_gb(est.parts[part])}), more than the {_gb(limit)} allowed "
            f"({MEMORY_SHARE:.0%} of this machine's memory; STRESS_MEMORY_LIMIT_GB sets it): "
            f"lower {fields}"
        )
