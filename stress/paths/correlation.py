"""Factor a correlation matrix so that correlated normals are ``Z @ L.T``."""

from __future__ import annotations

import numpy as np

# Eigenvalues this far below zero are rounding noise of a valid (maybe singular) matrix and are
# clipped; anything more negative is an indefinite matrix the config layer should have rejected.
# Deliberately loose so that a matrix typed with a few decimals never fails here.
PSD_TOLERANCE = 1e-6


def correlation_factor(corr: np.ndarray) -> np.ndarray:
    """Return a factor ``L`` with ``L @ L.T == corr`` (to rounding).

    Parameters
    ----------
    corr : ndarray, shape (n_assets, n_assets)
        Symmetric correlation matrix with unit diagonal, positive semi-definite (maybe singular).

    Returns
    -------
    ndarray, shape (n_assets, n_assets), float64
        The lower Cholesky factor when ``corr`` is positive definite. Otherwise a square root from
        the eigen-decomposition with tiny negative eigenvalues clipped to zero and each row scaled
        to unit norm, so that every asset keeps exactly unit variance (``vol`` stays ``vol``) and
        identical rows of ``corr`` give bit-identical rows of ``L``.

    Raises
    ------
    ValueError
        If ``corr`` is not square or has an eigenvalue below ``-PSD_TOLERANCE``.
    """
    c = np.asarray(corr, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"correlation must be a square matrix, got shape {c.shape}")
    try:
        return np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        pass  # singular or (numerically) indefinite: fall back to eigenvalues

    c = 0.5 * (c + c.T)
    w, v = np.linalg.eigh(c)
    if w[0] < -PSD_TOLERANCE:
        raise ValueError(
            f"correlation must be positive semi-definite, got smallest eigenvalue {w[0]:.3g}"
        )
    # Positive rounding noise on a zero eigenvalue is clipped as well: left in, it would make the
    # assets of a perfectly correlated pair differ at the 1e-8 level.
    noise = c.shape[0] * np.finfo(np.float64).eps * max(float(w[-1]), 1.0)
    w = np.where(w > noise, w, 0.0)
    factor = v * np.sqrt(w)
    factor /= np.linalg.norm(factor, axis=1)[:, None]
    return factor


def correlated_normals(
    factor: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """Draw standard normals with correlation ``factor @ factor.T`` along the last axis.

    Parameters
    ----------
    factor : ndarray, shape (n_assets, n_assets)
        Output of :func:`correlation_factor`.
    shape : tuple of int
        Leading shape, e.g. ``(n_paths, n_steps)``.
    rng : numpy.random.Generator
        The only source of randomness; exactly ``prod(shape) * n_assets`` normals are drawn.

    Returns
    -------
    ndarray, shape (*shape, n_assets), float64
    """
    n_assets = factor.shape[0]
    z = rng.standard_normal((*shape, n_assets))
    if n_assets == 1:
        z *= factor[0, 0]
        return z
    return z @ factor.T
