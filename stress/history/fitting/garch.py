"""Fit a conditional-volatility model to the single-bar log returns of several assets: `fit_garch`
returns the `GarchFit` that `stress.paths.garch` draws from.

garch, fhs: per asset a GJR-GARCH(1,1) with a constant mean, by Gaussian quasi-maximum
likelihood with the ``arch`` package (returns scaled by 100 for its optimiser; ``mu``, ``omega``
and their standard errors are converted back to log-return units). The quasi-likelihood is
consistent for the variance recursion whatever the innovations' law (Bollerslev and Wooldridge
1992), and its standard errors are the robust sandwich, which allows for fat tails. Why not the
Student-t likelihood: on the shipped hourly crypto returns it puts the persistence at its bound 1
in almost every window (BTC 2018-2021: 1.000005; ETH: 1.0000002; with normal innovations 0.9936
and 0.9873), an integrated variance that never reverts. The fat tails are then the innovations':
a multivariate t whose dof is fitted to the standardised residuals (below). Standard errors of
the persistence and the unconditional variance follow by the delta method. The initial variance
of the recursion is arch's backcast (an exponentially weighted mean square of the first returns).
The assets' t dofs differ; the multivariate t that joins them (CCC: ``corr`` is the correlation of
the standardised residuals) has one dof, the maximum of the multivariate-t likelihood of the joint
residual vectors in that dof alone (unit variance, correlation ``corr``); the per-asset dofs are in
``diagnostics["asset_dof"]``. fhs is the same fit: what it uses are the residuals.

ewma (RiskMetrics): nothing is fitted. ``sigma2_{t+1} = lambda sigma2_t + (1 - lambda) r_t**2``
with zero mean and normal innovations; ``lambda`` per bar comes from the config's daily ``decay``
(default 0.94) or ``half_life_hours`` (`lambda_per_bar`). The recursion starts from the mean square
(the variance about the zero mean) of the first `EWMA_SEED_BARS` returns. There are no standard
errors (NaN).

The returns are those of `stress.history.prices.aligned_returns`: returns spanning an outage are
dropped, and the recursion runs across the gap as if the bars were consecutive.

``arch`` and scipy are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from stress.errors import ConfigError
from stress.history.fitting.garch_fit import GARCH_MODELS, GarchFit

DEFAULT_DECAY = 0.94
"""RiskMetrics' decay of daily variances (J.P. Morgan 1996): ewma's default, per day."""
EWMA_SEED_BARS = 100
"""The EWMA recursion starts from the mean square of this many first returns."""
MIN_RETURNS = 100
"""Fewest returns a conditional-volatility model is fitted to."""
STATIONARY_MARGIN = 1e-6
"""A GARCH fit with persistence above ``1 - STATIONARY_MARGIN`` is at (or, within the optimiser's
tolerance, past) the stationarity bound: refused as non-stationary."""
SHARED_DOF_BOUNDS = (2.05, 200.0)
SCALE = 100.0
"""Returns are fitted in percent: the optimiser is tuned for numbers of order one."""
ARCH_NAMES = {"mu": "mu", "omega": "omega", "alpha": "alpha[1]", "gamma": "gamma[1]"}
ARCH_NAMES |= {"beta": "beta[1]"}
UNITS = {"mu": SCALE, "omega": SCALE**2}
"""What arch's estimates are divided by to be in log-return units (the others have none)."""
DERIVED = ("persistence", "unconditional_variance")
"""Standard errors of these are in ``GarchFit.se`` too (delta method)."""
SE_METHOD = "robust (Bollerslev-Wooldridge sandwich) standard errors from arch"


def lambda_per_bar(
    bar_hours: float, decay: float | None = None, half_life_hours: float | None = None
) -> float:
    """The EWMA's decay per bar (``model.decay``, ``model.half_life_hours`` of a config).

    ``decay`` is per day, as RiskMetrics states it (default `DEFAULT_DECAY`): a bar of h hours
    decays by ``decay ** (h / 24)``, the same half-life whatever the bar; ``half_life_hours``
    gives ``0.5 ** (h / half_life_hours)``.
    """
    if half_life_hours is not None:
        return 0.5 ** (bar_hours / half_life_hours)
    return (DEFAULT_DECAY if decay is None else decay) ** (bar_hours / 24.0)


def check_lambda(value: float | None, label: str = "lambda") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{label}: expected a number between 0 and 1, got {value!r}")
    if not (0.0 < value < 1.0):
        raise ConfigError(f"{label}: expected a number between 0 and 1 (exclusive), got {value}")
    return float(value)


