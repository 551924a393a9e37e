"""Correlated GBM: the weighted sample mean and covariance are the maximum-likelihood estimates."""

from __future__ import annotations

import numpy as np

from stress.history.fitting.estimate import Estimate


def fit(x: np.ndarray, w: np.ndarray, dt: float) -> Estimate:
    """Fit correlated GBM to single-bar log returns.

    Parameters
    ----------
    x : ndarray, shape (n_returns, n_assets)
        Log returns over bars of ``dt`` years.
    w : ndarray, shape (n_returns,)
        Weights summing to the effective sample size.
    dt : float

    Returns
    -------
    Estimate
        Standard errors are the inverse observed information at the maximum, in closed form:
        ``vol / sqrt(2 n)``, ``(1 - rho**2) / sqrt(n)`` and, for
        ``drift = mean / dt + vol**2 / 2``, ``sqrt(vol**2 / (n dt) + vol**4 / (2 n))``, with
        ``n = sum(w)``.
    """
    n = float(w.sum())
    k = x.shape[1]
    mean = w @ x / n
    dev = x - mean
    cov = (dev * w[:, None]).T @ dev / n  # the MLE divides by n, not n - 1
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    np.fill_diagonal(corr, 1.0)
    vol = sd / np.sqrt(dt)
    corr_se = (1.0 - corr**2) / np.sqrt(n)
    np.fill_diagonal(corr_se, 0.0)
    _, logdet = np.linalg.slogdet(cov)
    return Estimate(
        kind="gbm",
        vol=vol,
        vol_se=vol / np.sqrt(2.0 * n),
        corr=corr,
        corr_se=corr_se,
        drift=mean / dt + 0.5 * vol**2,
        drift_se=np.sqrt(vol**2 / (n * dt) + vol**4 / (2.0 * n)),
        loglik=-0.5 * n * (k * np.log(2.0 * np.pi) + logdet + k),
        n_params=2 * k + k * (k - 1) // 2,
    )
