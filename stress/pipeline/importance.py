"""``simulation.importance: auto``: the run's mean shift, its checks, and its weights.

The shift (`stress.paths.importance`) is one for the whole run, since every book is marked on
the same paths. For each portfolio, its loss direction comes from its signed notional per asset;
along it, prices at the horizon are ``S_0 exp((drift - vol**2 / 2) T + z v)`` and the smallest
``z >= 0`` at which one of the portfolio's books (any mode) has a bucket whose collateral plus
unrealised PnL is at or below its maintenance is that portfolio's boundary (funding and fees
ignored, as in the closed-form liquidation prices). The run shifts toward the nearest boundary
among its portfolios, ``z`` standard deviations of that portfolio's loss factor; for a single
long position that puts Q's mean log-price at the horizon on its liquidation price. Without a
finite boundary (within `Z_MAX`) there is no shift: every weight is exactly 1, and the summary
says so. Whatever the shift, the weights make every estimate unbiased under the real measure;
the shift only decides how many paths the rare event gets.

Merton: Q also raises the jump intensity to ``lam' = lam exp(c z)`` where the jumps are adverse
to the portfolio (`stress.paths.importance_jumps` derives ``c`` and the cap), and ``z`` is
searched with Q's mean including its extra jumps' mean log-size, so that Q's mean path still
ends on the boundary. The nearest portfolio is then the one whose Q is nearest to P in relative
entropy (``z**2 / 2`` plus the jumps' share; for a gbm simply the smallest ``z``). Each path's
weight needs its jumps up to the step it is stopped at: the generator reports them with the
prices (`imp.mixed_chunks`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from stress.errors import ConfigError
from stress.margin.engine import PathResults, collect, mark_paths
from stress.margin.layout import Layout
from stress.margin.numpy_engine import position_maintenance
from stress.paths import importance as imp
from stress.paths import importance_jumps as jumps_q
from stress.paths.spec import ModelSpec, TimeGrid
from stress.pipeline.prepare import Plan

FIELD = "simulation.importance"

Z_MAX = 40.0
"""Farthest boundary searched, in standard deviations of the loss factor at the horizon."""

Z_GRID = 4001
"""Points of the boundary search on [0, Z_MAX] before the crossing is bisected."""

NOTES = (
    "paths drawn under a shifted measure and weighted by their likelihood ratio dP/dQ: every "
    "probability, mean, VaR, ES, quantile and paired difference is weighted; p_liquidation_ci "
    "is a normal interval (p +- 1.96 SE, clipped at 0), not Wilson's; bad_debt_max is the "
    "largest over the paths drawn"
)


def active(plan: Plan) -> bool:
    return plan.config.simulation.importance == "auto"


def check_run(plan: Plan, kept: int, client: Any) -> None:
    """Refuse, in one line, what the weighted estimators cannot cover."""
    src = plan.config._source
    if client is not None:
        raise ConfigError(
            f"{src}: {FIELD}: auto runs on this machine only (the weights are read from the "
            "prices as they are marked), got a Dask client (--workers or --scheduler)"
        )
    if kept < plan.paths:
        raise ConfigError(
            f"{src}: {FIELD}: auto needs every path's results for its weighted estimators: at "
            f"most {kept:,} paths fit the memory for these books, got {plan.paths:,} "
            "(simulation.paths)"
        )


def _bucket_surplus(layout: Layout, buckets: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Collateral + unrealised PnL - maintenance of `buckets` at each row of `prices` (G, A):
    (G, len(buckets)); funding and fees ignored."""
    pos = np.flatnonzero(np.isin(layout.pos_bucket, buckets))
    a = layout.pos_asset[pos]
    qty, entry = layout.pos_qty[pos], layout.pos_entry[pos]
    price = prices[:, a]
    mm = position_maintenance(layout, np.abs(qty) * price, a)
    terms = qty * (price - entry) - mm
    member = layout.pos_bucket[pos][:, None] == buckets[None, :]
    return layout.bucket_collateral[buckets] + terms @ member


