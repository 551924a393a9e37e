"""The forecasters of `stress backtest`: each model's variance at the start of every test day,
from the data before that day only.

- ``garch``, ``fhs``, ``ewma``: fitted once to the training window (`fit_garch`; fhs is the garch
  fit, drawing its innovations from the residuals) and *filtered* forward with the parameters
  held fixed (`filter_variance`): a day starts from the variance the recursion reached at its
  midnight. With ``refit_days = N`` the fit is redone every N test days on all the data from the
  start of the training window to that day (an expanding window), then filtered on.
- ``gbm``: the training window's variance per bar, the same every day: a GJR-GARCH with
  ``alpha = gamma = beta = 0`` and normal innovations is exactly a GBM, so it runs through the
  same generator.
- ``climatology`` is no simulation: the realised frequency of the training days (`backtest`).

Each forecaster has one `GarchSpec` per fit (its ``sigma2_start`` replaced day by day).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

from stress.errors import ConfigError
from stress.history.fitting.garch import fit_garch, lambda_per_bar
from stress.history.fitting.garch_filter import filter_variance
from stress.history.fitting.garch_fit import GarchFit
from stress.history.prices import PriceHistory, aligned_returns
from stress.paths.garch import GarchSpec, garch_spec

CONDITIONAL = ("garch", "fhs", "ewma")
SIMULATED = (*CONDITIONAL, "gbm")
MODELS = (*SIMULATED, "climatology")
"""Every model `stress backtest` knows, in table order."""


@dataclass(frozen=True)
class Forecaster:
    """What a simulated model needs each day.

    Attributes
    ----------
    name : one of `SIMULATED`
    specs : the generator's spec of each fit (one, or one per refit)
    spec_of_day : (n_days,) int, which spec a day uses
    sigma2 : (n_days,) the variance per bar of each day's first bar
    fits : a summary of each fit (the day its data ends before, persistence, vols), for the
        output
    """

    name: str
    specs: tuple[GarchSpec, ...]
    spec_of_day: np.ndarray
    sigma2: np.ndarray
    fits: tuple[dict, ...]

    def day_spec(self, day: int) -> GarchSpec:
        """The spec of day ``day`` (its index), starting from that day's variance."""
        spec = self.specs[int(self.spec_of_day[day])]
        return replace(spec, sigma2_start=np.array([self.sigma2[day]]))


def _annual(variance_per_bar: float, bar_hours: float) -> float:
    return math.sqrt(variance_per_bar * 365.0 * 24.0 / bar_hours)


def _summary(fit: GarchFit, until: int, n_returns: int) -> dict:
    p = float(fit.persistence[0])
    return {
        "fitted_before": _day(until),
        "returns": int(n_returns),
        "persistence": p,
        "half_life_hours": float(fit.half_life_bars[0] * fit.bar_hours),
        "unconditional_vol": _annual(float(fit.unconditional_variance[0]), fit.bar_hours)
        if p < 1.0
        else math.inf,
        "dof": float(fit.dof),
        "lambda": fit.diagnostics.get("lambda"),
    }


def _fit(history: PriceHistory, since: int, until: int, kind: str) -> tuple[GarchFit, np.ndarray]:
    """``kind`` fitted to the returns of ``[since, until)``; and their stamps."""
    data = aligned_returns([history], since, until)
    bar_hours = data.bar_seconds / 3600.0
    lam = lambda_per_bar(bar_hours) if kind == "ewma" else None
    fit = fit_garch(data.values, data.names, bar_hours, "garch" if kind == "fhs" else kind, lam)
    return (replace(fit, kind="fhs") if kind == "fhs" else fit), data.times


def _segments(n_days: int, refit_days: int | None) -> list[tuple[int, int]]:
    step = n_days if refit_days is None else refit_days
    return [(a, min(a + step, n_days)) for a in range(0, max(n_days, 1), max(step, 1))]


