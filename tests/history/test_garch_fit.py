"""Conditional-volatility fits: GJR-GARCH-t recovers known parameters from a simulated series,
EWMA is its recursion, the derived numbers follow their formulas, bad input is refused in one line
naming the asset, and ``stress calibrate --model garch|fhs|ewma`` reports the shipped data.

The recovery test simulates a two-asset GJR-GARCH(1,1) with one multivariate-t innovation
(numpy, fixed seed, 20,000 bars, persistence 0.97) and requires every fitted parameter within 4 of
its own standard errors of the truth.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from conftest import DATA, run_stress

import stress
from stress.history.fitting.garch import (
    EWMA_SEED_BARS,
    MIN_RETURNS,
    ewma_variance,
    fit_garch,
    lambda_per_bar,
)
from stress.history.fitting.garch_fit import GarchFit

FILES = [DATA / f"binance_spot_{a}USDT_1h.csv.gz" for a in ("BTC", "ETH", "SOL")]
TOL = 4.0
TRUTH = {
    "mu": np.array([1e-4, -5e-5]),
    "omega": np.array([2e-6, 4e-6]),
    "alpha": np.array([0.05, 0.04]),
    "gamma": np.array([0.06, 0.08]),
    "beta": np.array([0.89, 0.89]),
}
DOF = 6.0
CORR = np.array([[1.0, 0.6], [0.6, 1.0]])
CONFIG_REST = """
name: calibrated
seed: 1
simulation: {paths: 64, horizon_days: 1, steps_per_day: 24}
account: {wallet: 10000}
positions:
  - {asset: BTC, side: long, notional: 20000, leverage: 5}