def boundary_z(
    layout: Layout,
    books: list[int],
    spec: ModelSpec,
    grid: TimeGrid,
    v: np.ndarray,
    tilt: tuple[float, float] = (0.0, 0.0),
) -> float | None:
    """Smallest ``z`` in [0, `Z_MAX`] at which a bucket of `books` is liquidated at Q's mean
    horizon prices ``exp(E_P[log S_T] + z v)`` (`imp.horizon_log_mean`), for merton plus the
    raised jumps' mean log-size ``(lam'(z) - lam) T m``, ``lam'(z)`` from `tilt`
    (`stress.paths.importance_jumps`); None if none is."""
    buckets = np.flatnonzero(np.isin(layout.bucket_book, books))
    base = imp.horizon_log_mean(spec, grid)
    horizon = grid.n_steps * grid.dt

    def hit(z: np.ndarray) -> np.ndarray:
        log_prices = base + z[:, None] * v
        if tilt[0] > 0.0:
            more = jumps_q.raised_intensity(spec, grid, tilt, z) - spec.jump_intensity
            log_prices = log_prices + (more * horizon * spec.jump_mean)[:, None]
        prices = np.exp(log_prices)
        return (_bucket_surplus(layout, buckets, prices) <= 0.0).any(axis=1)

    zs = np.linspace(0.0, Z_MAX, Z_GRID)
    first = np.flatnonzero(hit(zs))
    if first.size == 0:
        return None
    j = int(first[0])
    if j == 0:
        return 0.0
    lo, hi = float(zs[j - 1]), float(zs[j])
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if hit(np.array([mid]))[0] else (mid, hi)
    return hi


def _nearest(plan: Plan) -> tuple[float, float, int, np.ndarray] | None:
    """``(z, lam', portfolio, a)`` of the portfolio whose boundary is nearest in relative
    entropy, ``z**2 / 2`` plus the jumps' share (`jumps_q.jump_divergence`): for a gbm, the
    smallest ``z``. None when no portfolio has a boundary within `Z_MAX`."""
    spec, grid, layout = plan.spec, plan.grid, plan.layout
    marks = plan.marks
    best: tuple[float, tuple[float, float, int, np.ndarray]] | None = None
    for k_port, port in enumerate(plan.portfolios):
        notional = np.zeros(spec.n_assets)
        for p in port.positions:
            notional[p.asset_index] += p.sign * p.quantity * marks[p.asset_index]
        a = imp.loss_exposure(spec, notional)
        v = imp.horizon_direction(spec, grid, a)
        tilt = (0.0, 0.0) if v is None else jumps_q.jump_tilt(spec, grid, notional, a)
        books = layout.books_of(k_port)
        z = None if v is None else boundary_z(layout, books, spec, grid, v, tilt)
        if z is None:
            continue
        lam = float(jumps_q.raised_intensity(spec, grid, tilt, np.array(z)))
        jump_kl = jumps_q.jump_divergence(spec, grid, lam) if tilt[0] > 0.0 else 0.0
        cost = 0.5 * z * z + jump_kl
        if best is None or cost < best[0]:
            best = (cost, (z, lam, k_port, a))
    return None if best is None else best[1]


def choose_shift(plan: Plan) -> tuple[imp.MeanShift, dict[str, Any]]:
    """The run's shift toward its nearest boundary (module docstring), and what it targets."""
    spec, grid = plan.spec, plan.grid
    best = _nearest(plan)
    if best is None:
        note = f"no liquidation boundary within {Z_MAX:g} standard deviations: no shift"
        return imp.no_shift(spec.n_assets), {"target": None, "note": note}
    z, lam, k_port, a = best
    target = {"portfolio": plan.portfolios[k_port].name, "shift_sd": z}
    if z == 0.0:
        note = "a book is liquidated at the horizon's expected prices: no shift needed"
        return imp.no_shift(spec.n_assets), {"target": target, "note": note}
    return imp.mean_shift(spec, grid, a, z, lam), {"target": target, "note": None}


def summary(
    spec: ModelSpec, shift: imp.MeanShift, chosen: dict[str, Any], weights: np.ndarray, q_drift
) -> dict[str, Any]:
    """The ``importance`` block of summary.json: what was shifted, by how much, and the
    weights' effective sample size (Kish's ``(sum w)**2 / sum w**2``)."""
    jumps = {}
    if jumps_q.has_jumps(spec):  # Q's intensity, P's where it is not raised
        raised = shift.intensity is not None
        jumps = {"jump_intensity": shift.intensity if raised else float(spec.jump_intensity)}
    return {
        "method": "mean_shift",
        "theta": [float(x) for x in imp.theta(spec, shift)],
        "shift_sd": shift.z,
        "drift": [float(x) for x in q_drift],
        **jumps,
        "target": chosen["target"],
        "effective_paths": imp.effective_paths(weights),
        "weight_sum": float(np.sum(weights)),
        "note": chosen["note"],
        "estimators": NOTES,
    }


