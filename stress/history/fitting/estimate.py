"""What every fit returns: the model's parameters in the generators' units, with standard errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """Fitted parameters of one model, annualised (365-day year) as `stress.paths` reads them.

    Attributes
    ----------
    kind : "gbm" | "merton" | "student_t"
    vol, vol_se : ndarray, shape (n_assets,)
        Annualised vol in the model's sense (see `stress.paths`) and its standard error.
    corr, corr_se : ndarray, shape (n_assets, n_assets)
        Correlation matrix (unit diagonal) and standard errors (zero diagonal).
    drift, drift_se : ndarray, shape (n_assets,)
        Estimated drift (expected simple return per year, compensated as the generator does).
    params, params_se : dict of str to float
        Model-specific scalars: ``intensity``, ``mean``, ``std`` (merton), ``dof`` (student_t).
    loglik : float
        Weighted log-likelihood of the single-bar log returns at the estimate.
    n_params : int
    converged : bool
    message : str
        The optimiser's last word, or why standard errors are missing.
    """

    kind: str
    vol: np.ndarray
    vol_se: np.ndarray
    corr: np.ndarray
    corr_se: np.ndarray
    drift: np.ndarray
    drift_se: np.ndarray
    loglik: float
    n_params: int
    params: dict[str, float] = field(default_factory=dict)
    params_se: dict[str, float] = field(default_factory=dict)
    converged: bool = True
    message: str = ""


def robust_start(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, MAD-based scale and the correlation of winsorised returns: starts that a few
    crashes do not distort.

    Parameters
    ----------
    x : ndarray, shape (n_returns, n_assets)

    Returns
    -------
    center, scale : ndarray, shape (n_assets,)
    corr : ndarray, shape (n_assets, n_assets)
    """
    center = np.median(x, axis=0)
    scale = 1.4826 * np.median(np.abs(x - center), axis=0)
    scale = np.where(scale > 0, scale, x.std(axis=0) + 1e-12)
    clipped = np.clip((x - center) / scale, -4.0, 4.0)
    corr = np.atleast_2d(np.corrcoef(clipped, rowvar=False))
    # shrink a little so that the start is safely positive definite
    corr = 0.95 * corr + 0.05 * np.eye(x.shape[1])
    return center, scale, corr
