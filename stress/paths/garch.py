"""Conditional-volatility paths: GJR-GARCH(1,1) per asset, constant conditional correlation.

Model kinds (`stress.history.fitting.garch_fit`): ``garch`` draws clipped multivariate Student-t
innovations (as `stress.paths.student_t`: a shared chi-square, clipped at ``CLIP_SD`` sd and
rescaled to unit variance) correlated by the fit's ``corr``; ``ewma`` draws correlated normals;
``fhs`` (filtered historical simulation) draws whole rows of the fit's standardised residuals,
uniformly and independently per bar, so the assets' joint tails (crashing together) are the
history's. The residuals are first centred and scaled to unit variance per asset (``ddof=0``), so
``sigma`` is exactly the conditional sd of the simulated law (a fit's residuals are close to that
already; the rescaling makes it exact).

Per bar ``t`` and asset, ``r_t = d - c(sigma_t) + sigma_t eps_t`` and
``sigma2_{t+1} = min(omega + (alpha + gamma 1{eps_t < 0}) sigma2_t eps_t**2 + beta sigma2_t,
SIGMA_MAX**2)``. The cap (a 100 % sd per bar) only stops explosive paths and keeps the
compensator's table finite. ``d = drift * bar_years`` and ``c(sigma) = log E[exp(sigma eps)]``
for the innovation law (`stress.paths.garch_compensator`), so ``E[exp(r_t) | sigma_t] = exp(d)``
at every bar and, by the tower rule, ``E[S_T] = S_0 exp(drift T)`` exactly as in the other
models (``drift`` is a year's expected simple-return rate). The fit's ``mu`` is not used: the
drift is the config's, as for every model.

Start. ``current``: every path starts from the fit's ``sigma2_next``, the forecast for the bar
after the history. ``stationary``: every path starts from the unconditional variance
``omega / (1 - persistence)`` and runs a burn-in of ``burn_bars`` bars of its own innovations
(their returns dropped); ``burn_bars`` is the smallest ``B`` with ``persistence**B <= BURN_TOL``
for the most persistent asset, so the start's weight left in ``E[sigma2]`` is at most 1e-3 (e.g.
1,379 bars at persistence 0.995). Persistence is ``alpha + kappa gamma + beta`` with ``kappa =
E[eps**2 1{eps < 0}]``: 1/2 for the symmetric laws, the residuals' own value for ``fhs``. A
stationary start needs persistence < 1 (so not ``ewma``).

Steps: a step of ``k`` bars sums them, a step of ``1 / m`` bar splits a bar with a Brownian
bridge (`stress.paths.bar_steps`, the bootstrap's rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stress.history.fitting.clipped_t import CLIP_SD, clipped_sd
from stress.history.fitting.garch_fit import GARCH_MODELS, GarchFit
from stress.paths.bar_steps import bars_needed, bars_to_steps
from stress.paths.correlation import correlated_normals, correlation_factor
from stress.paths.garch_compensator import INV_STEP, SIGMA_MAX, compensator_table
from stress.paths.garch_kernel import burn_in, garch_returns
from stress.paths.spec import ModelSpec, TimeGrid

BURN_TOL = 1e-3
"""A stationary start's burn-in leaves at most this weight of the start in ``E[sigma2]``."""

MAX_BURN_BARS = 100_000
"""Longest burn-in allowed (persistence up to ~0.99993); beyond it use ``start: current``."""

BURN_CHUNK_BARS = 512
"""Burn-in innovations are drawn this many bars at a time (bounded memory)."""

INNOVATIONS = ("normal", "student_t", "empirical")
STARTS = ("current", "stationary")


@dataclass(frozen=True)
class GarchSpec:
    """What the conditional-volatility generator draws from (build it with :func:`garch_spec`).

    Attributes
    ----------
    innovation : "normal" | "student_t" | "empirical"
    omega, alpha, gamma, beta : ndarray, shape (n_assets,)
        The per-bar variance recursion.
    drift : ndarray, shape (n_assets,)
        Per-bar log drift ``d``: ``E[exp(r) | sigma] = exp(d)``.
    sigma2_start : ndarray, shape (n_assets,)
        Variance of the first bar (current start) or of the burn-in's first bar (stationary).
    burn_bars : int
        Bars of burn-in before the first bar (0 for a current start).
    corr_factor : ndarray, shape (n_assets, n_assets)
        Factor of the innovations' correlation (normal and Student-t).
    dof : float
        Student-t degrees of freedom (``inf`` otherwise).
    residuals : ndarray, shape (n, n_assets)
        Empirical only: centred, unit-variance rows to draw (``(0, n_assets)`` otherwise).
    mgf_table : ndarray, shape (n_assets, n_intervals, 4)
        The compensator (`stress.paths.garch_compensator.compensator_table`).
    bars_per_step, steps_per_bar : int
        A step is ``bars_per_step`` bars, or a bar is ``steps_per_bar`` steps; one of them is 1.
    start : "current" | "stationary"
    fit : the `GarchFit` it was built from
    """

    innovation: str
    omega: np.ndarray
    alpha: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    drift: np.ndarray
    sigma2_start: np.ndarray
    burn_bars: int
    corr_factor: np.ndarray
    dof: float
    residuals: np.ndarray
    mgf_table: np.ndarray
    bars_per_step: int = 1
    steps_per_bar: int = 1
    start: str = "current"
    fit: GarchFit | None = None  # what it was built from (summary.json reports it)

    @property
    def n_assets(self) -> int:
        return int(self.omega.shape[0])

    @property
    def params(self) -> np.ndarray:
        """Rows omega, alpha, gamma, beta: shape (4, n_assets), as the kernels take them."""
        return np.stack([self.omega, self.alpha, self.gamma, self.beta])


