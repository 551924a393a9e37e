"""Moments of the clipped, rescaled Student-t innovation that `stress.paths.student_t` draws.

Written once here, the lowest stage that needs them: the fit (`stress.history.fitting.student_t`)
converts its scale with `clipped_sd`, and the generator compensates its drift with `log_mgf`.
The clip itself is explained in `stress.paths.student_t`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

CLIP_SD = 50.0
"""Clip of the unit-variance innovation, in standard deviations (see the module docstring)."""

_QUAD_OPTS = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 200}


def _half_integral(func: Callable[[float], float], upper: float) -> float:
    """``int_0^upper func(x) dx`` split at 1, 2, 4, 8, ...: quad on each piece resolves both the
    body and the polynomial tail of the t density, which one interval over [0, ~90] would not."""
    inner = 2.0 ** np.arange(0, max(1, int(np.ceil(np.log2(upper)))))
    edges = np.concatenate(([0.0], inner[inner < upper], [upper]))
    pieces = zip(edges[:-1], edges[1:], strict=True)
    from scipy import integrate  # imported on first use: a run of other models never needs it

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
    from scipy import stats

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
    from scipy import stats

    t = stats.t(dof)
    # eps is symmetric, so E[exp(b T)] - 1 = E[cosh(b T) - 1] = E[2 sinh(b T / 2)**2]: no
    # cancellation, full relative precision even when the answer is ~1e-8.
    body = _half_integral(lambda x: 2.0 * np.sinh(0.5 * b * x) ** 2 * t.pdf(x), x_clip)
    atoms = 2.0 * np.sinh(0.5 * b * x_clip) ** 2 * t.sf(x_clip)  # the point masses at +/- clip
    return float(np.log1p(2.0 * (body + atoms)))
