"""Multivariate Student-t log returns with exact drift compensation.

Per (path, step) one ``W ~ chi2(dof)`` is shared by all assets, and the innovation vector is
``Y = (L Z) sqrt((dof - 2) / W)``: multivariate t with the given correlation, unit variance per
asset, and tail dependence (a small ``W`` blows up every asset at once).

Why clip: the t distribution has no moment generating function, so ``E[exp(a Y)]`` is infinite and
no drift can make ``E[S_T] = S_0 exp(drift T)`` hold. Each standardised innovation is therefore
clipped at ``+/- CLIP_SD`` standard deviations. At 50 sd the clip is negligible for dof >= 4
and small at dof 3: ``P(|Y| > 50)`` is 3e-6 for dof 3, 2e-7 for dof 4, 8e-14 for dof 10, and the
share of the variance it removes is 1.7 %, 6e-4 and 5e-11. Yet it bounds a single step's log move by
``50 vol sqrt(dt)`` and gives the innovation a finite MGF. Below dof 3 the variance of a t lives in
ever rarer, larger moves and any clip removes much of it (11 % at dof 2.5, 76 % at dof 2.05); the
rescaling then widens the body to keep ``vol``, so such a model has thinner extreme tails
than an unclipped t with the same sd. The clipped innovation is then divided by its own standard
deviation (computed by numerical integration), so ``vol`` is exactly the sd of the whole
per-step log return, and the per-step drift subtracts ``log E[exp(a eps)]`` of the clipped, rescaled
distribution (point masses at the clip included), so ``E[S_{k+1} / S_k] = exp(drift dt)`` exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import integrate, stats

from stress.paths.correlation import correlated_normals, correlation_factor
from stress.paths.spec import ModelSpec, TimeGrid

CLIP_SD = 50.0
"""Clip of the unit-variance innovation, in standard deviations (see the module docstring)."""

_QUAD_OPTS = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 200}


def _half_integral(func: Callable[[float], float], upper: float) -> float:
    """``int_0^upper func(x) dx`` split at 1, 2, 4, 8, ...: quad on each piece resolves both the
    body and the polynomial tail of the t density, which one interval over [0, ~90] would not."""
    inner = 2.0 ** np.arange(0, max(1, int(np.ceil(np.log2(upper)))))
    edges = np.concatenate(([0.0], inner[inner < upper], [upper]))
    pieces = zip(edges[:-1], edges[1:], strict=True)
    return float(sum(integrate.quad(func, lo, hi, **_QUAD_OPTS)[0] for lo, hi in pieces))


@lru_cache(maxsize=64)
def clipped_sd(dof: float, clip: float = CLIP_SD) -> float:
    """Standard deviation of ``clip(Y, -clip, clip)`` for a unit-variance Student-t ``Y``.

    Parameters
    ----------
    dof : float
        Degrees of freedom, > 2.
    clip : float
        Clip level in standard deviations of ``Y``.

    Returns
    -------
    float
        ``sqrt(E[min(Y**2, clip**2)])``, slightly below 1.
    """
    k = np.sqrt((dof - 2.0) / dof)  # Y = k T with T ~ t(dof)
    x_clip = clip / k
    t = stats.t(dof)
    body = _half_integral(lambda x: (k * x) ** 2 * t.pdf(x), x_clip)
    var = 2.0 * (body + clip * clip * t.sf(x_clip))
    return float(np.sqrt(var))


@lru_cache(maxsize=1024)
def log_mgf(dof: float, a: float, clip: float = CLIP_SD) -> float:
    """Per-step compensator ``log E[exp(a eps)]`` of the clipped, rescaled innovation.

    ``eps = clip(Y, -clip, clip) / clipped_sd(dof, clip)`` with ``Y`` unit-variance Student-t.

    Parameters
    ----------
    dof : float
        Degrees of freedom, > 2.
    a : float
        Scale of the log return, ``vol * sqrt(dt)``.
    clip : float
        Clip level in standard deviations of ``Y``.

    Returns
    -------
    float
        Close to ``a**2 / 2`` for small ``a``.
    """
    if a == 0.0:
        return 0.0
    k = np.sqrt((dof - 2.0) / dof)
    x_clip = clip / k
    b = a / clipped_sd(dof, clip) * k  # exponent per unit of the raw t variable
    t = stats.t(dof)
    # eps is symmetric, so E[exp(b T)] - 1 = E[cosh(b T) - 1] = E[2 sinh(b T / 2)**2]: no
    # cancellation, full relative precision even when the answer is ~1e-8.
    body = _half_integral(lambda x: 2.0 * np.sinh(0.5 * b * x) ** 2 * t.pdf(x), x_clip)
    atoms = 2.0 * np.sinh(0.5 * b * x_clip) ** 2 * t.sf(x_clip)  # the point masses at +/- clip
    return float(np.log1p(2.0 * (body + atoms)))


def log_increments(
    spec: ModelSpec, grid: TimeGrid, n_paths: int, rng: np.random.Generator
) -> np.ndarray:
    """Log-price increments with multivariate Student-t innovations (see the module docstring).

    ``dlogS_i = drift_i dt - log E[exp(a_i eps)] + a_i eps_i`` with ``a_i = vol_i sqrt(dt)``, so
    ``sd(dlogS_i) = vol_i sqrt(dt)`` and ``E[exp(dlogS_i)] = exp(drift_i dt)``.

    Parameters
    ----------
    spec : ModelSpec
        Uses ``vol``, ``drift``, ``corr`` and ``dof`` (> 2).
    grid : TimeGrid
    n_paths : int
    rng : numpy.random.Generator
        The only source of randomness. Draw order: all normals, then one chi-square per
        (path, step).

    Returns
    -------
    ndarray, shape (n_paths, n_steps, n_assets), float64
    """
    dof = float(spec.dof)
    if not dof > 2.0:
        raise ValueError(f"student_t needs dof > 2, got {dof}")
    vol = np.asarray(spec.vol, dtype=np.float64)
    drift = np.asarray(spec.drift, dtype=np.float64)
    a = vol * np.sqrt(grid.dt)
    comp = np.array([log_mgf(dof, float(ai), CLIP_SD) for ai in a])

    inc = correlated_normals(correlation_factor(spec.corr), (n_paths, grid.n_steps), rng)
    w = rng.chisquare(dof, size=(n_paths, grid.n_steps))
    np.divide(dof - 2.0, w, out=w)
    np.sqrt(w, out=w)
    inc *= w[..., None]
    del w
    np.clip(inc, -CLIP_SD, CLIP_SD, out=inc)
    inc *= a / clipped_sd(dof, CLIP_SD)
    inc += drift * grid.dt - comp
    return inc
