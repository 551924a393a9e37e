"""Worker threads for compiled loops that release the GIL.

The margin kernels and the path generators are compiled with ``nogil=True`` and run here on
contiguous slices of their rows, one pool of numba's thread count (``NUMBA_NUM_THREADS``, the
machine's cores by default; `numba.set_num_threads` changes it). Threads rather than numba's
``parallel=True``: the same speed, and the plain margin kernel compiles in half the time, which
a new user pays on the first run.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba

PREFIX = "stress-worker"

PARTS_PER_THREAD = 4
"""Slices per thread, so that a thread finishing early takes another (rows vary in cost)."""


def thread_count() -> int:
    """The threads the compiled loops use: numba's current thread count."""
    return int(numba.get_num_threads())


@functools.cache
def _pool(n: int, pid: int) -> ThreadPoolExecutor:
    # keyed by process too: a forked child inherits the pool object but not its threads
    return ThreadPoolExecutor(n, thread_name_prefix=PREFIX)


def run_slices(work: Callable[[int, int], None], n: int, min_rows: int = 1) -> None:
    """Call ``work(start, stop)`` on contiguous slices covering ``range(n)``, on the pool.

    Each slice must write only its own rows; the result is then the same whatever the thread
    count. Fewer than ``2 * min_rows`` rows, one thread, or a call from one of the pool's own
    threads (which must not wait on the pool) run here in one call.
    """
    threads = thread_count()
    inside = threading.current_thread().name.startswith(PREFIX)
    if threads == 1 or n < 2 * min_rows or inside:
        if n > 0:
            work(0, n)
        return
    parts = min(threads * PARTS_PER_THREAD, max(1, n // min_rows))
    bounds = [n * k // parts for k in range(parts + 1)]
    pool = _pool(threads, os.getpid())
    futures = [pool.submit(work, a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    for f in futures:
        f.result()  # in order; re-raises a worker's exception here
