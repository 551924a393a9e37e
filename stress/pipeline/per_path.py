"""Per-path outcomes as a table: every number of summary.json can be recomputed from it.

One row per (scenario, portfolio, mode, path), in that order, for the paths whose per-path
results the run kept (all of them unless the run streamed past its memory budget; see
`stress.pipeline.simulate.keep_paths_for`). Columns:

* ``scenario``, ``portfolio``, ``mode`` (categorical), ``path`` (int64, 0-based, the path's
  index in the run: path i is the same draw in every book and scenario);
* ``liquidation_step`` (Int32) and ``liquidation_hours`` (Float64): the book's first
  liquidation (partial or full), null when none;
* ``final_equity``, ``loss`` (initial equity - final equity), ``bad_debt`` (the deficit the venue
  absorbs, summed over the book's liquidations) and ``fees_paid`` (liquidation fees paid), float64;
* with a liquidation process other than ``full_close`` only (`stress.margin.processes`):
  ``partial_closes`` (int32, how many partial closes the book's buckets had on the path) and
  ``partial_notional`` (float64, the notional they closed, at the mark);
* in a scenario with ``adl`` only (`stress.margin.adl`): ``adl_closed`` (int32, how many of the
  book's positions ADL closed on the path) and ``liquidated_after_adl`` (bool, a bucket of the
  book was first liquidated after such a close); absent from the table when no scenario has ADL,
  null in the rows of runs without it;
* with the trader's rules only (`stress.margin.trader_rules`): ``stops``, ``reduces``,
  ``top_ups`` (int32, how many times each fired in the book on the path), ``top_up_amount``
  (float64, USDT moved in), ``stop_hours``, ``reduce_hours``, ``top_up_hours`` and
  ``hard_stop_hours`` (Float64, the first firing, null when none), and
  ``final_equity_without_rules`` (float64, the same book on the same path with no rule);
* with ``simulation.importance: auto`` only (`stress.pipeline.importance`): ``weight``
  (float64, the path's likelihood ratio dP/dM: every mean of summary.json is the mean of
  ``weight * value``) and ``liquidation_weight`` (float64, the same stopped at the book's first
  liquidation: ``p_liquidation`` is the mean of ``liquidation_weight * liquidated``);
* ``liquidated.<id>`` (boolean), one column per position id of any portfolio: whether that
  position was liquidated (closed whole, or in part by a partial process) on the path; null for
  books whose portfolio has no such position.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

RunResult = Any
"""A `stress.pipeline.result.RunResult` (which builds its per-path table here, so this module
cannot import it back)."""

LIQUIDATED_PREFIX = "liquidated."
"""Prefix of the per-position liquidation columns."""


def position_ids(result: RunResult) -> list[str]:
    """Position ids of every portfolio, first seen first (the order of the columns)."""
    return list(dict.fromkeys(p.id for port in result.portfolios for p in port.positions))


def kept_note(result: RunResult) -> str | None:
    """A sentence saying the table holds fewer paths than the run, or None when it holds all."""
    short = [r for r in (result, *result.scenarios) if r.kept_paths < r.paths]
    if not short:
        return None
    parts = ", ".join(f"{r.kept_paths:,} of {r.paths:,} ({r.scenario})" for r in short)
    return (
        f"per-path results hold the first paths of each book only: {parts}; the run was too "
        "large to keep every path's results in memory, and its summary metrics cover every path"
    )


def _column(values: np.ndarray, n: int) -> np.ndarray:
    """(paths, books) -> one column in (book, path) order."""
    return np.ascontiguousarray(values[:n].T).reshape(-1)


def _rule_columns(res, n: int, step_hours: float) -> dict[str, object]:
    ev = res.rule_events
    out: dict[str, object] = {
        "stops": _column(ev.stops, n),
        "reduces": _column(ev.reduces, n),
        "top_ups": _column(ev.top_ups, n),
        "top_up_amount": _column(ev.top_up_amount, n),
    }
    for name, steps in (
        ("stop_hours", ev.stop_step),
        ("reduce_hours", ev.reduce_step),
        ("top_up_hours", ev.top_up_step),
        ("hard_stop_hours", ev.hard_stop_step),
    ):
        step = _column(steps, n)
        out[name] = pd.arrays.FloatingArray(step * step_hours, step < 0)
    out["final_equity_without_rules"] = _column(res.unruled_equity, n)
    return out


def _frame(result: RunResult, ids: list[str], scenarios: list[str]) -> pd.DataFrame:
    """The rows of one run (the base or one scenario)."""
    layout, res = result.layout, result.results
    n, k_books = result.kept_paths, layout.n_books
    rows = n * k_books
    book = np.repeat(np.arange(k_books), n)
    ports = [p.name for p in result.portfolios]
    modes = list(dict.fromkeys(b.mode for b in layout.books))
    port_code = np.array([b.portfolio for b in layout.books])[book]
    mode_code = np.array([modes.index(b.mode) for b in layout.books])[book]
    steps = np.ascontiguousarray(res.first_liq_step[:n].T).reshape(-1)
    never = steps < 0
    columns: dict[str, object] = {
        "scenario": pd.Categorical.from_codes(
            np.full(rows, scenarios.index(result.scenario)), categories=scenarios
        ),
        "portfolio": pd.Categorical.from_codes(port_code, categories=ports),
        "mode": pd.Categorical.from_codes(mode_code, categories=modes),
        "path": np.tile(np.arange(n, dtype=np.int64), k_books),
        "liquidation_step": pd.arrays.IntegerArray(steps.astype(np.int32), never),
        "liquidation_hours": pd.arrays.FloatingArray(steps * result.grid.step_hours, never),
    }
    for name in ("final_equity", "loss", "bad_debt", "fees_paid"):
        values = res.loss(layout)[:n] if name == "loss" else getattr(res, name)[:n]
        columns[name] = np.ascontiguousarray(values.T).reshape(-1)
    if res.partial_closes is not None:
        for name in ("partial_closes", "partial_notional"):
            columns[name] = np.ascontiguousarray(getattr(res, name)[:n].T).reshape(-1)
    if res.adl_closed is not None:
        count = np.ascontiguousarray(res.adl_closed[:n].T).reshape(-1)
        after = np.ascontiguousarray(res.adl_liquidated[:n].T).reshape(-1)
        columns["adl_closed"] = pd.arrays.IntegerArray(count, np.zeros(rows, dtype=bool))
        columns["liquidated_after_adl"] = pd.arrays.BooleanArray(after, np.zeros(rows, dtype=bool))
    if res.rule_events is not None:
        columns.update(_rule_columns(res, n, result.grid.step_hours))
    if getattr(result, "weights", None) is not None:  # importance sampling
        columns["weight"] = np.tile(result.weights[:n], k_books)
        columns["liquidation_weight"] = _column(result.liquidation_weights, n)
    flags = np.zeros((len(ids), rows), dtype=bool)
    missing = np.ones((len(ids), rows), dtype=bool)
    column_of = {pid: j for j, pid in enumerate(ids)}
    for k, b in enumerate(layout.books):
        first = layout.book_first_position[k]
        for j, p in enumerate(b.positions):
            row = column_of[p.id]
            flags[row, k * n : (k + 1) * n] = res.pos_liquidated[:n, first + j]
            missing[row, k * n : (k + 1) * n] = False
    for j, pid in enumerate(ids):
        columns[LIQUIDATED_PREFIX + pid] = pd.arrays.BooleanArray(flags[j], missing[j])
    return pd.DataFrame(columns)


def per_path_frame(result: RunResult) -> pd.DataFrame:
    """Every book's per-path outcome, base run first, then each scenario (see module doc).

    Warns (UserWarning) when the run kept fewer paths than it simulated; ``attrs`` holds
    ``paths`` (simulated) and ``paths_kept`` ({scenario: paths in the table}).
    """
    runs = [result, *result.scenarios]
    ids = position_ids(result)
    scenarios = [r.scenario for r in runs]
    frames = [_frame(r, ids, scenarios) for r in runs]
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    df.attrs["paths"] = result.paths
    df.attrs["paths_kept"] = {r.scenario: r.kept_paths for r in runs}
    note = kept_note(result)
    if note is not None:
        warnings.warn(note, UserWarning, stacklevel=3)
    return df
