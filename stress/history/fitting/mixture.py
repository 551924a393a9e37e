"""Finite mixtures of multivariate normals: log-likelihood and its gradient.

The Merton density of a bar is such a mixture (over the number of jumps in the bar). The gradient
with respect to each component's log-weight, mean and covariance is analytic (responsibility-
weighted moments); a model maps its own parameters to the components, and the chain rule through
that small, data-free map is taken by finite differences. One gradient then costs about two
likelihood evaluations instead of one per parameter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stress.history.fitting.mle import times_transpose

LOG_2PI = np.log(2.0 * np.pi)

Components = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(log_weight (K,), mean (K, n), cov (K, n, n))``."""


def _component_logpdf(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    factor = np.linalg.cholesky(cov)
    z = times_transpose(x - mean, np.linalg.inv(factor))
    log_det = 2.0 * np.log(np.diag(factor)).sum()
    return -0.5 * (x.shape[1] * LOG_2PI + log_det + np.square(z).sum(axis=1))


def _terms(x: np.ndarray, comp: Components) -> np.ndarray:
    log_weight, mean, cov = comp
    return np.stack(
        [log_weight[k] + _component_logpdf(x, mean[k], cov[k]) for k in range(len(log_weight))]
    )


def _logsumexp(terms: np.ndarray) -> np.ndarray:
    top = terms.max(axis=0)
    return top + np.log(np.exp(terms - top).sum(axis=0))


def loglik(x: np.ndarray, comp: Components) -> np.ndarray:
    """Per-row log density of the mixture.

    Parameters
    ----------
    x : ndarray, shape (n_obs, n)
    comp : (log_weight (K,), mean (K, n), cov (K, n, n))
        Log-weights need not be normalised (a Poisson mixture truncated at K is not).

    Returns
    -------
    ndarray, shape (n_obs,)
    """
    return _logsumexp(_terms(x, comp))


def value_and_grad(
    x: np.ndarray,
    w: np.ndarray,
    components: Callable[[np.ndarray], Components],
    theta: np.ndarray,
    step: float = 1e-6,
) -> tuple[float, np.ndarray]:
    """Weighted log-likelihood ``sum(w * loglik)`` and its gradient in a model's parameters.

    Parameters
    ----------
    x : ndarray, shape (n_obs, n)
    w : ndarray, shape (n_obs,)
    components : callable
        ``theta -> (log_weight, mean, cov)``, cheap and smooth, with a fixed number of components.
    theta : ndarray, shape (p,)
    step : float
        Central-difference step for the map ``components`` (which never touches the data).

    Returns
    -------
    value : float
    grad : ndarray, shape (p,)
    """
    comp = components(theta)
    log_weight, mean, cov = comp
    terms = _terms(x, comp)
    ll = _logsumexp(terms)
    value = float((w * ll).sum())
    n = x.shape[1]
    d_weight = np.empty_like(log_weight)
    d_mean = np.empty_like(mean)
    d_cov = np.empty_like(cov)
    for k in range(len(log_weight)):
        r = w * np.exp(terms[k] - ll)  # weight times responsibility of component k
        e = x - mean[k]
        re = e * r[:, None]
        n_k = r.sum()
        s_k = re.sum(axis=0)
        # e' diag(r) e without BLAS (see times_transpose)
        m_k = np.stack([(re * e[:, [i]]).sum(axis=0) for i in range(n)])
        inv = np.linalg.inv(cov[k])
        d_weight[k] = n_k
        d_mean[k] = inv @ s_k
        d_cov[k] = 0.5 * inv @ (m_k - n_k * cov[k]) @ inv
    grad = np.empty(theta.size)
    for j in range(theta.size):
        e_j = np.zeros_like(theta)
        e_j[j] = step
        plus, minus = components(theta + e_j), components(theta - e_j)
        grad[j] = sum(
            (d * (p - m)).sum() / (2.0 * step)
            for d, p, m in zip((d_weight, d_mean, d_cov), plus, minus, strict=True)
        )
    return value, grad
