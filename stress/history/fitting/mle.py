"""Weighted maximum likelihood with standard errors from the observed information.

A model supplies the per-return log-likelihood ``loglik(theta) -> (n_returns,)`` in unconstrained
parameters ``theta`` (logs of scales, an unconstrained correlation factor, ...). `maximise`
minimises ``-sum(w * loglik) / sum(w)`` with BFGS, then takes the numerical Hessian of
``-sum(w * loglik)`` at the maximum: its inverse (the inverse observed information) is the
covariance of ``theta``. `delta_se` carries it to the reported parameters ``g(theta)`` with a
numerical Jacobian (delta method).

Weights are scaled by the caller to sum to the effective sample size ``(sum w)**2 / sum(w**2)``, so
the inverse Hessian is the covariance a sample of that many equally weighted returns would give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize

LogLik = Callable[[np.ndarray], np.ndarray]

HESSIAN_STEP = 1e-4
"""Step in ``theta`` (parameters of order one) for differencing gradients into a Hessian."""


MAX_ITER = 1000
BOUND_TOL = 1e-6
"""A parameter this close to one of its bounds is at the bound (held fixed for the errors)."""


@dataclass(frozen=True)
class MLFit:
    """A maximum-likelihood fit in the unconstrained parameters.

    Attributes
    ----------
    theta : ndarray, shape (p,)
    info : ndarray, shape (p, p)
        Observed information (minus the Hessian of the weighted log-likelihood).
    cov : ndarray, shape (p, p)
        Inverse observed information over the free parameters; rows and columns of the
        parameters held fixed (at a bound) are NaN, and all of it is NaN when the information of
        the free ones is not positive definite.
    loglik : float
        Weighted log-likelihood at the maximum.
    converged : bool
    message : str
        Why the optimiser stopped, or why the covariance is missing.
    fixed : tuple of int
        Parameters held fixed: at a bound, or fixed by the model (see :meth:`fixing`).
    """

    theta: np.ndarray
    info: np.ndarray
    cov: np.ndarray
    loglik: float
    converged: bool
    message: str
    fixed: tuple[int, ...] = ()

    def fixing(self, more: list[int] | tuple[int, ...]) -> MLFit:
        """The same fit with more parameters held fixed (e.g. those a bound made unidentified)."""
        fixed = tuple(sorted(set(self.fixed) | set(more)))
        cov, ok = _covariance(self.info, fixed)
        message = self.message if ok else NOT_IDENTIFIED
        return replace(self, cov=cov, fixed=fixed, message=message)


NOT_IDENTIFIED = "the observed information is not positive definite (a parameter is not identified)"


def _covariance(info: np.ndarray, fixed: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    free = np.setdiff1d(np.arange(info.shape[0]), fixed)
    cov = np.full_like(info, np.nan)
    sub = info[np.ix_(free, free)]
    try:
        np.linalg.cholesky(sub)
    except np.linalg.LinAlgError:
        return cov, False
    cov[np.ix_(free, free)] = np.linalg.inv(sub)
    return cov, True


def times_transpose(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``x @ a.T`` for a tall ``x`` and a small ``a``, without BLAS.

    BLAS threads that spin while waiting make a tall-skinny matmul (or a dot product of long
    vectors) take milliseconds on a busy machine; a few broadcast multiply-adds take microseconds.
    """
    out = x[:, :1] * a[:, 0]
    for k in range(1, a.shape[1]):
        out += x[:, k : k + 1] * a[:, k]
    return out


