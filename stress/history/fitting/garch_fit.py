"""What a conditional-volatility fit hands on: `GarchFit` (the fit itself is
`stress.history.fitting.garch`; the paths drawn from it, `stress.paths.garch`).

Per asset, the bar's log return is ``r_t = mu + sigma_t eps_t`` with the GJR-GARCH(1,1)
variance (Glosten, Jagannathan and Runkle 1993)

    sigma2_{t+1} = omega + (alpha + gamma 1{eps_t < 0}) sigma2_t eps_t**2 + beta sigma2_t

in the units of the log return of one bar (not percent). EWMA (RiskMetrics) is the case
``omega = 0, alpha = 1 - lambda, gamma = 0, beta = lambda`` with normal innovations; its
variance does not revert. The assets' innovations are joined by a constant conditional
correlation (CCC, Bollerslev 1990): ``corr`` is the correlation of the standardised residuals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GARCH_MODELS = ("garch", "fhs", "ewma")
"""The conditional-volatility models: a GJR-GARCH with Student-t innovations, filtered
historical simulation (the same GARCH, innovations bootstrapped from the standardised residuals
as joint vectors), and RiskMetrics' EWMA with normal innovations."""


@dataclass(frozen=True)
class GarchFit:
    """A fitted conditional-volatility model of several assets, per bar of ``bar_hours``.

    Attributes
    ----------
    kind : "garch" | "fhs" | "ewma"
    names : the assets, in the order of every array
    bar_hours : the bar the returns were measured on
    mu : (A,) mean log return per bar (0 for ewma)
    omega, alpha, gamma, beta : (A,) the variance recursion (module docstring)
    dof : Student-t degrees of freedom of the innovations, shared by the assets (a
        multivariate t, as `stress.paths.student_t`); ``inf`` for normal innovations (ewma)
    corr : (A, A) correlation of the standardised residuals
    sigma2_next : (A,) conditional variance of the bar after the history's last (the forecast
        a path starting now begins with)
    residuals : (n, A) the standardised residuals ``(r_t - mu) / sigma_t``, rows on the
        history's common bars (filtered historical simulation draws whole rows)
    se : standard errors: {parameter: (A,) array}, NaN where not available
    diagnostics : anything else worth reporting (log-likelihood, convergence)
    """

    kind: str
    names: tuple[str, ...]
    bar_hours: float
    mu: np.ndarray
    omega: np.ndarray
    alpha: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    dof: float
    corr: np.ndarray
    sigma2_next: np.ndarray
    residuals: np.ndarray
    se: dict[str, np.ndarray] = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)

    @property
    def persistence(self) -> np.ndarray:
        """``alpha + gamma / 2 + beta`` per asset: how much of a variance shock survives a bar
        (symmetric innovations: a negative one half the time)."""
        return self.alpha + 0.5 * self.gamma + self.beta

    @property
    def unconditional_variance(self) -> np.ndarray:
        """Per bar: ``omega / (1 - persistence)``; inf where the variance does not revert."""
        p = self.persistence
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(p < 1.0, self.omega / (1.0 - p), np.inf)

    @property
    def half_life_bars(self) -> np.ndarray:
        """Bars for a variance shock to halve: ``log 0.5 / log persistence`` (inf at 1)."""
        p = self.persistence
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(p < 1.0, np.log(0.5) / np.log(p), np.inf)

    def annualised_vol(self, variance_per_bar: np.ndarray) -> np.ndarray:
        """A per-bar variance as an annualised volatility (365-day year)."""
        bars_per_year = 365.0 * 24.0 / self.bar_hours
        return np.sqrt(np.asarray(variance_per_bar) * bars_per_year)
