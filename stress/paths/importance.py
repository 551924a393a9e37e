"""Importance sampling for rare liquidations: a mean shift of the normals, and its weights.

The real measure P draws the normals of step t as ``Z_t ~ N(0, I)`` (the uncorrelated space);
a GBM's log-price increments are ``(drift - vol**2 / 2) dt + vol sqrt(dt) (L Z_t)`` with
``L L' = corr`` (`stress.paths.correlation`). The sampling measure Q draws ``Z_t ~ N(theta, I)``
at every step, the same ``theta`` for every step and path. That is again a GBM, with the drift
of asset i raised to

    drift'_i = drift_i + vol_i (L theta)_i / sqrt(dt),

so Q's paths come from the existing generator with a changed `ModelSpec` (`shifted_spec`).
Each path's likelihood ratio is

    dP/dQ = exp(-theta . sum_t Z_t + n_steps |theta|**2 / 2),   Z_t ~ N(theta, I) under Q,

and it is read back from the path's terminal log-price alone. The generator draws
``Z_t - theta ~ N(0, I)`` and adds the raised drift, so ``log(S_T / S_0) = (drift - vol**2 / 2)
T + vol sqrt(dt) L sum_t Z_t`` with P's drift, ``T = n_steps dt``. The shift is always written
as ``theta = L' u`` for a vector ``u`` over assets (`MeanShift.u`), so that
``theta . sum_t Z_t = u . sum_t (L Z_t)`` and, per asset,

    sum_t (L Z_t)_i = (log(S_T,i / S_0,i) - (drift_i - vol_i**2 / 2) T) / (vol_i sqrt(dt)):

no solve with ``L`` is needed, and a singular correlation (where ``L`` has no inverse) is
handled the same way. ``|theta|**2 = u' corr u``. In float64 the terminal log-price carries
a rounding error of about 1e-16 times the number of steps, which moves a log-weight by far
less than 1e-9.

The direction: a book's unrealised PnL moves, to first order, by ``sum_i w_i dlog S_i`` with
``w_i`` its signed notional on asset i, so its exposure to the normals of one step is
``vol sqrt(dt) L' (w * vol)``; the loss direction in Z space is ``e = -L' a / |L' a|`` with
``a = w * vol`` (`loss_exposure`). Moving the sum of the normals ``z sqrt(n_steps)`` along ``e``
moves asset i's log-price by ``z v_i`` at the horizon, ``v = -vol sqrt(T) (corr a) /
sqrt(a' corr a)`` (`horizon_direction`): ``z`` counts standard deviations of the book's loss
factor at the horizon. The pipeline (`stress.pipeline.importance`) picks ``z`` so that Q's mean
path ends on the nearest liquidation boundary; for one long position that puts
``E_Q[log S_T]`` at ``log`` of its liquidation price, the classical choice.

Merton: the same shift of the diffusion's normals, and more jumps (`MeanShift.intensity`,
`stress.paths.importance_jumps`). Q keeps P's drift compensator, so the increments are P's
``(drift - vol**2 / 2 - lam kappa) dt + vol sqrt(dt) L Z_t`` plus the jumps, and the sum of the
normals is read back from the log-price with the jumps' log-sizes taken out; the jump counts
add their own factor:

    dP/dQ = exp(-theta . sum_t Z_t + n |theta|**2 / 2) (lam / lam')**N exp((lam' - lam) n dt c)

with ``N`` the jumps of the path's ``c`` clocks (1 common, n_assets independent).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from stress.paths import importance_jumps as jumps_q
from stress.paths.correlation import correlation_factor
from stress.paths.generate import BLOCK_PATHS, chunk_paths_for, chunk_prices
from stress.paths.merton import JumpDraws
from stress.paths.spec import ModelSpec, TimeGrid
from stress.threads import run_slices

SHIFTABLE = ("gbm", "merton")
"""Model kinds whose Q is a mean shift of the normals (and for merton a raised intensity)."""


@dataclass(frozen=True)
class MeanShift:
    """The per-step shift ``theta = L' u`` of the normals, and what it was chosen from.

    Attributes
    ----------
    u : ndarray, shape (n_assets,)
        The shift in asset space: ``theta = L' u``; zeros for no shift.
    z : float
        Standard deviations of the loss factor the horizon's mean is moved by (0: no shift).
    intensity : float or None
        Q's jump intensity ``lam' > lam`` per year (merton only); None: P's.
    """

    u: np.ndarray
    z: float
    intensity: float | None = None

    @property
    def is_zero(self) -> bool:
        return not np.any(self.u) and self.intensity is None


def no_shift(n_assets: int) -> MeanShift:
    """theta = 0: Q is P and every weight is exactly 1."""
    return MeanShift(u=np.zeros(n_assets), z=0.0)


def loss_exposure(spec: ModelSpec, notional: np.ndarray) -> np.ndarray:
    """``a = w * vol``: the book's PnL per unit move of each asset's standardised log-price.

    Parameters
    ----------
    spec : ModelSpec
    notional : ndarray, shape (n_assets,)
        Signed notional per asset (long > 0), summed over the book's positions.
    """
    return np.asarray(notional, dtype=np.float64) * np.asarray(spec.vol, dtype=np.float64)


def horizon_direction(spec: ModelSpec, grid: TimeGrid, a: np.ndarray) -> np.ndarray | None:
    """Log-price move of each asset at the horizon per standard deviation ``z`` along the loss
    direction: ``v = -vol sqrt(T) (corr a) / sqrt(a' corr a)``; None when ``a' corr a == 0``
    (no exposure: the book's PnL does not move with the normals)."""
    corr = np.asarray(spec.corr, dtype=np.float64)
    ca = corr @ a
    var = float(a @ ca)
    if not var > 0.0:
        return None
    horizon = grid.n_steps * grid.dt
    return -np.asarray(spec.vol, dtype=np.float64) * math.sqrt(horizon) * ca / math.sqrt(var)


def mean_shift(
    spec: ModelSpec, grid: TimeGrid, a: np.ndarray, z: float, intensity: float | None = None
) -> MeanShift:
    """The shift that moves the horizon's mean by ``z`` standard deviations along the loss
    direction of exposure ``a``: ``theta = k e`` with ``k = z / sqrt(n_steps)`` per step, i.e.
    ``u = -k a / sqrt(a' corr a)``. ``z <= 0`` or no exposure: `no_shift`. `intensity`: Q's
    jump intensity (merton), kept only where it is above P's."""
    corr = np.asarray(spec.corr, dtype=np.float64)
    var = float(a @ corr @ a)
    if not (z > 0.0 and var > 0.0):
        return no_shift(spec.n_assets)
    k = z / math.sqrt(grid.n_steps)
    raised = intensity is not None and intensity > float(spec.jump_intensity)
    return MeanShift(
        u=-k * np.asarray(a, dtype=np.float64) / math.sqrt(var),
        z=float(z),
        intensity=float(intensity) if raised else None,
    )


def horizon_log_mean(spec: ModelSpec, grid: TimeGrid) -> np.ndarray:
    """``E_P[log S_T]`` per asset: ``log S_0 + (drift - vol**2 / 2) T``, and for merton
    ``- lam kappa T + lam T m`` (its compensator and its jumps' mean log-size ``m``)."""
    horizon = grid.n_steps * grid.dt
    base = np.log(spec.s0) + (spec.drift - 0.5 * spec.vol**2) * horizon
    if not jumps_q.has_jumps(spec):
        return base
    lam = float(spec.jump_intensity)
    return base + lam * horizon * (float(spec.jump_mean) - jumps_q.kappa(spec))


def theta(spec: ModelSpec, shift: MeanShift) -> np.ndarray:
    """The per-step shift of the normals in the uncorrelated space, ``L' u`` (n_assets,)."""
    return correlation_factor(spec.corr).T @ shift.u


def shifted_spec(spec: ModelSpec, grid: TimeGrid, shift: MeanShift) -> ModelSpec:
    """Q as a model of the same kind: ``drift' = drift + vol (L theta) / sqrt(dt) = drift +
    vol (corr u) / sqrt(dt)`` (``L L' = corr``); the spec itself when there is no shift.

    Merton with a raised intensity ``lam'``: the drift is raised by ``(lam' - lam) kappa`` as
    well, so that the generator's compensator ``lam' kappa`` leaves P's ``lam kappa`` in the
    diffusion (to rounding, ~1e-16 of the drift): Q's diffusion is P's with shifted normals.
    """
    if shift.is_zero:
        return spec
    if spec.kind not in SHIFTABLE:
        raise ValueError(f"a mean shift needs model kind gbm or merton, got {spec.kind!r}")
    corr = np.asarray(spec.corr, dtype=np.float64)
    drift = np.asarray(spec.drift, dtype=np.float64)
    extra = np.asarray(spec.vol, dtype=np.float64) * (corr @ shift.u) / math.sqrt(grid.dt)
    if shift.intensity is None:
        return replace(spec, drift=drift + extra)
    raise_by = (shift.intensity - float(spec.jump_intensity)) * jumps_q.kappa(spec)
    return replace(spec, drift=drift + extra + raise_by, jump_intensity=shift.intensity)


def log_weights(
    spec: ModelSpec,
    grid: TimeGrid,
    shift: MeanShift,
    log_return: np.ndarray,
    steps: np.ndarray | None = None,
    jumps: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``log dP/dQ`` of each path from its log-return (module docstring), at the horizon or
    stopped at a step of its own.

    Parameters
    ----------
    spec : ModelSpec
        The real measure's (not `shifted_spec`'s).
    grid : TimeGrid
    shift : MeanShift
    log_return : ndarray, shape (n_paths, n_assets)
        ``log(S_s / S_0)`` of each path under Q, at its step ``s``.
    steps : ndarray of int, shape (n_paths,), optional
        The step ``s`` of each path (default: the horizon, ``n_steps``). The likelihood ratio is
        a Q-martingale, so for an event decided by step ``s`` (a first liquidation at ``s``) the
        ratio stopped there weights it without bias, and with less noise than the horizon's:
        the steps after it no longer move the weight.
    jumps : (ndarray (n_paths,), ndarray (n_paths, n_assets)), optional
        Merton: each path's jump count (all clocks) and summed jump log-sizes per asset up to
        its step (`stress.paths.importance_jumps.jumps_until`); required when P has jumps.

    Returns
    -------
    ndarray, shape (n_paths,), float64
        Exactly 0 when there is no shift.
    """
    x = np.asarray(log_return, dtype=np.float64)
    if shift.is_zero:
        return np.zeros(x.shape[0])
    n = np.full(x.shape[0], float(grid.n_steps)) if steps is None else np.asarray(steps, float)
    vol = np.asarray(spec.vol, dtype=np.float64)
    centred = x - n[:, None] * jumps_q.diffusion_step_mean(spec, grid)
    if jumps_q.has_jumps(spec):
        if jumps is None:
            raise ValueError("merton's weights need each path's jumps (jumps_until)")
        centred = centred - jumps[1]
    # u_i sum_t (L Z_t)_i, with vol_i cancelled where it can be (vol > 0 for gbm and merton)
    sums = centred @ (shift.u / (vol * math.sqrt(grid.dt)))
    norm2 = float(shift.u @ np.asarray(spec.corr, dtype=np.float64) @ shift.u)
    out = -sums + 0.5 * n * norm2
    if shift.intensity is not None:
        out += jumps_q.count_log_ratio(spec, grid, shift.intensity, jumps[0], n)
    return out


def likelihood_ratios(
    spec: ModelSpec,
    grid: TimeGrid,
    shift: MeanShift,
    log_return: np.ndarray,
    jumps: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``dP/dQ`` of each path at the horizon (`log_weights` exponentiated); exactly 1 with no
    shift."""
    return np.exp(log_weights(spec, grid, shift, log_return, jumps=jumps))


DEFENSIVE_EVERY = 4
"""Every this-many-th path block (blocks 0, 4, 8, ...) is drawn under P itself, the others
under Q: a defensive mixture (`mixed_chunks`, `mixture_weights`)."""


def block_from_p(block: int) -> bool:
    """Whether path block `block` is drawn under the real measure."""
    return block % DEFENSIVE_EVERY == 0


def p_share(n_paths: int) -> float:
    """Share of a run's paths drawn under P: ``alpha`` of `mixture_weights`."""
    blocks = range(-(-n_paths // BLOCK_PATHS))
    drawn = sum(min(BLOCK_PATHS, n_paths - b * BLOCK_PATHS) for b in blocks if block_from_p(b))
    return drawn / n_paths


def mixed_chunks(
    spec: ModelSpec,
    q_spec: ModelSpec,
    grid: TimeGrid,
    seed: int,
    n_paths: int,
    chunk_paths: int | None = None,
) -> Iterator[tuple[int, np.ndarray, JumpDraws | None]]:
    """The run's prices chunk by chunk, block `b` drawn under `spec` (P) where `block_from_p`
    and under `q_spec` (Q) elsewhere, each from its own ``SeedSequence`` key as always: a
    P block holds the same prices as in a run without importance sampling.

    Yields ``(first, prices, jumps)``: ``jumps`` the chunk's jumps (path indices within the
    chunk) when P has jumps (merton), else None."""
    if chunk_paths is None:
        chunk_paths = chunk_paths_for(grid, spec.n_assets)
    recorded = jumps_q.has_jumps(spec)
    for first in range(0, n_paths, chunk_paths):
        m = min(chunk_paths, n_paths - first)
        out = np.empty((m, grid.n_steps + 1, spec.n_assets))
        parts = _fill_mixed(out, first, spec, q_spec, grid, seed, recorded)
        yield first, out, jumps_q.joined(parts, spec.n_assets) if recorded else None


def _fill_mixed(out, first, spec, q_spec, grid, seed, recorded: bool) -> list:
    """Fill a chunk's blocks, each under P or Q, on all cores (blocks share nothing); the
    blocks' jump records, in block order, when `recorded`."""
    offsets = list(range(0, out.shape[0], BLOCK_PATHS))
    parts: list = [None] * len(offsets)

    def fill(k0: int, k1: int) -> None:
        for k in range(k0, k1):
            offset = offsets[k]
            block = (first + offset) // BLOCK_PATHS
            rows = out[offset : offset + BLOCK_PATHS]
            model = spec if block_from_p(block) else q_spec
            if recorded:
                parts[k] = (offset, jumps_q.jump_block(rows, model, grid, seed, block))
            else:
                chunk_prices(model, grid, seed, first + offset, rows.shape[0], rows)

    run_slices(fill, len(offsets))
    return parts


def mixture_weights(log_lr: np.ndarray, alpha: float) -> np.ndarray:
    """Weights of paths drawn from the defensive mixture ``alpha P + (1 - alpha) Q``.

    ``w = dP / d(alpha P + (1 - alpha) Q) = 1 / (alpha + (1 - alpha) exp(-log dP/dQ))``, the
    same formula whichever part drew the path (the balance heuristic: unbiased with a fixed
    share ``alpha`` of the paths from P). Every weight is at most ``1 / alpha``, so a
    statistic's second moment is at most ``1 / alpha`` times plain Monte Carlo's (``Var <=
    E_P[f^2] / alpha - E_P[f]^2``), while the rare event keeps ``1 - alpha`` of Q's paths.

    Parameters
    ----------
    log_lr : ndarray (n_paths,)
        ``log dP/dQ`` of each path (`log_weights`).
    alpha : float in (0, 1]
        Share of the paths drawn under P (`p_share`).
    """
    with np.errstate(over="ignore"):
        return 1.0 / (alpha + (1.0 - alpha) * np.exp(-np.asarray(log_lr, dtype=np.float64)))


def effective_paths(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)**2 / sum w**2``: the number of plain Monte Carlo
    paths the weighted sample is worth for a mean; far below the path count when a few paths
    carry most of the weight (a shift too far)."""
    w = np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    square = float(w @ w)
    return total * total / square if square > 0.0 else 0.0