"""


def simulate(n: int, seed: int, burn: int = 500) -> np.ndarray:
    """Log returns ``mu + sigma_t eps_t`` of the GJR-GARCH in `TRUTH`, ``eps`` a unit-variance
    multivariate t (`DOF`, `CORR`); the variance starts at its unconditional value."""
    rng = np.random.default_rng(seed)
    mu, omega, alpha, gamma, beta = (TRUTH[k] for k in ("mu", "omega", "alpha", "gamma", "beta"))
    w = rng.chisquare(DOF, (n + burn, 1))
    eps = rng.standard_normal((n + burn, 2)) @ np.linalg.cholesky(CORR).T * np.sqrt((DOF - 2) / w)
    s2 = omega / (1 - alpha - gamma / 2 - beta)
    x = np.empty((n + burn, 2))
    for t in range(n + burn):
        e = np.sqrt(s2) * eps[t]
        x[t] = mu + e
        s2 = omega + (alpha + gamma * (e < 0)) * e * e + beta * s2
    return x[burn:]


@pytest.fixture(scope="module")
def simulated():
    x = simulate(20_000, seed=2)
    return x, fit_garch(x, ["A", "B"], 1.0, "garch")


def within(estimate, se, truth, what: str) -> None:
    estimate, se = np.atleast_1d(estimate), np.atleast_1d(se)
    assert np.all((se > 0) & np.isfinite(se)), (what, se)
    assert np.all(np.abs(estimate - truth) < TOL * se), f"{what}: {estimate} vs {truth} (se {se})"


def test_garch_recovers_its_parameters(simulated):
    _, fit = simulated
    for key, truth in TRUTH.items():
        within(getattr(fit, key), fit.se[key], truth, key)
    within(fit.diagnostics["asset_dof"], fit.se["nu"], DOF, "asset dof")
    within(fit.dof, fit.diagnostics["shared_dof_se"], DOF, "shared dof")
    p_true = TRUTH["alpha"] + TRUTH["gamma"] / 2 + TRUTH["beta"]
    assert p_true == pytest.approx(0.97)
    within(fit.persistence, fit.se["persistence"], p_true, "persistence")
    within(
        fit.unconditional_variance,
        fit.se["unconditional_variance"],
        TRUTH["omega"] / (1 - p_true),
        "unconditional variance",
    )
    assert fit.kind == "garch" and fit.names == ("A", "B") and fit.bar_hours == 1.0


def test_residuals_have_unit_variance_and_the_correlation(simulated):
    x, fit = simulated
    z = fit.residuals
    assert z.shape == x.shape and np.all(np.isfinite(z))
    assert z.var(axis=0) == pytest.approx([1.0, 1.0], abs=0.05)
    assert fit.corr == pytest.approx(np.corrcoef(z, rowvar=False), abs=1e-12)
    assert fit.corr[0, 1] == pytest.approx(0.6, abs=0.03)


def test_sigma2_next_is_the_recursion_applied_to_the_last_bar(simulated):
    x, fit = simulated
    e = x[-1] - fit.mu
    sigma2_last = np.square(e / fit.residuals[-1])
    expected = fit.omega + (fit.alpha + fit.gamma * (e < 0)) * e * e + fit.beta * sigma2_last
    assert fit.sigma2_next == pytest.approx(expected, rel=1e-8)


def test_fhs_is_the_same_fit():
    x = simulate(3000, seed=5)
    garch, fhs = fit_garch(x, "AB", 1.0, "garch"), fit_garch(x, "AB", 1.0, "fhs")
    assert fhs.kind == "fhs" and fhs.residuals == pytest.approx(garch.residuals)
    assert fhs.dof == pytest.approx(garch.dof) and np.isfinite(fhs.dof)


def test_ewma_is_its_recursion_by_hand():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((130, 2)) * [0.01, 0.02]
    x[:, 1] += 0.5 * x[:, 0]
    lam = 0.9
    fit = fit_garch(x, ["A", "B"], 4.0, "ewma", ewma_lambda=lam)
    s2 = np.mean(x[:EWMA_SEED_BARS] ** 2, axis=0)  # the seed: mean square of 100 bars
    sigma2 = []
    for t in range(x.shape[0]):
        sigma2.append(s2)
        s2 = lam * s2 + (1 - lam) * x[t] ** 2
    sigma2 = np.array(sigma2)
    assert ewma_variance(x, lam)[0] == pytest.approx(sigma2, rel=1e-12)
    assert fit.sigma2_next == pytest.approx(s2, rel=1e-12)
    assert fit.residuals == pytest.approx(x / np.sqrt(sigma2), rel=1e-12)
    assert fit.corr == pytest.approx(np.corrcoef(fit.residuals, rowvar=False))
    assert fit.alpha == pytest.approx([0.1, 0.1]) and np.all(fit.beta == lam)
    assert np.all(fit.omega == 0) and np.all(fit.gamma == 0) and np.all(fit.mu == 0)
    assert fit.dof == math.inf and all(np.isnan(v).all() for v in fit.se.values())
    assert np.all(fit.half_life_bars == np.inf) and np.all(fit.unconditional_variance == np.inf)
    # RiskMetrics' default: 0.94 per day, whatever the bar
    assert fit_garch(x, "AB", 24.0, "ewma").beta[0] == pytest.approx(0.94)
    assert fit_garch(x, "AB", 1.0, "ewma").beta[0] ** 24 == pytest.approx(0.94)


def test_ewma_lambda_per_bar_from_a_daily_decay_or_a_half_life():
    assert lambda_per_bar(24.0) == pytest.approx(0.94)
    assert lambda_per_bar(1.0, decay=0.97) ** 24 == pytest.approx(0.97)
    assert lambda_per_bar(4.0, half_life_hours=24.0) ** 6 == pytest.approx(0.5)


def test_persistence_half_life_and_unconditional_vol_formulas():
    one = np.ones(2)
    fit = GarchFit(
        kind="garch",
        names=("A", "B"),
        bar_hours=4.0,
        mu=0 * one,
        omega=np.array([1e-6, 1e-6]),
        alpha=np.array([0.04, 0.1]),
        gamma=np.array([0.1, 0.0]),
        beta=np.array([0.9, 0.9]),
        dof=5.0,
        corr=np.eye(2),
        sigma2_next=np.array([4e-5, 1e-4]),
        residuals=np.zeros((3, 2)),
    )
    assert fit.persistence == pytest.approx([0.99, 1.0])
    assert fit.half_life_bars[0] == pytest.approx(math.log(0.5) / math.log(0.99))
    assert 0.99 ** fit.half_life_bars[0] == pytest.approx(0.5)
    assert fit.unconditional_variance[0] == pytest.approx(1e-6 / 0.01)
    assert fit.half_life_bars[1] == np.inf and fit.unconditional_variance[1] == np.inf
    assert fit.annualised_vol(fit.sigma2_next)[0] == pytest.approx(math.sqrt(4e-5 * 365 * 6))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("nan", "B: expected finite returns, got a NaN or infinity"),
        ("short", f"A: too little data for garch: expected at least {MIN_RETURNS} returns"),
        ("flat", "B: expected a price that moves"),
    ],
)
def test_bad_input_is_one_line_naming_the_asset(change, message):
    x = simulate(400, seed=7)
    if change == "nan":
        x[10, 1] = np.nan
    elif change == "short":
        x = x[:50]
    else:
        x[:, 1] = 0.001
    with pytest.raises(stress.ConfigError, match=message) as info:
        fit_garch(x, ["A", "B"], 1.0, "garch")
    assert "\n" not in str(info.value)


def test_bad_options_are_refused():
    x = simulate(400, seed=8)
    with pytest.raises(stress.ConfigError, match="lambda: only for model ewma"):
        fit_garch(x, "AB", 1.0, "garch", ewma_lambda=0.9)
    with pytest.raises(stress.ConfigError, match="lambda: expected a number between 0 and 1"):
        fit_garch(x, "AB", 1.0, "ewma", ewma_lambda=1.0)
    with pytest.raises(stress.ConfigError, match="model: expected one of garch, fhs, ewma"):
        fit_garch(x, "AB", 1.0, "heston")
    with pytest.raises(stress.ConfigError, match="halflife_days: not used by garch"):
        fit_garch(x, "AB", 1.0, "garch", weights=np.linspace(0.5, 1, 400))


def test_a_non_stationary_fit_is_refused_naming_the_asset():
    """A volatility that jumps tenfold for good halfway: the best GARCH never reverts
    (persistence at its bound 1)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(3000) * 0.002, rng.standard_normal(3000) * 0.02])
    with pytest.raises(stress.ConfigError, match="X: the garch fit is non-stationary") as info:
        fit_garch(x[:, None], ("X",), 1.0, "garch")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "fhs", "halflife_days": 5}, "halflife_days: not for model fhs"),
        ({"model": "ewma", "halflife_days": 5}, "its own half-life: half_life_hours"),
        ({"model": "garch", "drift": True}, "drift: not for model garch"),
        ({"model": "gbm", "decay": 0.9}, "decay: only for model ewma"),
        ({"model": "garch", "half_life_hours": 9}, "half_life_hours: only for model ewma"),
        ({"model": "ewma", "decay": 1.5}, "decay: expected a number between 0 and 1, got 1.5"),
        ({"model": "ewma", "decay": 0.9, "half_life_hours": 9}, "got both"),
    ],
)
def test_calibrate_refuses_options_the_model_ignores(kwargs, message):
    with pytest.raises(stress.ConfigError, match=message):
        stress.calibrate(FILES[0], **kwargs)