def total(loglik: LogLik, weights: np.ndarray) -> Callable[[np.ndarray], float]:
    """``theta -> -sum(weights * loglik(theta))``, +inf where the likelihood is undefined."""

    def neg(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            value = -float((weights * loglik(theta)).sum())
        return value if np.isfinite(value) else np.inf

    return neg


def jacobian(g: Callable[[np.ndarray], np.ndarray], x: np.ndarray, step: float = 1e-6):
    """Central-difference Jacobian ``d g_k / d x_j``, shape (len(g(x)), p)."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = step
        cols.append((np.asarray(g(x + e)) - np.asarray(g(x - e))) / (2.0 * step))
    return np.column_stack(cols)


def _gradient_hessian(grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Hessian as central differences of an analytic gradient, symmetrised."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = HESSIAN_STEP
        cols.append((grad(x + e) - grad(x - e)) / (2.0 * HESSIAN_STEP))
    out = np.column_stack(cols)
    return 0.5 * (out + out.T)


def _central_gradient(f: Callable[[np.ndarray], float], step: float = 1e-6):
    """``x -> (f(x), central-difference gradient)``: 2p evaluations, accurate to ~1e-10."""

    def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        grad = np.empty(x.size)
        for j in range(x.size):
            e = np.zeros_like(x)
            e[j] = step
            grad[j] = (f(x + e) - f(x - e)) / (2.0 * step)
        return f(x), grad

    return value_and_grad


def _at_bound(theta: np.ndarray, bounds) -> tuple[int, ...]:
    if bounds is None:
        return ()
    return tuple(
        i
        for i, (lo, hi) in enumerate(bounds)
        if (lo is not None and theta[i] - lo < BOUND_TOL)
        or (hi is not None and hi - theta[i] < BOUND_TOL)
    )


def maximise(
    loglik: LogLik,
    theta0: np.ndarray,
    weights: np.ndarray,
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
    bounds: list[tuple[float | None, float | None]] | None = None,
) -> MLFit:
    """Maximise ``sum(weights * loglik(theta))`` and invert the observed information.

    Parameters
    ----------
    loglik : callable
        ``theta -> ndarray (n_returns,)`` of per-return log-likelihoods.
    theta0 : ndarray, shape (p,)
        Start, with parameters scaled to be of order one.
    weights : ndarray, shape (n_returns,)
        Observation weights summing to the effective sample size.
    value_and_grad : callable, optional
        ``theta -> (sum(weights * loglik(theta)), its gradient)``. Without it the gradient is
        taken by central differences (2p likelihoods per gradient).
    bounds : list of (low, high), optional
        Box constraints on ``theta`` (None: unbounded). They keep the optimiser out of degenerate
        regions where a parameter is not identified (no jumps, or a t that is a normal); a
        parameter that ends at a bound is held fixed for the standard errors.

    Returns
    -------
    MLFit
        The Hessian is differenced from gradients; errors of free parameters are conditional on
        the fixed ones.
    """
    neg = total(loglik, weights)
    scale = float(weights.sum())
    theta0 = np.asarray(theta0, dtype=float)
    if value_and_grad is None:
        value_and_grad = _central_gradient(lambda t: -neg(t))

    def objective(t: np.ndarray) -> tuple[float, np.ndarray]:
        try:
            with np.errstate(all="ignore"):
                value, grad = value_and_grad(t)
        except np.linalg.LinAlgError:
            return np.inf, np.zeros_like(t)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return np.inf, np.zeros_like(t)
        return -value / scale, -grad / scale

    res = optimize.minimize(
        objective,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": MAX_ITER, "ftol": 1e-15, "gtol": 1e-9},
    )
    theta = res.x
    fixed = _at_bound(theta, bounds)
    free_grad = np.delete(np.asarray(res.jac), fixed)
    # L-BFGS-B stops "abnormally" when the mean log-likelihood is flat to rounding at the
    # optimum, which is a converged fit; a large gradient is not.
    converged = bool(res.success) or float(np.max(np.abs(free_grad), initial=0.0)) < 1e-5
    info = -_gradient_hessian(lambda t: value_and_grad(t)[1], theta)
    cov, ok = _covariance(info, fixed)
    message = str(res.message) if ok else NOT_IDENTIFIED
    return MLFit(theta, info, cov, -neg(theta), converged, message, fixed)


def delta_se(g: Callable[[np.ndarray], np.ndarray], fit: MLFit) -> np.ndarray:
    """Standard errors of ``g(theta)`` by the delta method: ``sqrt(diag(J cov J'))``.

    Fixed parameters count as known (conditional errors); all NaN if the covariance is missing.
    """
    jac = jacobian(g, fit.theta)
    cov = fit.cov.copy()
    if fit.fixed and not np.isnan(np.delete(np.diag(cov), fit.fixed)).any():
        cov[list(fit.fixed), :] = 0.0
        cov[:, list(fit.fixed)] = 0.0
    return np.sqrt(np.clip(np.einsum("kj,jl,kl->k", jac, cov, jac), 0.0, None))


# ---------------------------------------------------------------------------------------------
# Correlation matrices from unconstrained parameters


def n_corr_params(n: int) -> int:
    return n * (n - 1) // 2


def corr_factor(b: np.ndarray, n: int) -> np.ndarray:
    """Lower-triangular ``L`` with unit rows, so ``L @ L.T`` is a correlation matrix.

    ``b`` fills the strict lower triangle of a matrix with unit diagonal; each row is then
    normalised. Every positive definite correlation matrix has exactly one such ``b``.
    """
    lower = np.eye(n)
    lower[np.tril_indices(n, -1)] = b
    return lower / np.linalg.norm(lower, axis=1)[:, None]


def corr_from_params(b: np.ndarray, n: int) -> np.ndarray:
    factor = corr_factor(b, n)
    corr = factor @ factor.T
    np.fill_diagonal(corr, 1.0)
    return corr


def corr_params(corr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`corr_from_params` (for start values)."""
    factor = np.linalg.cholesky(corr)
    return (factor / np.diag(factor)[:, None])[np.tril_indices(corr.shape[0], -1)]


def upper(corr: np.ndarray) -> np.ndarray:
    """The strictly upper entries of a matrix, row by row (what the correlation SEs are of)."""
    return corr[np.triu_indices(corr.shape[0], 1)]


def symmetric(values: np.ndarray, n: int, diagonal: float) -> np.ndarray:
    """Inverse of :func:`upper`, with the given diagonal."""
    out = np.full((n, n), diagonal, dtype=float)
    iu = np.triu_indices(n, 1)
    out[iu] = values
    out[(iu[1], iu[0])] = values
    return out