def _cached_fit(cache: dict, history: PriceHistory, since: int, until: int, kind: str):
    """`_fit` once per (kind, until); a failure (`ConfigError`) is cached and returned too."""
    key = ("garch" if kind == "fhs" else kind, until)
    if key not in cache:
        # arch re-enables its convergence warnings inside its fit: only recording them silences
        # them, and a fit that fails says why in the error
        with warnings.catch_warnings(record=True):
            try:
                cache[key] = _fit(history, since, until, key[0])
            except ConfigError as exc:
                cache[key] = exc
    return cache[key]


def conditional_forecaster(
    kind: str,
    history: PriceHistory,
    window: tuple[int, int],
    day_starts: np.ndarray,
    steps_per_bar: int,
    refit_days: int | None = None,
    shared: dict | None = None,
) -> Forecaster:
    """A garch, fhs or ewma forecaster (module docstring).

    ``window`` is the training window ``[since, until)`` in ns; ``day_starts`` the test days'
    midnights (ns), all at or after ``until``. ``shared`` caches fits by (kind, until) across
    calls: fhs reuses garch's fit. A refit that fails (non-stationary, not converged) keeps the
    previous fit, filtered on, and says so in its summary (``refit_failed``); a first fit that
    fails is an error.
    """
    everything = aligned_returns([history])
    cache = {} if shared is None else shared
    specs: list[GarchSpec] = []
    fits: list[dict] = []
    spec_of_day = np.zeros(day_starts.size, dtype=np.int64)
    sigma2 = np.empty(day_starts.size)
    for k, (a, b) in enumerate(_segments(day_starts.size, refit_days)):
        until = window[1] if refit_days is None else int(day_starts[a])
        got = _cached_fit(cache, history, window[0], until, kind)
        if isinstance(got, ConfigError):
            if not specs:
                raise ConfigError(f"{kind} fit to the data before {_day(until)}: {got}")
            specs.append(specs[-1])
            fits.append(fits[-1] | {"refit_failed": f"before {_day(until)}: {got}"})
        else:
            fit, times = replace(got[0], kind=kind), got[1]
            specs.append(garch_spec(fit, np.zeros(1), steps_per_bar=steps_per_bar))
            fits.append(_summary(fit, until, times.size))
        after = everything.times > times[-1]
        filtered = filter_variance(fit, everything.values[after])
        seen = np.searchsorted(everything.times[after], day_starts[a:b], side="left")
        sigma2[a:b] = filtered[seen, 0]
        spec_of_day[a:b] = k
    return Forecaster(kind, tuple(specs), spec_of_day, sigma2, tuple(fits))


def gbm_forecaster(
    history: PriceHistory, window: tuple[int, int], n_days: int, steps_per_bar: int
) -> Forecaster:
    """The training window's variance per bar (about its mean, as the GBM fit), every day."""
    data = aligned_returns([history], *window)
    s2 = float(np.var(data.values[:, 0]))
    bar_hours = data.bar_seconds / 3600.0
    one = np.ones(1)
    fit = GarchFit(
        kind="garch",
        names=tuple(data.names),
        bar_hours=bar_hours,
        mu=0.0 * one,
        omega=s2 * one,
        alpha=0.0 * one,
        gamma=0.0 * one,
        beta=0.0 * one,
        dof=math.inf,  # normal innovations
        corr=np.ones((1, 1)),
        sigma2_next=s2 * one,
        residuals=np.zeros((0, 1)),
    )
    spec = garch_spec(fit, np.zeros(1), steps_per_bar=steps_per_bar)
    summary = {"fitted_before": _day(window[1]), "returns": int(data.values.shape[0])}
    summary["vol"] = _annual(s2, bar_hours)
    return Forecaster(
        "gbm", (spec,), np.zeros(n_days, dtype=np.int64), np.full(n_days, s2), (summary,)
    )


def _day(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[D]"))
