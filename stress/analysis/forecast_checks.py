"""How good were probability forecasts of an event, day by day: ``p[t]`` forecast, ``y[t]`` 0 or 1.

- **Calibration in the large**: the mean forecast against the realised frequency (with its Wilson
  interval) and their ratio.
- **Brier score** ``mean((p - y)**2)`` (Brier 1950) and its skill against a reference forecast,
  ``1 - BS / BS_ref`` (positive: better than the reference; the reference here is climatology).
- **Reliability table**: the days binned by the deciles of the forecast (ties kept in one bin), per
  bin the mean forecast against the realised frequency (Murphy and Winkler 1977).
- **Coverage** (Kupiec-style, 1995): under the forecasts the count of events is a sum of
  independent Bernoullis with different probabilities, a Poisson-binomial. Its law is exact by
  convolution; the two-sided p-value doubles the smaller tail (capped at 1): for a constant
  forecast, the doubled-tail form of the exact binomial test that Kupiec's likelihood ratio
  approximates (more lenient than the minimum-likelihood form on the side of too many events,
  so the upper tail, ``P(K >= k)``, is reported apart). The normal approximation
  ``z = (k - sum p) / sqrt(sum p (1 - p))`` is given too.
- **Independence** (Christoffersen 1998): a first-order Markov chain fitted to the 0/1 sequence
  against independence, ``LR = -2 log(L(pi) / L(pi01, pi11))``, chi-square with 1 dof. It is a
  property of the events alone: a rejection says that events cluster, which a constant forecast
  cannot know and a conditional one should. Whether it does is `after_event_coverage`: the
  coverage test on the days that follow an event only.

Pure numpy and `math`; every function returns plain floats, ints, lists and dicts.
"""

from __future__ import annotations

import math

import numpy as np

from stress.analysis.metrics import wilson_interval

DEFAULT_BINS = 10


def check_forecasts(p, y) -> tuple[np.ndarray, np.ndarray]:
    """``p`` as float64 in [0, 1] and ``y`` as 0/1 float64, of the same length >= 1."""
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if p.shape != y.shape or p.size == 0:
        raise ValueError(f"need forecasts and outcomes of one length >= 1, got {p.size}, {y.size}")
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError("forecasts must be probabilities in [0, 1]")
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ValueError("outcomes must be 0 or 1")
    return p, y