@dataclass(frozen=True)
class Weights:
    """Each path's weight dP/dM, M the defensive mixture of P and Q (`imp.mixture_weights`).

    Attributes
    ----------
    terminal : ndarray (n_paths,)
        From the likelihood ratio at the horizon: weights every statistic.
    liquidation : ndarray (n_paths, n_books)
        From the ratio stopped at the book's first liquidation (at the horizon where there is
        none): weights what that step decides, the liquidation probability, its interval and
        the time to liquidation, with less noise (`imp.log_weights`).
    p_paths : int
        Paths drawn under the real measure (every path when there is no shift).
    """

    terminal: np.ndarray
    liquidation: np.ndarray
    p_paths: int


def _at(spec, grid, shift, prices: np.ndarray, step: np.ndarray, jumps) -> np.ndarray:
    """``log dP/dQ`` of each path of a chunk at its own `step` (m,); `jumps` the chunk's
    (`imp.mixed_chunks`), None without jumps."""
    s0 = np.asarray(spec.s0, dtype=np.float64)
    log_return = np.log(prices[np.arange(prices.shape[0]), step] / s0)
    seen = None if jumps is None else jumps_q.jumps_until(jumps, step, spec.n_assets)
    return imp.log_weights(spec, grid, shift, log_return, step, seen)


def _chunk_log_lr(spec, grid, shift, prices, first_step: np.ndarray, jumps) -> np.ndarray:
    """``log dP/dQ`` of each path of a chunk at the horizon (column 0) and at each book's
    first liquidation (the horizon where there is none): (m, 1 + K)."""
    m, n_books = first_step.shape
    out = np.empty((m, 1 + n_books))
    out[:, 0] = _at(spec, grid, shift, prices, np.full(m, grid.n_steps), jumps)
    for k in range(n_books):
        step = np.where(first_step[:, k] >= 0, first_step[:, k], grid.n_steps)
        out[:, 1 + k] = _at(spec, grid, shift, prices, step, jumps)
    return out


def run_weighted(
    plan: Plan, progress: Any, kept: int, update: Any
) -> tuple[PathResults, Weights | None, dict[str, Any]]:
    """Mark every book on paths drawn from the mixture of P and the run's shifted measure Q.

    Returns
    -------
    results : PathResults
        Every path's results (`check_run` made sure they fit).
    weights : Weights or None
        None without a shift: every weight would be exactly 1, the paths are plain Monte
        Carlo's, and only then are the chunks passed to `update` (the plain statistics), which
        a weighted run rebuilds from every path instead (`weighted_stream_stats`).
    info : dict
        The ``importance`` block of summary.json (`summary`).
    """
    spec, grid, layout = plan.spec, plan.grid, plan.layout
    shift, chosen = choose_shift(plan)
    q_spec = imp.shifted_spec(spec, grid, shift)
    log_lr = np.zeros((plan.paths, 1 + layout.n_books))

    def marked() -> Iterator[tuple[int, PathResults]]:
        chunks = imp.mixed_chunks(spec, q_spec, grid, plan.seed, plan.paths, plan.chunk_paths)
        for first, prices, jumps in chunks:
            chunk = mark_paths(layout, plan.rules, first, prices)
            if not shift.is_zero:
                rows = slice(first, first + prices.shape[0])
                step = chunk.first_liq_step
                log_lr[rows] = _chunk_log_lr(spec, grid, shift, prices, step, jumps)
            yield first, chunk

    on_chunk = update if shift.is_zero else None
    results = collect(layout, plan.rules, marked(), plan.paths, progress, kept, on_chunk)
    alpha = imp.p_share(plan.paths)
    if shift.is_zero:
        info = summary(spec, shift, chosen, np.ones(plan.paths), q_spec.drift)
        return results, None, {**info, "p_share": alpha}
    w = imp.mixture_weights(log_lr, alpha)
    weights = Weights(terminal=w[:, 0], liquidation=w[:, 1:], p_paths=round(alpha * plan.paths))
    info = summary(spec, shift, chosen, weights.terminal, q_spec.drift)
    return results, weights, {**info, "p_share": alpha}