def _check_input(x: np.ndarray, names: Sequence[str], kind: str, weights) -> None:
    if kind not in GARCH_MODELS:
        raise ConfigError(f"model: expected one of {', '.join(GARCH_MODELS)}, got {kind!r}")
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ConfigError(f"returns: expected shape (n, {len(names)}), got {x.shape}")
    if weights is not None and np.ptp(np.asarray(weights, dtype=float)) > 0:
        raise ConfigError(
            f"halflife_days: not used by {kind}: its conditional variance already weights the "
            "recent past (for ewma, set its half-life)"
        )
    for j, name in enumerate(names):
        col = x[:, j]
        if not np.all(np.isfinite(col)):
            raise ConfigError(f"{name}: expected finite returns, got a NaN or infinity")
        if col.size < MIN_RETURNS:
            raise ConfigError(
                f"{name}: too little data for {kind}: expected at least {MIN_RETURNS} returns, "
                f"got {col.size}"
            )
        if np.ptp(col) == 0:
            raise ConfigError(f"{name}: expected a price that moves, got the same return always")


def derived_se(params, cov) -> tuple[float, float]:
    """Delta-method standard errors of the persistence and the unconditional variance from
    arch's parameters and their covariance (both in arch's order and units)."""
    names = list(params.index)
    p = params["alpha[1]"] + 0.5 * params["gamma[1]"] + params["beta[1]"]
    grad_p = np.zeros(len(names))
    for key, weight in (("alpha[1]", 1.0), ("gamma[1]", 0.5), ("beta[1]", 1.0)):
        grad_p[names.index(key)] = weight
    grad_u = grad_p * params["omega"] / (1.0 - p) ** 2
    grad_u[names.index("omega")] = 1.0 / (1.0 - p)
    cov = np.asarray(cov, dtype=float)
    var_p, var_u = (float(g @ cov @ g) for g in (grad_p, grad_u))
    return tuple(math.sqrt(v) if v >= 0 else math.nan for v in (var_p, var_u))


def _fit_one(x: np.ndarray, name: str, kind: str) -> dict:
    """One asset's GJR-GARCH by Gaussian quasi-maximum likelihood (arch), in log-return units."""
    from arch import arch_model

    model = arch_model(SCALE * x, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="normal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(disp="off")
        next_var = float(res.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0])
    if res.convergence_flag != 0:
        message = " ".join(str(res.optimization_result.message).split())
        raise ConfigError(f"{name}: the {kind} fit did not converge: {message}")
    point = {k: float(res.params[a]) / UNITS.get(k, 1.0) for k, a in ARCH_NAMES.items()}
    se = {k: float(res.std_err[a]) / UNITS.get(k, 1.0) for k, a in ARCH_NAMES.items()}
    persistence = point["alpha"] + 0.5 * point["gamma"] + point["beta"]
    if persistence > 1.0 - STATIONARY_MARGIN:
        raise ConfigError(
            f"{name}: the {kind} fit is non-stationary: persistence alpha + gamma/2 + beta = "
            f"{persistence:.10f}, at its bound 1 (within {STATIONARY_MARGIN:g}: a variance "
            "shock never dies out); fit ewma, or another window or bar"
        )
    se["persistence"], se["unconditional_variance"] = derived_se(res.params, res.param_cov)
    se["unconditional_variance"] /= SCALE**2
    resid = np.nan_to_num(np.asarray(res.std_resid, dtype=float), nan=0.0)
    return {
        "point": point,
        "se": se,
        "sigma2_next": next_var / SCALE**2,
        "resid": resid,
        "loglik": float(res.loglikelihood) + x.size * math.log(SCALE),
    }


def t_loglik(z: np.ndarray, corr: np.ndarray, dof: float) -> float:
    """Log-likelihood of rows ``z`` under a multivariate t with unit variances, correlation
    ``corr`` and ``dof`` degrees of freedom (``Z sqrt((dof - 2) / W)``, W chi-square)."""
    from scipy import special

    a = z.shape[1]
    factor = np.linalg.cholesky(corr)
    maha = np.square(np.linalg.solve(factor, z.T)).sum(axis=0)
    const = (
        special.gammaln(0.5 * (dof + a))
        - special.gammaln(0.5 * dof)
        - 0.5 * a * math.log((dof - 2.0) * math.pi)
        - np.log(np.diag(factor)).sum()
    )
    return float(z.shape[0] * const - 0.5 * (dof + a) * np.log1p(maha / (dof - 2.0)).sum())


def shared_dof(z: np.ndarray, corr: np.ndarray) -> tuple[float, float]:
    """The dof of the multivariate t of the residual rows ``z`` (one-parameter maximum
    likelihood in `SHARED_DOF_BOUNDS`) and its standard error (NaN at a bound), from the
    curvature of that likelihood: it takes the residuals as given."""
    from scipy.optimize import minimize_scalar

    lo, hi = SHARED_DOF_BOUNDS
    res = minimize_scalar(
        lambda d: -t_loglik(z, corr, d), bounds=(lo, hi), method="bounded", options={"xatol": 1e-6}
    )
    dof = float(res.x)
    h = 1e-3 * dof
    if dof - h <= lo or dof + h >= hi:
        return dof, math.nan
    curv = 2 * t_loglik(z, corr, dof) - t_loglik(z, corr, dof - h) - t_loglik(z, corr, dof + h)
    curv /= h * h
    return dof, (1.0 / math.sqrt(curv) if curv > 0 else math.nan)


def _residual_corr(z: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.corrcoef(z, rowvar=False))