def innovation_of(fit: GarchFit) -> str:
    """The innovation law of a fit's kind (``garch`` with infinite dof: normal)."""
    if fit.kind == "fhs":
        return "empirical"
    if fit.kind == "garch" and not np.isposinf(fit.dof):
        return "student_t"  # a NaN dof fails the dof check rather than turning normal
    return "normal"


def standardised(residuals: np.ndarray) -> np.ndarray:
    """Residual rows centred and scaled to unit variance per column (``ddof=0``)."""
    e = np.array(residuals, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2 or not np.all(np.isfinite(e)):
        raise ValueError(f"fhs needs finite residual rows (n >= 2, n_assets), got {e.shape}")
    e -= e.mean(axis=0)
    sd = e.std(axis=0)
    if not np.all(sd > 0):
        raise ValueError("fhs needs residuals that vary in every asset")
    e /= sd
    return e


def _check_fit(fit: GarchFit, innovation: str) -> None:
    if fit.kind not in GARCH_MODELS:
        raise ValueError(f"unknown conditional-volatility kind {fit.kind!r}")
    n = len(fit.names)
    arrays = [fit.omega, fit.alpha, fit.gamma, fit.beta, fit.sigma2_next]
    if any(np.shape(a) != (n,) for a in arrays) or np.shape(fit.corr) != (n, n):
        raise ValueError(f"GARCH parameters must have shape ({n},) and corr ({n}, {n})")
    params = np.stack(arrays)
    if not np.all(np.isfinite(params)):
        raise ValueError("GARCH parameters must be finite")
    if np.any(params[[0, 1, 3]] < 0) or np.any(fit.alpha + fit.gamma < 0):
        raise ValueError("GARCH needs omega, alpha, beta >= 0 and alpha + gamma >= 0")
    if not np.all(fit.sigma2_next > 0):
        raise ValueError("GARCH needs sigma2_next > 0")
    if innovation == "student_t" and not fit.dof > 2.0:
        raise ValueError(f"Student-t innovations need dof > 2, got {fit.dof}")


def _stationary_start(fit: GarchFit, kappa: np.ndarray) -> tuple[np.ndarray, int]:
    """Unconditional variance and burn-in length (module docstring)."""
    p = fit.alpha + kappa * fit.gamma + fit.beta
    if not np.all(p < 1.0):
        raise ValueError(
            f"start: stationary needs persistence < 1 in every asset, got {p.max():.6g} "
            f"({fit.kind}); use start: current"
        )
    top = float(p.max())
    burn = max(1, int(np.ceil(np.log(BURN_TOL) / np.log(top)))) if top > 0.0 else 1
    if burn > MAX_BURN_BARS:
        raise ValueError(
            f"persistence {top:.6g} needs a burn-in of {burn} bars (> {MAX_BURN_BARS}); "
            "use start: current"
        )
    return fit.omega / (1.0 - p), burn


def garch_spec(
    fit: GarchFit,
    drift: np.ndarray,
    start: str = "current",
    bars_per_step: int = 1,
    steps_per_bar: int = 1,
) -> GarchSpec:
    """The generator's spec of a fit (see the module docstring).

    Parameters
    ----------
    fit : GarchFit
    drift : ndarray, shape (n_assets,)
        A year's expected simple-return rate per asset: ``E[S_T] = S_0 exp(drift T)``.
    start : "current" | "stationary"
    bars_per_step, steps_per_bar : int
        As `stress.paths.bootstrap.BootstrapSpec`; one of them 1.

    Raises
    ------
    ValueError
        For a bad start, step split, parameter, dof, residual set, or a stationary start of a
        non-reverting (or too persistent) model.
    """
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}, got {start!r}")
    k, m = int(bars_per_step), int(steps_per_bar)
    if k < 1 or m < 1 or (k > 1 and m > 1):
        raise ValueError(f"need bars_per_step, steps_per_bar >= 1, one of them 1; got {k}, {m}")
    innovation = innovation_of(fit)
    _check_fit(fit, innovation)
    n_assets = len(fit.names)
    drift = np.asarray(drift, dtype=np.float64).reshape(n_assets)
    res = np.zeros((0, n_assets))
    kappa = np.full(n_assets, 0.5)
    if innovation == "empirical":
        res = standardised(fit.residuals)
        kappa = np.mean(res**2 * (res < 0), axis=0)
    sigma2, burn = np.asarray(fit.sigma2_next, dtype=np.float64), 0
    if start == "stationary":
        sigma2, burn = _stationary_start(fit, kappa)
    dof = float(fit.dof) if innovation == "student_t" else float("inf")
    return GarchSpec(
        innovation=innovation,
        omega=np.asarray(fit.omega, dtype=np.float64),
        alpha=np.asarray(fit.alpha, dtype=np.float64),
        gamma=np.asarray(fit.gamma, dtype=np.float64),
        beta=np.asarray(fit.beta, dtype=np.float64),
        drift=drift * fit.bar_hours / (365.0 * 24.0),
        sigma2_start=np.asarray(sigma2, dtype=np.float64),
        burn_bars=burn,
        corr_factor=correlation_factor(fit.corr),
        dof=dof,
        residuals=res,
        mgf_table=compensator_table(innovation, dof, res),
        bars_per_step=k,
        steps_per_bar=m,
        start=start,
        fit=fit,
    )


