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

import numpy as np

from stress.history.fitting.clipped_t import CLIP_SD, clipped_sd, log_mgf
from stress.paths.correlation import correlated_normals, correlation_factor
from stress.paths.spec import ModelSpec, TimeGrid


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
