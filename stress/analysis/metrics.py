"""Per-book risk metrics from per-path results (numpy only).

A book is one portfolio under one margin mode. The engine hands over small per-path arrays
(loss, first liquidation step, bad debt, final equity, per-position liquidation flags) and this
module turns them into the numbers of summary.json (README, "Outputs"): liquidation probability
with its Wilson interval, ruin probability, VaR/ES, bad debt and time to liquidation; and, under a
liquidation process other than a full close, how often and how much was closed in parts
(`partial_close_metrics`).

Every value returned by `book_metrics` is a plain Python float, list, dict or None, so the
result goes straight into ``json.dumps``.

Quantile conventions (the same for every tail number, so ES >= VaR always holds):

* ``var_a`` is the empirical a-quantile of loss: the smallest loss L such that at least a share
  a of the paths lose L or less, i.e. the ``ceil(a * n)``-th smallest loss
  (``numpy.quantile(..., method="inverted_cdf")``). It is a loss some path actually had.
* ``es_a`` is the mean loss over the worst ``m = ceil((1 - a) * n)`` paths, at least 1 path.
  Those are the paths ranked above ``floor(a * n)``, so the smallest of them is at or above
  ``var_a``; with few paths (``(1 - a) * n < 1``) ES is the single worst loss.
"""

from __future__ import annotations

import math

import numpy as np

from stress.analysis.weighted import weighted_book_metrics, weighted_mean

__all__ = [
    "Z95",
    "adl_metrics",
    "book_metrics",
    "expected_shortfall",
    "flat_metrics",
    "paired_difference",
    "partial_close_metrics",
    "position_probabilities",
    "value_at_risk",
    "wilson_bounds",
    "wilson_interval",
]

Z95 = 1.959963984540054
"""Two-sided 95 % standard normal quantile."""

RUIN_FRACTION = 0.01
"""A path is ruined when its final equity is at most this share of the initial wallet."""

VAR_LEVELS = {"95": 0.95, "99": 0.99, "999": 0.999}
TTL_QUANTILES = {"p10": 0.10, "p50": 0.50, "p90": 0.90}


def _snap(x: float) -> float:
    """Snap a path count that is an integer up to rounding: (1 - 0.95) * 1000 = 50.00000000000004.

    Without this, counts like ``ceil((1 - a) * n)`` would take one path too many whenever the
    decimal level is not exact in binary.
    """
    r = round(x)
    return float(r) if abs(x - r) <= 1e-9 * max(1.0, abs(x)) else x


def _check_level(a: float) -> float:
    a = float(a)
    if not 0.0 < a < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {a}")
    return a