def innovations(g: GarchSpec, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Unit-variance innovations, shape (*shape, n_assets) = (n_paths, n_bars, n_assets).

    Draw order: normal and Student-t: all normals (`correlated_normals`), then (t) one
    chi-square per (path, bar); empirical: one residual row index per (path, bar).
    """
    if g.innovation == "empirical":
        return g.residuals[rng.integers(0, g.residuals.shape[0], size=shape)]
    eps = correlated_normals(g.corr_factor, shape, rng)
    if g.innovation == "student_t":
        w = rng.chisquare(g.dof, size=shape)
        np.divide(g.dof - 2.0, w, out=w)
        np.sqrt(w, out=w)
        eps *= w[..., None]
        np.clip(eps, -CLIP_SD, CLIP_SD, out=eps)
        eps *= 1.0 / clipped_sd(g.dof, CLIP_SD)
    return np.ascontiguousarray(eps)


def start_variance(g: GarchSpec, n_paths: int, rng: np.random.Generator) -> np.ndarray:
    """Each path's variance of its first bar, shape (n_paths, n_assets).

    A stationary start draws its burn-in innovations (:func:`innovations`) ``BURN_CHUNK_BARS``
    bars at a time; a current start draws nothing.
    """
    sigma2 = np.tile(g.sigma2_start, (n_paths, 1))
    for done in range(0, g.burn_bars, BURN_CHUNK_BARS):
        eps = innovations(g, (n_paths, min(BURN_CHUNK_BARS, g.burn_bars - done)), rng)
        burn_in(eps, sigma2, g.params, SIGMA_MAX**2)
    return sigma2


def bar_returns(g: GarchSpec, n_paths: int, n_bars: int, rng: np.random.Generator) -> np.ndarray:
    """Per-bar log returns, shape (n_paths, n_bars, n_assets).

    Draw order: :func:`innovations` of the bars, then :func:`start_variance` (so a current and
    a stationary start share their innovations).
    """
    eps = innovations(g, (n_paths, n_bars), rng)
    sigma2 = start_variance(g, n_paths, rng)
    garch_returns(eps, sigma2, g.drift, g.params, SIGMA_MAX**2, g.mgf_table, INV_STEP, eps)
    return eps


def log_increments(
    spec: ModelSpec, grid: TimeGrid, n_paths: int, rng: np.random.Generator
) -> np.ndarray:
    """Log-price increments of a conditional-volatility model (see the module docstring).

    Parameters
    ----------
    spec : ModelSpec
        ``spec.source`` is a :class:`GarchSpec`; nothing else of ``spec`` is used.
    grid : TimeGrid
        Its step must match ``bars_per_step``/``steps_per_bar`` (checked by the config layer).
    n_paths : int
    rng : numpy.random.Generator
        The only source of randomness. Draw order: :func:`bar_returns` (the bars' innovations,
        then a stationary start's burn-in), then the bridges of steps shorter than a bar
        (`stress.paths.bar_steps.bars_to_steps`).

    Returns
    -------
    ndarray, shape (n_paths, n_steps, n_assets), float64
    """
    g: GarchSpec = spec.source
    k, m = g.bars_per_step, g.steps_per_bar
    r = bar_returns(g, n_paths, bars_needed(grid.n_steps, k, m), rng)
    return bars_to_steps(r, grid.n_steps, k, m, rng)
