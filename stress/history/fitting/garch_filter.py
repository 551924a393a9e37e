"""The conditional variance of a fitted model along new data, its parameters held fixed.

A fit (`stress.history.fitting.garch.fit_garch`) ends with ``sigma2_next``, the variance of the
bar after its window. Run forward through the returns that came after, with the same recursion
(`stress.history.fitting.garch_fit`),

    sigma2_{t+1} = omega + (alpha + gamma 1{e_t < 0}) e_t**2 + beta sigma2_t,   e_t = r_t - mu,

it gives the variance each later bar starts with, from the data before that bar only: what a
model fitted once and *filtered* (not refitted) forecasts every day. EWMA is the case ``mu = 0,
omega = 0, alpha = 1 - lambda, gamma = 0, beta = lambda``. Started from arch's first conditional
variance, the recursion reproduces arch's own filtered variances and its one-bar forecast (tested).
"""

from __future__ import annotations

import numpy as np

from stress.history.fitting.garch_fit import GarchFit


def filter_variance(
    fit: GarchFit, returns: np.ndarray, sigma2_start: np.ndarray | None = None
) -> np.ndarray:
    """The variance of each bar of ``returns`` and of the bar after the last.

    Parameters
    ----------
    fit : GarchFit
        Its ``mu``, ``omega``, ``alpha``, ``gamma``, ``beta`` are used, held fixed.
    returns : ndarray, shape (n, A)
        Single-bar log returns, oldest first, of the fit's assets in its order: the bars after
        the fit's window (returns across a gap dropped, as the fit's were).
    sigma2_start : ndarray, shape (A,), optional
        The variance of the first of them; default ``fit.sigma2_next``.

    Returns
    -------
    ndarray, shape (n + 1, A)
        Row ``t`` is the variance of bar ``t``, computed from bars ``0 .. t - 1`` only; row ``n``
        is the variance of the bar after the last.
    """
    x = np.asarray(returns, dtype=np.float64)
    n_assets = len(fit.names)
    if x.ndim != 2 or x.shape[1] != n_assets:
        raise ValueError(f"returns: expected shape (n, {n_assets}), got {x.shape}")
    start = fit.sigma2_next if sigma2_start is None else sigma2_start
    out = np.empty((x.shape[0] + 1, n_assets))
    for j in range(n_assets):
        out[:, j] = _one_asset(
            x[:, j] - float(fit.mu[j]),
            float(np.asarray(start)[j]),
            (float(fit.omega[j]), float(fit.alpha[j]), float(fit.gamma[j]), float(fit.beta[j])),
        )
    return out


def _one_asset(e: np.ndarray, s2: float, params: tuple[float, float, float, float]) -> list:
    """The recursion along one asset's residuals, in plain floats (fast for a scalar loop)."""
    omega, alpha, gamma, beta = params
    out = [s2]
    for r in e.tolist():
        s2 = omega + (alpha + gamma if r < 0.0 else alpha) * r * r + beta * s2
        out.append(s2)
    return out