def _fit_gjr(x: np.ndarray, names: tuple[str, ...], bar_hours: float, kind: str) -> GarchFit:
    fits = [_fit_one(x[:, j], name, kind) for j, name in enumerate(names)]
    z = np.column_stack([f["resid"] for f in fits])
    corr = _residual_corr(z)
    dof, dof_se = shared_dof(z, corr)
    # each asset's own t dof, fitted to its residuals alone (reported; the paths use `dof`)
    own = np.array([shared_dof(z[:, [j]], np.ones((1, 1))) for j in range(z.shape[1])])

    def param(key: str, what: str = "point") -> np.ndarray:
        return np.array([f[what][key] for f in fits])

    return GarchFit(
        kind=kind,
        names=names,
        bar_hours=bar_hours,
        **{k: param(k) for k in ("mu", "omega", "alpha", "gamma", "beta")},
        dof=dof,
        corr=corr,
        sigma2_next=np.array([f["sigma2_next"] for f in fits]),
        residuals=z,
        se={k: param(k, "se") for k in (*ARCH_NAMES, *DERIVED)} | {"nu": own[:, 1]},
        diagnostics={
            "asset_dof": own[:, 0],
            "shared_dof_se": dof_se,
            "loglik": np.array([f["loglik"] for f in fits]),
            "shared_dof_loglik": t_loglik(z, corr, dof),
            "converged": True,
            "standard_errors": SE_METHOD,
        },
    )


def ewma_variance(x: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """The EWMA variance of each bar and of the bar after the last.

    Parameters
    ----------
    x : ndarray, shape (n, A)
    lam : float

    Returns
    -------
    sigma2 : ndarray, shape (n, A)
        ``sigma2[0]`` is the mean square of the first `EWMA_SEED_BARS` returns,
        ``sigma2[t + 1] = lam sigma2[t] + (1 - lam) x[t]**2``.
    sigma2_next : ndarray, shape (A,)
    """
    from scipy.signal import lfilter

    seed = np.mean(np.square(x[:EWMA_SEED_BARS]), axis=0)
    after, _ = lfilter([1.0 - lam], [1.0, -lam], np.square(x), axis=0, zi=lam * seed[None, :])
    return np.vstack([seed[None, :], after[:-1]]), after[-1]


def _fit_ewma(x: np.ndarray, names: tuple[str, ...], bar_hours: float, lam: float) -> GarchFit:
    sigma2, sigma2_next = ewma_variance(x, lam)
    z = x / np.sqrt(sigma2)
    a = len(names)
    nan = np.full(a, np.nan)
    return GarchFit(
        kind="ewma",
        names=names,
        bar_hours=bar_hours,
        mu=np.zeros(a),
        omega=np.zeros(a),
        alpha=np.full(a, 1.0 - lam),
        gamma=np.zeros(a),
        beta=np.full(a, lam),
        dof=math.inf,
        corr=_residual_corr(z),
        sigma2_next=sigma2_next,
        residuals=z,
        se={k: nan.copy() for k in (*ARCH_NAMES, *DERIVED)},
        diagnostics={
            "lambda": lam,
            "seed_bars": min(EWMA_SEED_BARS, x.shape[0]),
            "converged": True,
            "standard_errors": "none: ewma fits nothing (lambda is set, not estimated)",
        },
    )


def fit_garch(
    returns: np.ndarray,
    names: Sequence[str],
    bar_hours: float,
    kind: str,
    ewma_lambda: float | None = None,
    weights: np.ndarray | None = None,
) -> GarchFit:
    """Fit ``kind`` ("garch", "fhs" or "ewma") to single-bar log returns (module docstring).

    Parameters
    ----------
    returns : ndarray, shape (n, A)
        Single-bar log returns on the assets' common bars, oldest first.
    names : the A asset names
    bar_hours : the bar
    kind : "garch" | "fhs" | "ewma"
    ewma_lambda : float, optional
        ewma only: the decay per bar (default: `DEFAULT_DECAY` per day, see `lambda_per_bar`).
    weights : None
        Observation weights are refused unless all equal: the conditional variance already
        weights the recent past.

    Raises
    ------
    ConfigError
        One line naming the asset: non-finite or constant returns, fewer than `MIN_RETURNS`,
        a fit that did not converge, or a non-stationary GARCH fit.
    """
    x = np.asarray(returns, dtype=float)
    names = tuple(str(n) for n in names)
    _check_input(x, names, kind, weights)
    lam = check_lambda(ewma_lambda)
    if kind != "ewma":
        if lam is not None:
            raise ConfigError(f"lambda: only for model ewma, got it for {kind}")
        return _fit_gjr(x, names, float(bar_hours), kind)
    if lam is None:
        lam = lambda_per_bar(float(bar_hours))
    seed = np.mean(np.square(x[:EWMA_SEED_BARS]), axis=0)
    if np.any(seed <= 0):
        name = names[int(np.argmax(seed <= 0))]
        raise ConfigError(f"{name}: expected the first {EWMA_SEED_BARS} returns to move, got none")
    return _fit_ewma(x, names, float(bar_hours), lam)
