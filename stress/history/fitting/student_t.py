"""Multivariate Student-t: one shared dof, a location, scales and a correlation, by maximum
likelihood.

The generator (`stress.paths.student_t`) makes a bar's log return
``c + a * clip(Y) / clipped_sd(dof)`` with ``Y = L Z sqrt((dof - 2) / W)`` (unit variance,
correlation ``L L'``) and ``a = vol sqrt(dt)``. Away from the 50-sd clip this is a multivariate t
with location ``c``, correlation ``L L'`` and per-asset scale
``s = a sqrt((dof - 2) / dof) / clipped_sd(dof)``. The fitted scale therefore converts back as
``vol = s clipped_sd(dof) sqrt(dof / (dof - 2)) / sqrt(dt)``: the vol that, pasted into a config,
reproduces the fitted distribution (not the sample sd, which a fat tail makes erratic). The
location converts as ``drift = (c + log E[exp(a eps)]) / dt``, the generator's own compensator.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from stress.history.fitting.clipped_t import clipped_sd, log_mgf
from stress.history.fitting.estimate import Estimate, robust_start
from stress.history.fitting.mle import (
    corr_from_params,
    corr_params,
    delta_se,
    maximise,
    n_corr_params,
    symmetric,
    times_transpose,
    upper,
)

DOF_START = 4.0
DOF_BOUNDS = (2.001, 1000.0)
"""dof is fitted within these: a finite variance needs dof > 2, and beyond 1000 a t is a normal."""

AT_LOWER = (
    "dof at its bound 2: the returns' tails are heavier than any Student-t with a finite "
    "variance (the likelihood keeps rising toward dof = 2), so vol is not a variance estimate "
    "here and there are no standard errors (hourly crypto returns do this)"
)
AT_UPPER = "dof at its bound 1000: the returns are as thin-tailed as a normal (gbm fits as well)"


class _Model:
    """Unconstrained parameters ``[loc (n), log scale (n), correlation (n(n-1)/2), log(dof - 2)]``;
    location and scale are relative to robust starting values so every entry is of order one."""

    def __init__(self, x: np.ndarray, dt: float) -> None:
        self.x, self.dt = x, dt
        self.n = x.shape[1]
        self.center, self.scale0, self.corr0 = robust_start(x)

    def start(self) -> np.ndarray:
        n = self.n
        return np.concatenate(
            [np.zeros(n), np.zeros(n), corr_params(self.corr0), [np.log(DOF_START - 2.0)]]
        )

    def bounds(self) -> list[tuple[float | None, float | None]]:
        lo, hi = (float(np.log(d - 2.0)) for d in DOF_BOUNDS)
        return [(None, None)] * (2 * self.n + n_corr_params(self.n)) + [(lo, hi)]

    def unpack(self, theta: np.ndarray):
        n = self.n
        loc = self.center + self.scale0 * theta[:n]
        scale = self.scale0 * np.exp(theta[n : 2 * n])
        corr = corr_from_params(theta[2 * n : -1], n)
        dof = 2.0 + np.exp(theta[-1])
        return loc, scale, corr, dof

    def loglik(self, theta: np.ndarray) -> np.ndarray:
        loc, scale, corr, dof = self.unpack(theta)
        n = self.n
        factor = np.linalg.cholesky(corr)
        z = times_transpose((self.x - loc) / scale, np.linalg.inv(factor))
        maha = np.square(z).sum(axis=1)
        log_det = 2.0 * (np.log(scale).sum() + np.log(np.diag(factor)).sum())
        const = (
            special.gammaln(0.5 * (dof + n))
            - special.gammaln(0.5 * dof)
            - 0.5 * n * np.log(dof * np.pi)
            - 0.5 * log_det
        )
        return const - 0.5 * (dof + n) * np.log1p(maha / dof)

    def reported(self, theta: np.ndarray, exact: bool = False) -> np.ndarray:
        """``[vol (n), upper correlation, dof, drift (n)]``.

        With ``exact=False`` the drift's compensator is its small-step limit ``a**2 / 2`` instead
        of the generator's numerical integral: the delta method then needs no quadrature per
        perturbed scale, and the two differ by ~1e-9 per bar, far below the drift's standard error.
        """
        loc, scale, corr, dof = self.unpack(theta)
        a = scale * np.sqrt(dof / (dof - 2.0)) * clipped_sd(float(dof))
        if exact:
            comp = np.array([log_mgf(float(dof), float(ai)) for ai in a])
        else:
            comp = 0.5 * a * a
        return np.concatenate([a / np.sqrt(self.dt), upper(corr), [dof], (loc + comp) / self.dt])


def fit(x: np.ndarray, w: np.ndarray, dt: float) -> Estimate:
    """Fit a multivariate Student-t with one dof to single-bar log returns.

    Parameters
    ----------
    x : ndarray, shape (n_returns, n_assets)
    w : ndarray, shape (n_returns,)
        Weights summing to the effective sample size.
    dt : float
        Bar length in years.

    Returns
    -------
    Estimate
        ``params = {"dof": ...}``; ``corr`` is the correlation of the variance-scaled innovations.
    """
    model = _Model(x, dt)
    ml = maximise(model.loglik, model.start(), w, bounds=model.bounds())
    point = model.reported(ml.theta, exact=True)
    n, nc = x.shape[1], n_corr_params(x.shape[1])
    converged, message = ml.converged, ml.message
    se = delta_se(model.reported, ml)
    if ml.fixed and point[n + nc] < np.mean(DOF_BOUNDS):
        se = np.full_like(se, np.nan)
        converged, message = False, AT_LOWER
    elif ml.fixed:
        se[n + nc] = np.nan
        converged, message = False, AT_UPPER
    return Estimate(
        kind="student_t",
        vol=point[:n],
        vol_se=se[:n],
        corr=symmetric(point[n : n + nc], n, 1.0),
        corr_se=symmetric(se[n : n + nc], n, 0.0),
        drift=point[n + nc + 1 :],
        drift_se=se[n + nc + 1 :],
        params={"dof": float(point[n + nc])},
        params_se={"dof": float(se[n + nc])},
        loglik=ml.loglik,
        n_params=ml.theta.size,
        converged=converged,
        message=message,
    )