def test_calibrate_ewma_with_a_half_life_names_it_in_the_block():
    res = stress.calibrate(FILES[:2], "ewma", since="2023-01-01", half_life_hours=24)
    block = res["model"]
    assert block == {
        "type": "ewma",
        "history": [str(f) for f in FILES[:2]],
        "since": "2023-01-01",
        "half_life_hours": 24.0,
    }
    assert res["fit"]["lambda"] == pytest.approx(0.5 ** (1 / 24))
    btc = res["fit"]["assets"]["BTC"]
    assert btc["unconditional_vol"] is None and 0.1 < btc["current_vol"] < 2


def test_calibrate_cli_reports_garch_on_the_shipped_data(tmp_path):
    args = [*FILES, "--model", "garch", "--since", "2021-01-01", "--until", "2021-12-31"]
    proc = run_stress("calibrate", *args, "-o", "m.yaml", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("BTC", "ETH", "SOL"):
        for what in ("omega", "alpha", "gamma", "beta", "persistence", "half-life"):
            assert f"{name} {what}" in proc.stdout
        assert f"{name} unconditional vol" in proc.stdout and f"{name} current vol" in proc.stdout
    assert "corr BTC-ETH" in proc.stdout and "dof (shared)" in proc.stdout
    assert "re-estimated from these files when a run is prepared" in proc.stdout
    text = (tmp_path / "m.yaml").read_text()
    assert "# stress calibrate: garch fit to BTC, ETH, SOL" in text
    block = yaml.safe_load(text)["model"]
    assert block == {
        "type": "garch",
        "history": [str(f) for f in FILES],
        "since": "2021-01-01",
        "until": "2021-12-31",
        "start": "current",
    }
    (tmp_path / "c.yaml").write_text(text + CONFIG_REST)
    assert stress.load_config(tmp_path / "c.yaml").model.type == "garch"
