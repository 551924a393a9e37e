"""Scale-out on Dask: the chunks of a run marked on a cluster's workers.

The unit of work is a chunk of whole path blocks. A worker regenerates the chunk's prices
from the run's seed and the blocks' own `SeedSequence` keys (`stress.paths.generate`), lays the
scenario's shocks over them, marks every book (`stress.margin.engine.mark_paths`) and sends
back only the chunk's per-path results (a few numbers per path and book, never a price). The
client gathers them in path order through the same calls as a local run
(`stress.margin.engine.collect`), so the summary is identical whatever the number of workers.
A worker that dies mid-task has its chunks recomputed elsewhere by the scheduler, with the same
numbers, since a chunk depends only on (seed, paths).

``distributed`` is an optional extra (``pip install ".[dask]"``), imported only here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from stress.errors import ConfigError
from stress.margin.engine import MarketRules, PathResults, mark_paths
from stress.margin.layout import Layout
from stress.paths.generate import chunk_paths_for, chunk_prices
from stress.paths.spec import ModelSpec, TimeGrid

IN_FLIGHT_PER_WORKER = 2
"""Chunks submitted ahead per worker: enough to keep each busy, few enough that the results
waiting to be gathered in order stay small."""

RETRIES = 3
"""Times a chunk is resubmitted after an error other than a lost worker (which the scheduler
reschedules by itself)."""


@dataclass(frozen=True)
class ChunkJob:
    """Everything a worker needs to mark a chunk: sent to every worker once per run."""

    layout: Layout
    rules: MarketRules
    spec: ModelSpec
    grid: TimeGrid
    seed: int
    factor: np.ndarray | None  # a scenario's price factor (`stress.paths.scenarios`), or None


def run_chunk(job: ChunkJob, first: int, m: int) -> PathResults:
    """The per-path results of paths ``[first, first + m)`` (runs on a worker)."""
    prices = chunk_prices(job.spec, job.grid, job.seed, first, m)
    if job.factor is not None:
        prices *= job.factor
    return mark_paths(job.layout, job.rules, first, prices)


def _distributed(option: str):
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            f'{option}: needs the optional dask extra: pip install ".[dask]" '
            "(the distributed package)"
        ) from None
    return distributed


def open_client(workers: int | None = None, scheduler: str | None = None) -> Any:
    """A Dask client: on a new local cluster of `workers` processes (one thread each), or on
    the cluster whose scheduler is at `scheduler` (``tcp://host:8786``)."""
    if scheduler is not None:
        distributed = _distributed("--scheduler")
        try:
            return distributed.Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ConfigError(f"--scheduler: cannot reach {scheduler}: {exc}") from None
    distributed = _distributed("--workers")
    cluster = distributed.LocalCluster(
        n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None
    )
    return distributed.Client(cluster)


def close_client(client: Any) -> None:
    """Close the client, and the local cluster it started (not a cluster it only joined)."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def worker_count(client: Any) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def chunk_results(
    client: Any, job: ChunkJob, n_paths: int, chunk_paths: int | None
) -> Iterator[tuple[int, PathResults]]:
    """Every chunk's per-path results, in path order, marked on the client's cluster (chunks
    of `chunk_paths`, by default those of a local run: `stress.paths.chunk_paths_for`)."""
    if chunk_paths is None:
        chunk_paths = chunk_paths_for(job.grid, job.spec.n_assets)
    [remote] = client.scatter([job], broadcast=True)
    starts = list(range(0, n_paths, chunk_paths))
    ahead = IN_FLIGHT_PER_WORKER * worker_count(client)
    futures: dict[int, Any] = {}

    def submit(i: int) -> None:
        first = starts[i]
        m = min(chunk_paths, n_paths - first)
        futures[i] = client.submit(run_chunk, remote, first, m, retries=RETRIES, pure=False)

    for i in range(min(ahead, len(starts))):
        submit(i)
    for i, first in enumerate(starts):
        result = futures.pop(i).result()
        if i + ahead < len(starts):
            submit(i + ahead)
        yield first, result
