"""The replay windows that hurt each book most, with their dates (``worst_windows``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from stress.paths.replay import ReplaySpec, fill_windows

WORST_WINDOWS = 10
"""Windows listed per portfolio and mode in summary.json."""


def _book_exposure(layout) -> tuple[np.ndarray, np.ndarray]:
    """Each book's PnL as ``prices @ q - c``: q (n_assets, K) quantities, c (K,) cost."""
    n_assets = layout.tier_cap.shape[0]
    q = np.zeros((n_assets, layout.n_books))
    c = np.zeros(layout.n_books)
    for k, book in enumerate(layout.books):
        first = int(layout.book_first_position[k])
        for p in range(first, first + len(book.positions)):
            q[layout.pos_asset[p], k] += layout.pos_qty[p]
            c[k] += layout.pos_qty[p] * layout.pos_entry[p]
    return q, c


def worst_pnl(spec: ReplaySpec, s0: np.ndarray, layout, n_windows: int) -> np.ndarray:
    """The lowest unrealised PnL of each book's positions in each window, as if never
    liquidated (how deep the window went), shape (n_windows, K).

    Computed in slices of windows so memory stays small for many windows and books.
    """
    q, c = _book_exposure(layout)
    out = np.empty((n_windows, layout.n_books))
    rows = max(1, 4_000_000 // ((spec.n_steps + 1) * max(1, layout.n_books)))
    for first in range(0, n_windows, rows):
        m = min(rows, n_windows - first)
        prices = np.empty((m, spec.n_steps + 1, s0.size))
        fill_windows(prices, spec, s0, first)
        out[first : first + m] = (prices @ q).min(axis=1) - c
    return out


def worst_windows(
    spec: ReplaySpec,
    loss: np.ndarray,
    first_liq_step: np.ndarray,
    deepest: np.ndarray,
    n: int = WORST_WINDOWS,
) -> list[dict[str, Any]]:
    """The ``n`` windows with the largest loss of one book, largest first.

    Equal losses (every liquidation of an isolated position loses its whole margin) are ranked
    by how deep the window went (``worst_pnl``, lowest first), then by date.

    Parameters
    ----------
    loss, first_liq_step, deepest : ndarray, shape (n_windows_ranked,)
        Per-window results of the book, windows ``0 ..`` in order.
    """
    order = np.lexsort((np.arange(loss.size), deepest, -loss))[:n]
    out = []
    for w in order:
        step = int(first_liq_step[w])
        end = spec.time_at(int(w), spec.n_steps)
        out.append(
            {
                "start": spec.start_time(int(w)).isoformat(),
                "end": end.isoformat(),
                "loss": float(loss[w]),
                "liquidated": step >= 0,
                "liquidation_time": spec.time_at(int(w), step).isoformat() if step >= 0 else None,
                "worst_pnl": float(deepest[w]),
            }
        )
    return out


def add_worst_windows(
    metrics: list[dict], spec: ReplaySpec, s0: np.ndarray, results, layout
) -> None:
    """Put each book's worst windows into its metrics (``worst_windows``, summary.json).

    Ranked over the windows whose per-path results the run kept: all of them unless the run's
    memory budget was exceeded (a very large sweep over many windows), in which case
    ``worst_windows_ranked`` says over how many leading windows.
    """
    loss = results.loss(layout)
    deepest = worst_pnl(spec, s0, layout, loss.shape[0])
    for k, m in enumerate(metrics):
        m["worst_windows"] = worst_windows(
            spec, loss[:, k], results.first_liq_step[:, k], deepest[:, k]
        )
        m["worst_windows_ranked"] = int(loss.shape[0])