def _as_losses(loss: np.ndarray) -> np.ndarray:
    x = np.asarray(loss, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("need at least one path, got an empty loss array")
    return x


def tail_ranks(n: int, a: float) -> tuple[int, int]:
    """(k, m) of n path losses at level a: VaR is the k-th smallest loss, ``k = ceil(a n)``, and
    ES the mean of the m largest, ``m = ceil((1 - a) n)``, both at least 1 and at most n.

    m is computed as ``n - floor(a n)`` from the same snapped ``a n`` as k, which is what keeps
    ES >= VaR exact rather than true up to rounding. The exact metrics and the streaming ones
    (`stress.analysis.streaming`) both count with this.
    """
    x = _snap(a * n)
    return min(n, max(1, math.ceil(x))), min(n, max(1, n - math.floor(x)))


def _var_sorted(sorted_loss: np.ndarray, a: float) -> float:
    n = sorted_loss.shape[0]
    k, _ = tail_ranks(n, a)
    return float(sorted_loss[k - 1])


def _es_sorted(sorted_loss: np.ndarray, a: float) -> float:
    n = sorted_loss.shape[0]
    _, m = tail_ranks(n, a)
    tail = sorted_loss[n - m :]
    # A mean lies between its smallest and largest member; floating-point summation can miss by
    # an ulp, and ES < VaR by an ulp would still break the documented ordering.
    return float(min(max(tail.mean(), tail[0]), tail[-1]))


def value_at_risk(loss: np.ndarray, a: float) -> float:
    """Empirical a-quantile of loss: the ``ceil(a * n)``-th smallest of the n path losses.

    Parameters
    ----------
    loss : ndarray (n_paths,) float64
        Loss per path (initial equity - final equity; positive is a loss).
    a : float in (0, 1)
        Confidence level, e.g. 0.99.

    Returns
    -------
    float
    """
    return _var_sorted(np.sort(_as_losses(loss)), _check_level(a))


def expected_shortfall(loss: np.ndarray, a: float) -> float:
    """Mean loss over the worst ``max(1, ceil((1 - a) * n))`` of the n paths.

    Parameters
    ----------
    loss : ndarray (n_paths,) float64
        Loss per path (positive is a loss).
    a : float in (0, 1)
        Confidence level, e.g. 0.99.

    Returns
    -------
    float
        Always >= ``value_at_risk(loss, a)``.
    """
    return _es_sorted(np.sort(_as_losses(loss)), _check_level(a))


def wilson_bounds(k: np.ndarray, n: int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score intervals of many proportions k / n at once (no checks: see
    `wilson_interval`).

    Parameters
    ----------
    k : array of any shape
        Successes, each 0 <= k <= n (whole numbers, as floats or integers).
    n : int
        Trials, n >= 1, the same for every k.
    z : float
        Standard normal quantile; the default gives a two-sided 95 % interval.

    Returns
    -------
    (lo, hi) : two float64 arrays shaped like k
        Within [0, 1]; ``lo == 0`` exactly where ``k == 0`` and ``hi == 1`` where ``k == n``.
    """
    k = np.asarray(k, dtype=np.float64)
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z * np.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    # At k = 0 or k = n the bound is 0 or 1 in exact arithmetic; rounding would leave ~1e-17.
    lo = np.where(k == 0, 0.0, np.maximum(0.0, centre - half))
    hi = np.where(k == n, 1.0, np.minimum(1.0, centre + half))
    return lo, hi


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k / n.

    Parameters
    ----------
    k : int
        Successes, 0 <= k <= n.
    n : int
        Trials, n >= 1.
    z : float
        Standard normal quantile; the default gives a two-sided 95 % interval.

    Returns
    -------
    (lo, hi) : tuple of float
        Within [0, 1]; ``lo == 0`` exactly when ``k == 0`` and ``hi == 1`` when ``k == n``.
    """
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    lo, hi = wilson_bounds(k, n, z)
    return float(lo), float(hi)


def position_probabilities(pos_liquidated: np.ndarray) -> np.ndarray:
    """Share of paths on which each position is liquidated.

    Parameters
    ----------
    pos_liquidated : ndarray (n_paths, n_positions) bool

    Returns
    -------
    ndarray (n_positions,) float64
    """
    flags = np.asarray(pos_liquidated, dtype=bool)
    if flags.ndim != 2 or flags.shape[0] == 0:
        raise ValueError(f"pos_liquidated must be (n_paths >= 1, n_positions), got {flags.shape}")
    return flags.mean(axis=0, dtype=np.float64)


def paired_difference(x_a: np.ndarray, x_b: np.ndarray, z: float = Z95) -> dict:
    """Mean of ``x_a - x_b`` over paths, with its standard error and a normal interval.

    Modes are evaluated on the same price paths, so comparing them path by path removes the
    shared noise: the SE of the paired difference is far smaller than that of two independent
    estimates when the modes mostly agree. Pass losses to compare expected loss, or liquidation
    indicators (``first_liq_step >= 0``) to compare liquidation probabilities.

    Parameters
    ----------
    x_a, x_b : ndarray (n_paths,)
        Per-path values (float or bool) of the two books on the same paths.
    z : float
        Normal quantile of the interval.

    Returns
    -------
    dict
        ``{"mean": float, "se": float | None, "ci": [lo, hi] | None, "n": int}``; SE and the
        interval need at least two paths and are None otherwise.
    """
    a = np.asarray(x_a, dtype=np.float64).reshape(-1)
    b = np.asarray(x_b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"need two equal, non-empty per-path arrays, got {a.shape} and {b.shape}")
    d = a - b
    n = d.size
    # numpy's mean and std(ddof=1), written out with the same reductions in the same order
    # (the same bits, tested) without their per-call overhead: a verdict makes thousands
    total = np.add.reduce(d, keepdims=True)
    mean = float(total[0] / n)
    if n < 2:
        return {"mean": mean, "se": None, "ci": None, "n": n}
    x = d - total / n
    se = float(math.sqrt(np.add.reduce(x * x) / (n - 1)) / math.sqrt(n))
    return {"mean": mean, "se": se, "ci": [mean - z * se, mean + z * se], "n": n}


def _check_paths(**arrays: np.ndarray) -> int:
    sizes = {name: np.shape(x)[0] if np.ndim(x) else None for name, x in arrays.items()}
    n = sizes["loss"]
    if n is None or n == 0 or any(s != n for s in sizes.values()):
        raise ValueError(f"per-path arrays must be 1-D, non-empty and of equal length, got {sizes}")
    return int(n)


def book_metrics(
    loss: np.ndarray,
    first_liq_step: np.ndarray,
    bad_debt: np.ndarray,
    final_equity: np.ndarray,
    initial_wallet: float,
    step_hours: float,
    fees_paid: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    liquidation_weights: np.ndarray | None = None,
    p_paths: int | None = None,
) -> dict:
    """The summary.json metrics of one book (one portfolio under one mode).

    Parameters
    ----------
    loss : ndarray (n_paths,) float64
        Initial equity - final equity per path; positive is a loss.
    first_liq_step : ndarray (n_paths,) int
        Step of the book's first liquidation on each path, -1 if none.
    bad_debt : ndarray (n_paths,) float64
        Bad debt (>= 0) per path, summed over the book's buckets: the deficit the venue absorbs
        at each liquidation, ``max(0, -equity)`` before the fee.
    final_equity : ndarray (n_paths,) float64
        What the trader holds at the horizon.
    initial_wallet : float
        The portfolio's wallet; ruin means final equity <= 1 % of it.
    step_hours : float
        Length of one step in hours; a liquidation at step s happened s * step_hours in.
    fees_paid : ndarray (n_paths,) float64, optional
        Liquidation fees paid per path; gives ``fees_paid_mean`` when passed.
    weights : ndarray (n_paths,) float64, optional
        Likelihood ratios dP/dQ of paths drawn under importance sampling: every number is then
        weighted (`stress.analysis.weighted.weighted_book_metrics`; a normal interval, not
        Wilson's). None (the default): plain Monte Carlo, the code below.
    liquidation_weights : ndarray (n_paths,) float64, optional
        With `weights`: the ratios stopped at the first liquidation, for what it decides.
    p_paths : int, optional
        With `weights`: the paths drawn under the real measure (for the interval when no path
        liquidates: `stress.analysis.weighted.weighted_probability`).

    Returns
    -------
    dict
        ``p_liquidation``, ``p_liquidation_ci`` ([lo, hi], 95 % Wilson), ``p_liquidation_se``,
        ``p_ruin``, ``expected_loss``, ``var_95``, ``var_99``, ``var_999``, ``es_95``,
        ``es_99``, ``es_999``, ``bad_debt_mean``, ``bad_debt_max``, ``fees_paid_mean`` (with
        `fees_paid`) and
        ``time_to_liquidation_hours`` ({p10, p50, p90} over the paths that liquidate, linear
        interpolation between observed times; None if no path does). Plain Python types only.
        The per-position block of the summary is the caller's: see `position_probabilities`.
    """
    arrays = {"fees_paid": fees_paid} if fees_paid is not None else {}
    n = _check_paths(
        loss=loss,
        first_liq_step=first_liq_step,
        bad_debt=bad_debt,
        final_equity=final_equity,
        **arrays,
    )
    if weights is not None:
        given = dict(loss=loss, first_liq_step=first_liq_step, bad_debt=bad_debt, **arrays)
        given["final_equity"] = final_equity
        ruin = RUIN_FRACTION * float(initial_wallet)
        return weighted_book_metrics(
            given,
            weights,
            ruin,
            step_hours,
            VAR_LEVELS,
            TTL_QUANTILES,
            liquidation_weights,
            p_paths,
        )
    losses = np.sort(np.asarray(loss, dtype=np.float64))
    steps = np.asarray(first_liq_step)
    debt = np.asarray(bad_debt, dtype=np.float64)
    equity = np.asarray(final_equity, dtype=np.float64)

    liquidated = steps >= 0
    k = int(liquidated.sum())
    p_liq = k / n
    lo, hi = wilson_interval(k, n)

    out: dict = {
        "p_liquidation": float(p_liq),
        "p_liquidation_ci": [lo, hi],
        "p_liquidation_se": math.sqrt(p_liq * (1.0 - p_liq) / n),
        "p_ruin": float(np.mean(equity <= RUIN_FRACTION * float(initial_wallet))),
        "expected_loss": float(losses.mean()),
    }
    for tag, a in VAR_LEVELS.items():
        out[f"var_{tag}"] = _var_sorted(losses, a)
    for tag, a in VAR_LEVELS.items():
        out[f"es_{tag}"] = _es_sorted(losses, a)
    out["bad_debt_mean"] = float(debt.mean())
    out["bad_debt_max"] = float(debt.max())
    if fees_paid is not None:
        out["fees_paid_mean"] = float(np.mean(np.asarray(fees_paid, dtype=np.float64)))
    if k == 0:
        out["time_to_liquidation_hours"] = None
    else:
        hours = steps[liquidated].astype(np.float64) * float(step_hours)
        qs = np.quantile(hours, list(TTL_QUANTILES.values()))
        out["time_to_liquidation_hours"] = {
            tag: float(v) for tag, v in zip(TTL_QUANTILES, qs, strict=True)
        }
    return out


def partial_close_metrics(
    partial_closes: np.ndarray, partial_notional: np.ndarray, weights: np.ndarray | None = None
) -> dict:
    """The partial-close metrics of one book (processes other than full_close).

    Parameters
    ----------
    partial_closes : ndarray (n_paths,) int
        Partial closes of the book's buckets on each path.
    partial_notional : ndarray (n_paths,) float64
        Notional they closed, at the mark.
    weights : ndarray (n_paths,), optional
        Likelihood ratios of paths drawn under importance sampling (weighted means).

    Returns
    -------
    dict
        ``p_partial_close`` (share of the paths with at least one), ``partial_closes_mean`` and
        ``partial_notional_mean`` (per path, over every path).
    """
    count = np.asarray(partial_closes)
    if weights is not None:  # importance sampling: means under P (`stress.analysis.weighted`)
        return {
            "p_partial_close": weighted_mean(count > 0, weights),
            "partial_closes_mean": weighted_mean(count, weights),
            "partial_notional_mean": weighted_mean(partial_notional, weights),
        }
    return {
        "p_partial_close": float(np.mean(count > 0)),
        "partial_closes_mean": float(np.mean(count, dtype=np.float64)),
        "partial_notional_mean": float(np.mean(np.asarray(partial_notional, dtype=np.float64))),
    }


def adl_metrics(adl_closed: np.ndarray, adl_liquidated: np.ndarray) -> dict[str, float]:
    """The ADL metrics of one book (scenarios with ``adl``, `stress.margin.adl`).

    Parameters
    ----------
    adl_closed : ndarray (n_paths,) int
        Positions of the book ADL closed on each path.
    adl_liquidated : ndarray (n_paths,) bool
        Whether a bucket of the book was first liquidated after an ADL close of the book.

    Returns
    -------
    dict
        ``p_adl`` (share of the paths where ADL closed at least one position of the book) and
        ``p_liquidation_after_adl`` (share of the paths liquidated after an ADL close).
    """
    return {
        "p_adl": float(np.mean(np.asarray(adl_closed) > 0)),
        "p_liquidation_after_adl": float(np.mean(np.asarray(adl_liquidated, dtype=bool))),
    }


def flat_metrics(metrics: dict) -> dict[str, float | None]:
    """One level of scalar columns from a `book_metrics` dict, for tables and parquet.

    ``p_liquidation_ci`` becomes ``p_liquidation_ci_lo``/``_hi`` and
    ``time_to_liquidation_hours`` becomes ``ttl_hours_p10``/``_p50``/``_p90`` (None when no path
    liquidates); ``rules`` becomes ``<rule>_p_fired``, ``top_up_amount_mean``,
    ``<metric>_without_rules`` and ``saved_<metric>``; other scalar entries are copied and
    nested entries not listed here dropped.
    """
    flat: dict[str, float | None] = {}
    for key, value in metrics.items():
        if key == "p_liquidation_ci":
            flat["p_liquidation_ci_lo"], flat["p_liquidation_ci_hi"] = value
        elif key == "time_to_liquidation_hours":
            for tag in TTL_QUANTILES:
                flat[f"ttl_hours_{tag}"] = None if value is None else value[tag]
        elif key == "rules":
            flat.update(_flat_rules(value))
        elif not isinstance(value, dict | list | tuple):
            flat[key] = value
    return flat


def _flat_rules(rules: dict) -> dict[str, float | None]:
    """The trader's rules' columns (`stress.analysis.rule_metrics`)."""
    flat: dict[str, float | None] = {}
    for name in ("stop_loss", "reduce", "top_up", "hard_stop"):
        flat[f"{name}_p_fired"] = rules[name]["p_fired"]
    flat["top_up_amount_mean"] = rules["top_up"]["amount_mean"]
    for key, value in rules["without_rules"].items():
        flat[f"{key}_without_rules"] = value
    for key, value in rules["saved"].items():
        flat[f"saved_{key}"] = value
    return flat
