"""What ``stress calibrate --model garch|fhs|ewma`` reports: a `GarchFit` as a result dict (the
fitted numbers, standard errors, diagnostics), as lines for people, and as a config ``model:``
block.

The block names only the history files and the window (``{type, history, since, until, start:
current}``; for ewma no ``start``, but its ``decay`` or ``half_life_hours`` if given): a run
re-estimates the fit from those files when it is prepared, so the numbers printed here are for
reading, not pasting.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import yaml

from stress.errors import ConfigError
from stress.history.fitting.garch import DERIVED
from stress.history.fitting.garch_fit import GARCH_MODELS, GarchFit
from stress.history.prices import Returns

REFIT_NOTE = (
    "the fitted numbers are re-estimated from these files when a run is prepared: "
    "the block names only the files and the window"
)
PARAMETERS = ("mu", "omega", "alpha", "gamma", "beta")


def _check_number(value: Any, label: str, what: str, ok) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not ok(value):
        raise ConfigError(f"{label}: expected {what}, got {value!r}")


def check_options(
    model: str, halflife_days: Any, drift: bool, decay: Any, half_life_hours: Any, labels=()
) -> None:
    """Refuse options the model would ignore, and bad ewma options (``labels``: the names of
    halflife_days, drift, decay and half_life_hours to give in a message)."""
    labels = labels or ("halflife_days", "drift", "decay", "half_life_hours")
    half, drift_label, decay_label, hours_label = labels
    _check_number(decay, decay_label, "a number between 0 and 1", lambda v: 0 < v < 1)
    _check_number(
        half_life_hours, hours_label, "a number of hours > 0", lambda v: math.isfinite(v) and v > 0
    )
    for value, label in ((decay, decay_label), (half_life_hours, hours_label)):
        if value is not None and model != "ewma":
            raise ConfigError(f"{label}: only for model ewma, got it with model {model}")
    if decay is not None and half_life_hours is not None:
        raise ConfigError(f"{decay_label}: expected either it or {hours_label}, got both")
    if model in GARCH_MODELS and drift:
        raise ConfigError(f"{drift_label}: not for model {model}: it is fitted at run time")
    if model in GARCH_MODELS and halflife_days is not None:
        raise ConfigError(
            f"{half}: not for model {model}: its conditional variance weights the recent past"
            + (f" (its own half-life: {hours_label})" if model == "ewma" else "")
        )


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").strftime("%Y-%m-%d %H:%M")


def _asset(fit: GarchFit, i: int) -> dict[str, Any]:
    """One asset's numbers: the parameters (per bar, log-return units) and what they imply."""
    asset_dof = fit.diagnostics.get("asset_dof")
    return {
        **{k: float(getattr(fit, k)[i]) for k in PARAMETERS},
        "dof": None if asset_dof is None else float(asset_dof[i]),
        "persistence": float(fit.persistence[i]),
        "half_life_hours": _num(float(fit.half_life_bars[i]) * fit.bar_hours),
        "unconditional_vol": _num(float(fit.annualised_vol(fit.unconditional_variance)[i])),
        "current_vol": float(fit.annualised_vol(fit.sigma2_next)[i]),
    }


def _asset_se(fit: GarchFit, i: int) -> dict[str, float | None]:
    """Standard errors of `_asset`'s numbers; half-life and unconditional vol by the delta
    method from those of the persistence and the unconditional variance (NaN if absent)."""
    p = float(fit.persistence[i])
    se_p, se_u = (float(fit.se.get(k, np.full(i + 1, np.nan))[i]) for k in DERIVED)
    vol = float(fit.annualised_vol(fit.unconditional_variance)[i])
    bars_per_year = 365.0 * 24.0 / fit.bar_hours
    reverts = 0 < p < 1 and math.isfinite(vol) and vol > 0
    se_half = math.log(2.0) / (p * math.log(p) ** 2) * se_p * fit.bar_hours if reverts else None
    se_vol = se_u * bars_per_year / (2.0 * vol) if reverts else None
    return {
        **{k: _num(float(fit.se[k][i])) for k in PARAMETERS},
        "dof": _num(float(fit.se["nu"][i])) if "nu" in fit.se else None,
        "persistence": _num(se_p),
        "half_life_hours": _num(se_half),
        "unconditional_vol": _num(se_vol),
    }


def model_block(kind: str, files: list[str], since: Any, until: Any, ewma: dict) -> dict:
    """The config's ``model:`` block: the files as given and the window (module docstring);
    ``ewma``: the ``decay`` and ``half_life_hours`` given (None: not given)."""
    block: dict[str, Any] = {"type": kind, "history": list(files)}
    if since is not None:
        block["since"] = str(since)
    if until is not None:
        block["until"] = str(until)
    if kind != "ewma":  # ewma has no stationary law to start from
        block["start"] = "current"
    block.update({k: float(v) for k, v in ewma.items() if v is not None})
    return block


def fit_summary(fit: GarchFit) -> dict[str, Any]:
    """Per asset the parameters, persistence, half-life (hours), unconditional and current vol
    (annualised; None where the variance does not revert), the shared dof and the residual
    correlation (summary.json's ``history.fit`` of a run, and calibrate's ``fit``)."""
    return {
        "assets": {name: _asset(fit, i) for i, name in enumerate(fit.names)},
        "dof": _num(fit.dof),
        "correlation": fit.corr.tolist(),
        **({"lambda": fit.diagnostics["lambda"]} if fit.kind == "ewma" else {}),
    }


