"""The worker pool splits rows into slices that cover them once, on any thread count."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from stress import threads


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 5, 37, 1000])
def test_slices_cover_every_row_once(monkeypatch, n_threads, n):
    monkeypatch.setattr(threads, "thread_count", lambda: n_threads)
    seen = np.zeros(n, dtype=np.int64)
    lock = threading.Lock()

    def work(a, b):
        with lock:
            seen[a:b] += 1

    threads.run_slices(work, n)
    assert (seen == 1).all()


def test_a_workers_error_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(threads, "thread_count", lambda: 2)

    def work(a, b):
        if a > 0:
            raise ValueError("row trouble")

    with pytest.raises(ValueError, match="row trouble"):
        threads.run_slices(work, 100)


def test_a_slice_on_the_pool_does_not_wait_on_the_pool(monkeypatch):
    monkeypatch.setattr(threads, "thread_count", lambda: 2)
    inner_calls = []

    def outer(a, b):
        threads.run_slices(lambda c, d: inner_calls.append((c, d)), 50)

    threads.run_slices(outer, 100)  # would deadlock if the inner calls queued on the pool
    assert inner_calls and all(c == (0, 50) for c in inner_calls)


def test_a_forked_child_gets_threads_of_its_own(monkeypatch):
    import multiprocessing

    monkeypatch.setattr(threads, "thread_count", lambda: 2)
    threads.run_slices(lambda a, b: None, 100)  # the parent's pool exists before the fork
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply_async(_sum_in_child).get(timeout=20) == 4950


def _sum_in_child() -> int:
    total = np.zeros(100, dtype=np.int64)
    threads.run_slices(lambda a, b: total.__setitem__(slice(a, b), np.arange(a, b)), 100)
    return int(total.sum())
