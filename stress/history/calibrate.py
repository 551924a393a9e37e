"""Fit a price model to history: `calibrate` reads price files and returns a config `model:` block.

Every model is fitted by maximum likelihood to the single-bar log returns of the assets on their
common timestamps (`stress.history.prices`), in the units the generators read (`stress.paths`):

- gbm: the sample mean and covariance (closed form).
- merton: a Poisson mixture of normals with one market-wide jump clock (``common: true``).
- student_t: a multivariate t with one dof shared by all assets.
- garch, fhs, ewma: conditional volatility (`stress.history.fitting.garch`, reported by
  `stress.history.garch_report`). Their ``model:`` block names only the price files and the
  window: a run re-estimates the fit from those files when it is prepared.

Standard errors are the inverse observed information at the maximum (the numerical Hessian of the
log-likelihood in unconstrained parameters, closed form for gbm), carried to the reported
parameters by the delta method. They assume i.i.d. returns; real returns cluster in volatility,
so on market data they understate the uncertainty.

``halflife_days`` weights the log-likelihood of each return by ``0.5 ** (age / halflife)`` (age
in days before the last return): every parameter, not only vol and correlation, is estimated from
the weighted likelihood. Weights are scaled to sum to the effective sample size
``(sum w)**2 / sum(w**2)``, so standard errors are those of that many equally weighted returns.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from stress.config.times import NS_PER_DAY, check_window
from stress.errors import ConfigError
from stress.history import garch_report
from stress.history.fitting.estimate import Estimate
from stress.history.fitting.garch import fit_garch, lambda_per_bar
from stress.history.fitting.garch_fit import GARCH_MODELS
from stress.history.fitting.models import FITS
from stress.history.prices import MIN_CLOSES, PriceHistory, Returns, aligned_returns, read_prices

MODELS = (*FITS, *GARCH_MODELS)
SE_METHOD = (
    "inverse observed information (Hessian of the log-likelihood at the maximum), "
    "delta method for transformed parameters"
)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

PathLike = str | Path


# ---------------------------------------------------------------------------------------------
# Checking the arguments (shared with the CLI, which names its options instead)


def check_model(kind: str, label: str = "model") -> str:
    if kind not in MODELS:
        raise ConfigError(f"{label}: expected one of {', '.join(MODELS)}, got {kind!r}")
    return kind


def check_halflife(halflife_days: float | None, label: str = "halflife_days") -> float | None:
    if halflife_days is None:
        return None
    if isinstance(halflife_days, bool) or not isinstance(halflife_days, int | float):
        raise ConfigError(f"{label}: expected a number of days > 0, got {halflife_days!r}")
    if not (math.isfinite(halflife_days) and halflife_days > 0):
        raise ConfigError(f"{label}: expected a number of days > 0, got {halflife_days}")
    return float(halflife_days)


def name_files(
    paths: list[PathLike], names: list[str], label: str = "names"
) -> list[tuple[str | None, PathLike]]:
    """Pair files with ``NAME=FILE`` renames; files without one keep their default name (None).

    Raises
    ------
    ConfigError
        A rename that is not ``NAME=FILE`` with FILE one of ``paths``.
    """
    renames: dict[Path, str] = {}
    for item in names:
        name, sep, file = item.partition("=")
        match = [p for p in paths if sep and Path(file).resolve() == Path(p).resolve()]
        if not name.strip() or not match:
            raise ConfigError(
                f"{label}: expected NAME=FILE with FILE one of the price files, got {item!r}"
            )
        renames[Path(match[0]).resolve()] = name.strip()
    return [(renames.get(Path(p).resolve()), p) for p in paths]


def _named_paths(paths: Any) -> list[tuple[str | None, PathLike]]:
    if isinstance(paths, str | Path):
        return [(None, paths)]
    if isinstance(paths, dict):
        return [(str(name), path) for name, path in paths.items()]
    items = [item if isinstance(item, tuple) else (None, item) for item in paths]
    if not items:
        raise ConfigError("paths: expected at least one price file, got none")
    return items


def _read_all(paths: Any) -> list[PriceHistory]:
    histories = []
    seen: dict[str, str] = {}
    for name, path in _named_paths(paths):
        if name is not None and not _NAME.match(name):
            raise ConfigError(
                f"{path}: asset name: expected letters, digits, '_', '.' or '-', got {name!r}"
            )
        history = read_prices(path, name)
        if history.name in seen:
            raise ConfigError(
                f"{path}: asset name {history.name!r} is also the name of {seen[history.name]}: "
                "expected one file per asset (name them with NAME=FILE)"
            )
        seen[history.name] = str(path)
        histories.append(history)
    return histories


def observation_weights(times: np.ndarray, halflife_days: float | None) -> np.ndarray:
    """Exponential weights ``0.5 ** (age / halflife)`` scaled to sum to the effective sample size.

    Parameters
    ----------
    times : ndarray, shape (n_returns,), int64
        End times of the returns (ns).
    halflife_days : float or None
        None: equal weights of 1.

    Returns
    -------
    ndarray, shape (n_returns,)
    """
    if halflife_days is None:
        return np.ones(times.shape[0])
    age_days = (times[-1] - times) / NS_PER_DAY
    w = np.exp2(-age_days / halflife_days)
    n_eff = w.sum() ** 2 / np.square(w).sum()
    return w * (n_eff / w.sum())


# ---------------------------------------------------------------------------------------------
# The result


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").strftime("%Y-%m-%d %H:%M")


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _model_block(est: Estimate, data: Returns, drift: bool) -> dict:
    names = data.names
    assets = {
        name: {
            "price": float(data.last_close[i]),
            "vol": float(est.vol[i]),
            "drift": float(est.drift[i]) if drift else 0.0,
        }
        for i, name in enumerate(names)
    }
    block: dict[str, Any] = {"type": est.kind, "assets": assets}
    if len(names) > 1:
        block["correlation"] = est.corr.tolist()
    if est.kind == "merton":
        block["jumps"] = {**{k: float(v) for k, v in est.params.items()}, "common": True}
    if est.kind == "student_t":
        block["dof"] = float(est.params["dof"])
    return block


def _standard_errors(est: Estimate, names: list[str], drift: bool) -> dict:
    out: dict[str, Any] = {
        "assets": {
            name: {
                "vol": _num(est.vol_se[i]),
                "drift": _num(est.drift_se[i]) if drift else None,
            }
            for i, name in enumerate(names)
        }
    }
    if len(names) > 1:
        out["correlation"] = [[_num(v) for v in row] for row in est.corr_se]
    if est.kind == "merton":
        out["jumps"] = {k: _num(v) for k, v in est.params_se.items()}
    if est.kind == "student_t":
        out["dof"] = _num(est.params_se["dof"])
    return out


def _diagnostics(
    est: Estimate, data: Returns, histories: list[PriceHistory], w: np.ndarray, halflife
) -> dict:
    dev = data.values - (w @ data.values) / w.sum()
    sample_sd = np.sqrt((w @ np.square(dev)) / w.sum() / data.bar_years)
    return {
        "model": est.kind,
        "files": {h.name: h.source for h in histories},
        "start": _iso(data.first_time),
        "end": _iso(data.last_time),
        "bar_hours": data.bar_seconds / 3600.0,
        "returns": int(data.values.shape[0]),
        "dropped_returns": data.dropped,
        "dropped_hours": data.dropped_seconds / 3600.0,
        "halflife_days": halflife,
        "effective_returns": float(w.sum()),
        "log_likelihood": float(est.loglik),
        "parameters": est.n_params,
        "aic": float(2 * est.n_params - 2 * est.loglik),
        "sample_vol": {name: float(sample_sd[i]) for i, name in enumerate(data.names)},
        "estimated_drift": {
            name: {"value": float(est.drift[i]), "se": _num(est.drift_se[i])}
            for i, name in enumerate(data.names)
        },
        "converged": bool(est.converged and np.all(np.isfinite(est.vol_se))),
        "message": est.message,
        "method": "maximum likelihood on single-bar log returns (returns across gaps dropped)",
        "standard_errors": SE_METHOD,
    }


TIED_SHARE = 0.5
"""Most of the returns one value may take before a density model cannot be fitted."""


def _refuse_ties(x: np.ndarray, histories: list, model: str) -> None:
    """Merton and Student-t have continuous densities: when most returns are one value (a
    price that did not trade), the likelihood grows without bound as the scale goes to 0 and no
    maximum exists. Say so instead of failing inside the optimiser."""
    for j in range(x.shape[1]):
        _, counts = np.unique(x[:, j], return_counts=True)
        if counts.max() > TIED_SHARE * x.shape[0]:
            raise ConfigError(
                f"{histories[j].source}: close: expected returns of a traded price for model "
                f"{model}, got {counts.max()} of {x.shape[0]} returns exactly equal (the price "
                "did not move); fit gbm, or choose a window where it trades"
            )


def calibrate(
    paths: PathLike | list[PathLike] | dict[str, PathLike],
    model: str = "gbm",
    since: Any = None,
    until: Any = None,
    halflife_days: float | None = None,
    drift: bool = False,
    decay: float | None = None,
    half_life_hours: float | None = None,
) -> dict:
    """Fit a price model to the history in one or more price files.

    Parameters
    ----------
    paths : path, list of paths, or dict of asset name to path
        OHLCV CSV files (``.csv`` or ``.csv.gz``), one per asset; names come from the file names
        (`stress.history.asset_name`) unless given as dict keys (or list items ``(name, path)``,
        where a name of None means the default).
    model : {"gbm", "merton", "student_t", "garch", "fhs", "ewma"}
    since, until : str, date or datetime, optional
        Window of bars (UTC): ``since <= t``, and ``t <= until`` (a bare date: the whole day).
    halflife_days : float, optional
        Exponentially weighted likelihood (see the module docstring); refused for garch, fhs
        and ewma, whose conditional variance already weights the recent past.
    drift : bool
        Write the estimated drift into the model block; by default it is 0 (an estimated drift
        is mostly noise) and the estimate is only in the diagnostics. Refused for garch models.
    decay, half_life_hours : float, optional
        ewma only, as in a config: the decay of daily variances (default 0.94), or a half-life.

    Returns
    -------
    dict
        ``model``: the config's ``model:`` block (prices are the last common close);
        ``standard_errors``: the same shape, for the fitted numbers;
        ``diagnostics``: window, counts, log-likelihood, sample vol, estimated drift, methods.
        garch, fhs, ewma: see `stress.history.garch_report.garch_result` (and a ``fit`` entry).

    Raises
    ------
    ConfigError
        A bad argument or file, or fewer than 30 returns after alignment and windowing.
    """
    check_model(model)
    halflife = check_halflife(halflife_days)
    garch_report.check_options(model, halflife, drift, decay, half_life_hours)
    start, stop = check_window(since, until)
    histories = _read_all(paths)
    data = aligned_returns(histories, start, stop)
    flat = np.ptp(data.values, axis=0) == 0
    if flat.any():
        source = histories[int(np.argmax(flat))].source
        raise ConfigError(
            f"{source}: close: expected prices that move, got the same return "
            f"{data.values.shape[0]} times"
        )
    if model not in ("gbm", "ewma"):
        _refuse_ties(data.values, histories, model)
    if model in GARCH_MODELS:
        ewma = {"decay": decay, "half_life_hours": half_life_hours}
        return _calibrate_garch(model, paths, histories, data, (since, until), ewma)
    w = observation_weights(data.times, halflife)
    if w.sum() < MIN_CLOSES - 1:
        raise ConfigError(
            f"halflife_days: too little data: expected an effective sample of at least "
            f"{MIN_CLOSES - 1} returns, got {w.sum():.1f} with a half-life of {halflife:g} days"
        )
    est = FITS[model](data.values, w, data.bar_years)
    return {
        "model": _model_block(est, data, drift),
        "standard_errors": _standard_errors(est, data.names, drift),
        "diagnostics": _diagnostics(est, data, histories, w, halflife),
    }


def _calibrate_garch(model, paths, histories, data: Returns, window, ewma: dict) -> dict:
    bar_hours = data.bar_seconds / 3600.0
    lam = lambda_per_bar(bar_hours, **ewma) if model == "ewma" else None
    fit = fit_garch(data.values, data.names, bar_hours, model, lam)
    files = [str(path) for _, path in _named_paths(paths)]
    block = garch_report.model_block(model, files, *window, ewma)
    return garch_report.garch_result(fit, data, [h.source for h in histories], block)


# ---------------------------------------------------------------------------------------------
# Writing it out


def _round(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def _rounded_corr(corr: list[list[float]]) -> list[list[float]]:
    """Correlations to 6 decimals, unless rounding would make the matrix indefinite."""
    c = np.round(np.asarray(corr), 6)
    c = 0.5 * (c + c.T)
    np.fill_diagonal(c, 1.0)
    if np.linalg.eigvalsh(c).min() < 0:
        return corr
    return c.tolist()


def _fmt_se(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def se_lines(result: dict) -> list[str]:
    """``parameter  estimate  standard error`` rows for people."""
    if result["model"]["type"] in GARCH_MODELS:
        return garch_report.report_lines(result)
    model, se = result["model"], result["standard_errors"]
    rows = []
    for name, asset in model["assets"].items():
        rows.append((f"{name} vol", f"{asset['vol']:.4f}", _fmt_se(se["assets"][name]["vol"])))
        if se["assets"][name]["drift"] is not None:
            rows.append(
                (f"{name} drift", f"{asset['drift']:.4f}", _fmt_se(se["assets"][name]["drift"]))
            )
    names = list(model["assets"])
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            rows.append(
                (
                    f"corr {names[i]}-{names[j]}",
                    f"{model['correlation'][i][j]:.4f}",
                    _fmt_se(se["correlation"][i][j]),
                )
            )
    for key, value in model.get("jumps", {}).items():
        if key != "common":
            rows.append((f"jump {key}", f"{value:.4g}", _fmt_se(se["jumps"][key])))
    if "dof" in model:
        rows.append(("dof", f"{model['dof']:.3f}", _fmt_se(se["dof"])))
    width = max(len(r[0]) for r in rows)
    return [f"{r[0]:<{width}}  {r[1]:>10}  +/- {r[2]}" for r in rows]


def summary_line(result: dict) -> str:
    if result["model"]["type"] in GARCH_MODELS:
        return garch_report.summary_line(result)
    d = result["diagnostics"]
    names = ", ".join(d["files"])
    weighted = (
        f", half-life {d['halflife_days']:g} days ({d['effective_returns']:,.0f} effective)"
        if d["halflife_days"] is not None
        else ""
    )
    return (
        f"{d['model']} fit to {names}: {d['start']} .. {d['end']} UTC, {d['returns']:,} returns "
        f"of {d['bar_hours']:g} h ({d['dropped_returns']} across gaps dropped){weighted}; "
        f"log-likelihood {d['log_likelihood']:,.1f}"
    )


def model_yaml(result: dict, comments: bool = True) -> str:
    """The model block as YAML, headed by comments with the fit's window and standard errors.

    Paste it into a config (it is a complete ``model:`` mapping); the comments are ignored.
    """
    if result["model"]["type"] in GARCH_MODELS:
        return garch_report.model_yaml(result, comments)
    model = dict(result["model"])
    model["assets"] = {
        name: {k: (v if k == "price" else _round(v)) for k, v in asset.items()}
        for name, asset in model["assets"].items()
    }
    if "correlation" in model:
        model["correlation"] = _rounded_corr(model["correlation"])
    if "jumps" in model:
        model["jumps"] = {k: (v if k == "common" else _round(v)) for k, v in model["jumps"].items()}
    if "dof" in model:
        # enough digits to stay above the bound 2 that the config enforces
        model["dof"] = next(
            r for d in range(6, 18) if (r := _round(model["dof"], d)) > 2 or d == 17
        )
    body = yaml.safe_dump({"model": model}, sort_keys=False, default_flow_style=None, width=100)
    if not comments:
        return body
    header = [f"# stress calibrate: {summary_line(result)}"]
    header.append(f"# standard errors: {SE_METHOD}")
    header += [f"#   {line}" for line in se_lines(result)]
    if not result["diagnostics"]["converged"]:
        header.append(f"# warning: {result['diagnostics']['message']}")
    return "\n".join(header) + "\n" + body
