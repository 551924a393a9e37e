"""Merton jump diffusion with one market-wide jump clock, by maximum likelihood.

As `stress.paths.merton` generates it with ``common: true``, a bar's log-return vector is
``loc + D L Z + sum_{k <= N} J_k`` with ``N ~ Poisson(intensity dt)`` and jump sizes
``J_k ~ N(mean 1, std**2 R)`` (``R = L L'``, the diffusion's correlation). Given ``N = k`` the
return is normal with mean ``loc + k mean`` and covariance ``D R D + k std**2 R``, so the density is
a Poisson mixture of normals, summed over ``k`` until the Poisson tail is below 1e-15.
``loc = (drift - vol**2 / 2 - intensity kappa) dt`` with ``kappa = exp(mean + std**2 / 2) - 1``.

The likelihood has local maxima (a few large jumps against many small ones), so the fit starts
twice, from jumps flagged as 5-sd outliers and from frequent moderate jumps, and keeps the better.
Where the data have no jumps the jump parameters are not identified and the likelihood drifts
toward a boundary (no jumps; ever more, ever smaller jumps; jumps of one size), so the jump
probability per bar is kept in [1e-9, 1] and the jump std above 1 % of a bar's sd. A fit that
ends on a bound says so and gets no standard error for the parameter there.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from stress.history.fitting import mixture
from stress.history.fitting.estimate import Estimate, robust_start
from stress.history.fitting.mle import (
    MLFit,
    corr_from_params,
    corr_params,
    delta_se,
    maximise,
    n_corr_params,
    symmetric,
    upper,
)

OUTLIER_SD = 5.0
POISSON_TAIL = 1e-15
JUMP_PROB_BOUNDS = (1e-9, 1.0)
"""Jumps per bar: below, no jumps; above, so many that they are a second diffusion, not jumps."""
MIN_JUMP_STD = 0.01
"""Smallest jump std, in robust per-bar sds: the likelihood flattens as the std goes to 0 (jumps
of one size), and the optimiser would follow log(std) toward minus infinity."""

NO_JUMPS = "no jumps found: the jump intensity went to 0 (gbm fits as well); no jump errors"
DIFFUSIVE_JUMPS = (
    "jump intensity at its bound of one jump per bar: the jumps act as a second diffusion, "
    "not as jumps (try longer bars); no error for the intensity"
)
TINY_JUMPS = (
    "jump std at its lower bound: jumps of one fixed size fit best, which is more likely noise "
    "than jumps (compare the AIC with a gbm fit); no error for the std"
)


class _Model:
    """Unconstrained parameters ``[loc (n), log sigma (n), correlation (n(n-1)/2), log p,
    jump mean, log jump std]``, with ``p = intensity dt`` the jump probability per bar; location,
    sigma and the jump sizes are in units of robust per-bar scales so every entry is of order one.
    """

    def __init__(self, x: np.ndarray, dt: float) -> None:
        self.x, self.dt = x, dt
        self.n = x.shape[1]
        self.center, self.scale0, self.corr0 = robust_start(x)
        self.unit = float(np.mean(self.scale0))

    def starts(self) -> list[np.ndarray]:
        x, n = self.x, self.n
        outlier = (np.abs(x - self.center) / self.scale0).max(axis=1) > OUTLIER_SD
        calm = x[~outlier]
        sigma = calm.std(axis=0) / self.scale0
        b = corr_params(self.corr0)
        jumps = (x[outlier] - self.center).ravel() / self.unit
        rare = [
            np.log(max(outlier.sum(), 1) / x.shape[0]),
            jumps.mean() if jumps.size else 0.0,
            np.log(max(jumps.std() if jumps.size > 1 else 0.0, OUTLIER_SD)),
        ]
        frequent = [np.log(0.05), 0.0, np.log(3.0)]
        base = [np.zeros(n), np.log(sigma), b]
        return [np.concatenate([*base, rare]), np.concatenate([*base, frequent])]

    def bounds(self) -> list[tuple[float | None, float | None]]:
        free = [(None, None)] * (2 * self.n + n_corr_params(self.n))
        p_lo, p_hi = (float(np.log(b)) for b in JUMP_PROB_BOUNDS)
        return [*free, (p_lo, p_hi), (None, None), (float(np.log(MIN_JUMP_STD)), None)]

    def unpack(self, theta: np.ndarray):
        n = self.n
        loc = self.center + self.scale0 * theta[:n]
        sigma = self.scale0 * np.exp(theta[n : 2 * n])
        corr = corr_from_params(theta[2 * n : -3], n)
        p = np.exp(theta[-3])
        mean = self.unit * theta[-2]
        std = self.unit * np.exp(theta[-1])
        return loc, sigma, corr, p, mean, std

    def n_jumps_max(self, theta: np.ndarray) -> int:
        """Most jumps in one bar worth summing over: the Poisson tail beyond is < 1e-15."""
        return max(1, int(stats.poisson.isf(POISSON_TAIL, np.exp(theta[-3]))))

    def components(self, theta: np.ndarray, k_max: int) -> mixture.Components:
        """Given ``k`` jumps in a bar: log P(k), mean and covariance of the bar's log return."""
        loc, sigma, corr, p, mean, std = self.unpack(theta)
        k = np.arange(k_max + 1, dtype=float)
        log_weight = k * np.log(p) - p - special.gammaln(k + 1.0)
        means = loc + (k * mean)[:, None]
        diffusion = sigma[:, None] * corr * sigma[None, :]
        covs = diffusion + (k * std * std)[:, None, None] * corr
        return log_weight, means, covs

    def loglik(self, theta: np.ndarray) -> np.ndarray:
        return mixture.loglik(self.x, self.components(theta, self.n_jumps_max(theta)))

    def value_and_grad(self, theta: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
        k_max = self.n_jumps_max(theta)  # held fixed while the map is differenced
        return mixture.value_and_grad(self.x, w, lambda t: self.components(t, k_max), theta)

    def reported(self, theta: np.ndarray) -> np.ndarray:
        """``[vol (n), upper correlation, intensity, mean, std, drift (n)]``."""
        loc, sigma, corr, p, mean, std = self.unpack(theta)
        intensity = p / self.dt
        vol = sigma / np.sqrt(self.dt)
        kappa = np.expm1(mean + 0.5 * std * std)
        drift = loc / self.dt + 0.5 * vol * vol + intensity * kappa
        return np.concatenate([vol, upper(corr), [intensity, mean, std], drift])


def _best(fits: list[MLFit]) -> MLFit:
    usable = [f for f in fits if np.isfinite(f.loglik)]
    return max(usable or fits, key=lambda f: f.loglik)


def fit(x: np.ndarray, w: np.ndarray, dt: float) -> Estimate:
    """Fit the common-clock Merton model to single-bar log returns.

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
        ``params = {"intensity", "mean", "std"}``: jumps per year and the jump log-size's normal.
    """
    model = _Model(x, dt)
    bounds = model.bounds()
    fits = [
        maximise(model.loglik, start, w, lambda t: model.value_and_grad(t, w), bounds)
        for start in model.starts()
    ]
    ml = _best(fits)
    n, nc = x.shape[1], n_corr_params(x.shape[1])
    p = x.shape[1] * 2 + nc  # index of log p in theta
    message = ml.message
    if p in ml.fixed and ml.theta[p] < 0.5 * (bounds[p][0] + bounds[p][1]):
        ml, message = ml.fixing([p, p + 1, p + 2]), NO_JUMPS
    elif p in ml.fixed:
        message = DIFFUSIVE_JUMPS
    elif p + 2 in ml.fixed:
        message = TINY_JUMPS
    point = model.reported(ml.theta)
    se = delta_se(model.reported, ml)
    jump_se = se[n + nc : n + nc + 3]
    jump_se[[i - p for i in ml.fixed if i >= p]] = np.nan
    names = ("intensity", "mean", "std")
    return Estimate(
        kind="merton",
        vol=point[:n],
        vol_se=se[:n],
        corr=symmetric(point[n : n + nc], n, 1.0),
        corr_se=symmetric(se[n : n + nc], n, 0.0),
        drift=point[n + nc + 3 :],
        drift_se=se[n + nc + 3 :],
        params={k: float(v) for k, v in zip(names, point[n + nc : n + nc + 3], strict=True)},
        params_se={k: float(v) for k, v in zip(names, jump_se, strict=True)},
        loglik=ml.loglik,
        n_params=ml.theta.size,
        converged=ml.converged and not ml.fixed,
        message=message,
    )