def garch_result(fit: GarchFit, data: Returns, sources: list[str], block: dict) -> dict:
    """The result of ``calibrate`` for a conditional-volatility model.

    Returns
    -------
    dict
        ``model``: the config block; ``fit``: per asset the parameters, persistence, half-life
        (hours), unconditional and current vol (annualised; None where the variance does not
        revert), the shared dof and the residual correlation; ``standard_errors``: the same
        shape (None where not available); ``diagnostics``: window, counts, methods.
    """
    names = list(fit.names)
    d = fit.diagnostics
    loglik = d.get("loglik")
    return {
        "model": block,
        "fit": fit_summary(fit),
        "standard_errors": {
            "assets": {name: _asset_se(fit, i) for i, name in enumerate(names)},
            "dof": _num(d.get("shared_dof_se", math.nan)),
        },
        "diagnostics": {
            "model": fit.kind,
            "files": dict(zip(names, sources, strict=True)),
            "start": _iso(data.first_time),
            "end": _iso(data.last_time),
            "bar_hours": fit.bar_hours,
            "returns": int(data.values.shape[0]),
            "dropped_returns": data.dropped,
            "dropped_hours": data.dropped_seconds / 3600.0,
            "log_likelihood": None if loglik is None else float(np.sum(loglik)),
            "shared_dof_log_likelihood": _num(d.get("shared_dof_loglik", math.nan)),
            "residual_variance": dict(zip(names, fit.residuals.var(axis=0).tolist(), strict=True)),
            "converged": bool(d.get("converged", True)),
            "message": "",
            "standard_errors": d["standard_errors"],
            "refit": REFIT_NOTE,
        },
    }


def summary_line(result: dict) -> str:
    d, fit = result["diagnostics"], result["fit"]
    if d["model"] == "ewma":
        lam = fit["lambda"]
        half = math.log(0.5) / math.log(lam) * d["bar_hours"]
        how = f"lambda {lam:.6g} per bar (half-life {half:.4g} h), nothing fitted"
    else:
        how = f"log-likelihood {d['log_likelihood']:,.1f} (sum of the assets' fits)"
    return (
        f"{d['model']} fit to {', '.join(d['files'])}: {d['start']} .. {d['end']} UTC, "
        f"{d['returns']:,} returns of {d['bar_hours']:g} h ({d['dropped_returns']} across gaps "
        f"dropped); {how}"
    )


def _se(value: float | None) -> str:
    return "" if value is None else f"+/- {value:.3g}"


def _vol(value: float | None) -> str:
    return "non-reverting" if value is None else f"{value:.4f}"


def _asset_rows(name: str, a: dict, se: dict) -> list[tuple[str, str, str]]:
    rows = [(f"{name} {k}", f"{a[k]:.6g}", _se(se[k])) for k in PARAMETERS]
    if a["dof"] is not None:
        rows.append((f"{name} dof (own t)", f"{a['dof']:.4g}", _se(se["dof"])))
    half = a["half_life_hours"]
    return rows + [
        (f"{name} persistence", f"{a['persistence']:.6f}", _se(se["persistence"])),
        (
            f"{name} half-life",
            "inf" if half is None else f"{half:.4g} h",
            _se(se["half_life_hours"]),
        ),
        (f"{name} unconditional vol", _vol(a["unconditional_vol"]), _se(se["unconditional_vol"])),
        (f"{name} current vol", _vol(a["current_vol"]), "next bar"),
    ]


def report_lines(result: dict) -> list[str]:
    """``parameter  estimate  standard error`` rows for people (parameters per bar, log-return
    units; vols annualised over a 365-day year; the current vol is the forecast for the bar after
    the history's last)."""
    fit, se = result["fit"], result["standard_errors"]
    rows = []
    for name, a in fit["assets"].items():
        rows += _asset_rows(name, a, se["assets"][name])
    names = list(fit["assets"])
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            corr = fit["correlation"][i][j]
            rows.append((f"corr {names[i]}-{names[j]}", f"{corr:.4f}", "standardised residuals"))
    if fit["dof"] is None:
        rows.append(("dof (shared)", "inf", "normal innovations"))
    else:
        rows.append(("dof (shared)", f"{fit['dof']:.4g}", _se(se["dof"])))
    width = max(len(r[0]) for r in rows)
    return [f"{r[0]:<{width}}  {r[1]:>13}  {r[2]}".rstrip() for r in rows]


def model_yaml(result: dict, comments: bool = True) -> str:
    """The ``model:`` block as YAML; with ``comments``, headed by the fit's window and numbers
    and a line saying that a run re-estimates them."""
    body = yaml.safe_dump(
        {"model": result["model"]}, sort_keys=False, default_flow_style=None, width=100
    )
    if not comments:
        return body
    header = [
        f"# stress calibrate: {summary_line(result)}",
        f"# standard errors: {result['diagnostics']['standard_errors']}",
        *[f"#   {line}" for line in report_lines(result)],
        f"# {REFIT_NOTE}",
    ]
    return "\n".join(header) + "\n" + body