def frequency(y) -> dict:
    """Events, days, realised frequency and its 95 % Wilson interval."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    k, n = int(y.sum()), int(y.size)
    lo, hi = wilson_interval(k, n)
    return {"events": k, "days": n, "frequency": k / n, "ci": [lo, hi]}


def brier_score(p, y) -> float:
    """``mean((p - y)**2)``: 0 is perfect; a constant forecast of the frequency f scores
    ``f (1 - f)``."""
    p, y = check_forecasts(p, y)
    return float(np.mean((p - y) ** 2))


def brier_skill(score: float, reference: float) -> float:
    """``1 - score / reference``; NaN when the reference is perfect (0)."""
    return 1.0 - score / reference if reference > 0.0 else math.nan


def reliability_table(p, y, bins: int = DEFAULT_BINS) -> list[dict]:
    """The days binned by the deciles of ``p`` (or ``bins`` quantiles).

    Bin edges are the forecasts' quantiles ``1/bins .. (bins-1)/bins``, duplicates removed; a day
    goes in the bin whose edge is the last at or below its forecast, so equal forecasts share a
    bin (a constant forecast makes one bin). Empty bins are left out.

    Returns
    -------
    list of dict
        Per bin: ``low``, ``high`` (its smallest and largest forecast), ``days``,
        ``mean_predicted``, ``events``, ``realised`` and its Wilson ``ci``.
    """
    p, y = check_forecasts(p, y)
    edges = np.unique(np.quantile(p, np.arange(1, bins) / bins))
    index = np.searchsorted(edges, p, side="right")
    rows = []
    for b in range(edges.size + 1):
        member = index == b
        n = int(member.sum())
        if n == 0:
            continue
        k = int(y[member].sum())
        rows.append(
            {
                "low": float(p[member].min()),
                "high": float(p[member].max()),
                "days": n,
                "mean_predicted": float(p[member].mean()),
                "events": k,
                "realised": k / n,
                "ci": list(wilson_interval(k, n)),
            }
        )
    return rows


def poisson_binomial_pmf(p) -> np.ndarray:
    """``P(K = k)``, k = 0 .. n, of ``K`` the number of successes of independent Bernoulli(p_i),
    by convolving one trial at a time (exact up to rounding; O(n**2))."""
    pmf = np.ones(1)
    for q in np.asarray(p, dtype=np.float64).reshape(-1):
        pmf = np.convolve(pmf, (1.0 - q, q))
    return pmf


def _normal_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def coverage_test(p, y) -> dict:
    """The count of events against the forecasts' Poisson-binomial law (module docstring).

    Returns
    -------
    dict
        ``observed``, ``expected`` (sum p), ``sd`` (sqrt(sum p (1 - p))), ``z``, ``p_value``
        (exact, two-sided: twice the smaller tail, capped at 1), ``p_value_upper`` (exact,
        one-sided: P(K >= observed), the side a risk user fears: more liquidations than
        forecast), ``p_value_normal``.
    """
    p, y = check_forecasts(p, y)
    k = int(y.sum())
    pmf = poisson_binomial_pmf(p)
    below, above = float(pmf[: k + 1].sum()), float(pmf[k:].sum())
    expected = float(p.sum())
    sd = math.sqrt(float(np.sum(p * (1.0 - p))))
    if sd > 0.0:
        z = (k - expected) / sd
    else:
        z = 0.0 if k == expected else math.copysign(math.inf, k - expected)
    return {
        "observed": k,
        "expected": expected,
        "sd": sd,
        "z": z,
        "p_value": min(1.0, 2.0 * min(below, above)),
        "p_value_upper": min(1.0, above),
        "p_value_normal": _normal_two_sided(z) if math.isfinite(z) else 0.0,
    }


def after_event_coverage(p, y) -> dict:
    """`coverage_test` on the days that follow an event (``y[t - 1] == 1``): does the forecast
    expect the clustering? ``days`` says how many; with none, every count is 0 and p is 1."""
    p, y = check_forecasts(p, y)
    after = np.flatnonzero(y[:-1] == 1.0) + 1
    if after.size == 0:
        nothing = {"observed": 0, "expected": 0.0, "sd": 0.0, "z": 0.0}
        return {"days": 0, **nothing, "p_value": 1.0, "p_value_upper": 1.0, "p_value_normal": 1.0}
    return {"days": int(after.size), **coverage_test(p[after], y[after])}


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def christoffersen_independence(y) -> dict:
    """Christoffersen's LR test of independence against a first-order Markov chain.

    Returns
    -------
    dict
        Transition counts ``n00``, ``n01``, ``n10``, ``n11`` (``nij``: a day in state i followed
        by one in state j), ``pi01``, ``pi11`` (NaN without days in state 0 or 1 to follow),
        ``lr`` and its chi-square(1) ``p_value``.
    """
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    prev, nxt = y[:-1], y[1:]
    n00, n01 = int(np.sum((prev == 0) & (nxt == 0))), int(np.sum((prev == 0) & (nxt == 1)))
    n10, n11 = int(np.sum((prev == 1) & (nxt == 0))), int(np.sum((prev == 1) & (nxt == 1)))
    total = n00 + n01 + n10 + n11
    pi01 = n01 / (n00 + n01) if n00 + n01 else math.nan
    pi11 = n11 / (n10 + n11) if n10 + n11 else math.nan
    pi = (n01 + n11) / total if total else math.nan
    lr = 0.0
    if total and 0.0 < pi < 1.0:
        null = _xlogy(n00 + n10, 1.0 - pi) + _xlogy(n01 + n11, pi)
        alt = _xlogy(n00, 1.0 - pi01) + _xlogy(n01, pi01) if n00 + n01 else 0.0
        alt += _xlogy(n10, 1.0 - pi11) + _xlogy(n11, pi11) if n10 + n11 else 0.0
        lr = max(0.0, -2.0 * (null - alt))
    return {
        "n00": n00,
        "n01": n01,
        "n10": n10,
        "n11": n11,
        "pi01": pi01,
        "pi11": pi11,
        "lr": lr,
        "p_value": math.erfc(math.sqrt(lr / 2.0)),
    }


def forecast_checks(p, y, reference, bins: int = DEFAULT_BINS) -> dict:
    """Every check of one forecast series against the outcomes (module docstring).

    Parameters
    ----------
    p, y : forecasts and outcomes, one per day
    reference : forecasts of the reference (climatology) for the skill, one per day

    Returns
    -------
    dict
        ``mean_predicted``, ``ratio`` (mean forecast / realised frequency; inf when nothing
        happened), ``brier``, ``brier_reference``, ``brier_skill``, ``coverage``,
        ``after_event`` and ``reliability``.
    """
    p, y = check_forecasts(p, y)
    mean_p, freq = float(p.mean()), float(y.mean())
    score, ref = brier_score(p, y), brier_score(reference, y)
    if freq > 0.0:
        ratio = mean_p / freq
    else:
        ratio = math.inf if mean_p > 0.0 else math.nan
    return {
        "mean_predicted": mean_p,
        "ratio": ratio,
        "brier": score,
        "brier_reference": ref,
        "brier_skill": brier_skill(score, ref),
        "coverage": coverage_test(p, y),
        "after_event": after_event_coverage(p, y),
        "reliability": reliability_table(p, y, bins),
    }
