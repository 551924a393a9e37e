"""Conditional-volatility paths: GJR-GARCH / FHS / EWMA (stress.paths.garch and its kernel).

Fits are built by hand (`GarchFit`), not estimated. Statistical checks use 4 Monte Carlo standard
errors from the sample itself, with fixed seeds; exact checks (the recursion, the compensator,
reproducibility) use rounding tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_mean_within_4se

from stress.history.fitting.clipped_t import log_mgf
from stress.history.fitting.garch_fit import GarchFit
from stress.paths import BLOCK_PATHS, ModelSpec, TimeGrid, simulate_prices
from stress.paths.garch import garch_spec, innovations, log_increments, start_variance
from stress.paths.garch_compensator import (
    INV_STEP,
    clipped_t_log_mgf,
    compensator_table,
    empirical_log_mgf,
)
from stress.paths.garch_kernel import garch_returns
from stress.paths.generate import MODELS, block_rng

HOUR = 1.0 / (365.0 * 24.0)
WEEK = TimeGrid(n_steps=168, dt=HOUR)
DRIFT = np.array([0.5, -0.3])
S0 = np.array([100.0, 10.0])
RESIDUALS = np.random.default_rng(11).standard_t(4, size=(3000, 2)) @ [[1.0, 0.5], [0.0, 0.8]]
HIGH = {"omega": 2e-6, "alpha": 0.06, "gamma": 0.06, "beta": 0.89, "sigma2_next": 4e-4}
"""Hourly sd 1 % (unconditional) starting at 2 %, persistence 0.98 (half-life 34 bars)."""


def make_fit(kind="garch", dof=4.0, residuals=RESIDUALS, corr=0.6, **params) -> GarchFit:
    p = {"omega": 1e-4, "alpha": 0.0, "gamma": 0.0, "beta": 0.0, "sigma2_next": 1e-4}
    p.update(params)
    n = residuals.shape[1]
    full = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy() for k, v in p.items()}
    c = np.full((n, n), corr)
    np.fill_diagonal(c, 1.0)
    return GarchFit(
        kind=kind,
        names=tuple("AB"[:n]),
        bar_hours=1.0,
        mu=np.zeros(n),
        dof=dof if kind == "garch" else np.inf,
        corr=c,
        residuals=residuals,
        **full,
    )


def model(fit, start="current", drift=DRIFT, k=1, m=1) -> ModelSpec:
    g = garch_spec(fit, drift[: len(fit.names)], start, k, m)
    n = g.n_assets
    return ModelSpec(fit.kind, S0[:n], np.zeros(n), np.zeros(n), np.eye(n), source=g)


def bar_log_returns(spec, n_paths=4096, seed=5, grid=WEEK) -> np.ndarray:
    return np.diff(np.log(simulate_prices(spec, grid, seed, n_paths)), axis=1)


def test_the_three_kinds_are_registered():
    assert all(MODELS[k] is log_increments for k in ("garch", "fhs", "ewma"))


# --- (a) drift: E[S_T] = S_0 exp(drift T) --------------------------------------------------


@pytest.mark.parametrize(
    "kind, start, params",
    [
        ("garch", "current", HIGH),
        ("garch", "stationary", HIGH),
        ("fhs", "current", HIGH),
        ("fhs", "stationary", HIGH),
        ("ewma", "current", {"omega": 0.0, "alpha": 0.06, "beta": 0.94, "sigma2_next": 4e-4}),
    ],
)
def test_expected_price_grows_at_the_drift(kind, start, params):
    spec = model(make_fit(kind, dof=3.5, **params), start)
    prices = simulate_prices(spec, WEEK, 21, 20_000)
    growth = prices[:, -1] / prices[:, 0]
    assert growth.std(axis=0).min() > 0.1  # a wild week: the compensation matters
    for a in range(2):
        assert_mean_within_4se(growth[:, a], np.exp(DRIFT[a] * WEEK.n_steps * WEEK.dt))


def test_compensation_is_exact_per_bar_for_residual_rows():
    """No Monte Carlo: over every residual row, one bar's mean of exp(r) is exp(d) at any sd
    (three paths of constant variance, beta 1, walk through all rows)."""
    g = model(make_fit("fhs")).source
    eps = np.ascontiguousarray(np.broadcast_to(g.residuals, (3, *g.residuals.shape)))
    sigma2 = np.array([[1e-6, 4e-4], [0.01, 0.04], [0.25, 0.8]])
    constant = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    out = np.empty_like(eps)
    garch_returns(eps, sigma2.copy(), g.drift, constant, 1.0, g.mgf_table, INV_STEP, out)
    np.testing.assert_allclose(np.exp(out).mean(axis=1), np.exp(g.drift) * np.ones((3, 1)), 1e-12)


def test_compensator_table_error_is_below_1e_10():
    rng = np.random.default_rng(2)
    sigma = np.concatenate([np.exp(rng.uniform(np.log(1e-5), 0.0, 4000)), [0.0, 1.0]])
    some = sigma[:12]
    direct = np.array([log_mgf(3.0, float(s)) for s in some])
    np.testing.assert_allclose(clipped_t_log_mgf(3.0, some), direct, rtol=1e-13)
    e = RESIDUALS - RESIDUALS.mean(axis=0)
    e /= e.std(axis=0)
    for table, exact in [
        (compensator_table("student_t", 3.0, e)[1], clipped_t_log_mgf(3.0, sigma)),
        (compensator_table("empirical", 0.0, e)[1], empirical_log_mgf(e[:, 1], sigma)),
    ]:
        x = sigma * INV_STEP
        j = np.minimum(x.astype(int), table.shape[0] - 1)
        w = x - j
        a = table[j]
        c = sigma**2 * (a[:, 0] + w * (a[:, 1] + w * (a[:, 2] + w * a[:, 3])))
        assert np.max(np.abs(c - exact)) < 1e-10


# --- (b) i.i.d. special case; (c) the recursion by hand ---------------------------------------


@pytest.mark.parametrize("kind", ["garch", "fhs", "ewma"])
def test_no_garch_terms_is_iid_with_variance_omega(kind):
    s2 = 3e-4
    x = bar_log_returns(model(make_fit(kind, omega=s2, sigma2_next=s2)))
    c = x - x.mean(axis=(0, 1))
    for a in range(2):
        assert_mean_within_4se((c[..., a] ** 2).mean(axis=1), s2)


def test_recursion_by_hand():
    eps = np.array([[[0.5, -1.0], [-2.0, 0.3], [1.5, -40.0], [0.2, 0.1]]])
    drift = np.array([1e-5, -2e-5])
    omega, alpha, gamma, beta = [1e-6, 2e-6], [0.05, 0.1], [0.1, 0.2], [0.9, 0.85]
    params = np.array([omega, alpha, gamma, beta])
    start = np.array([[1e-4, 4e-4]])
    cap = 0.05
    out = np.empty_like(eps)
    capped = []
    for table in (np.zeros((2, 0, 4)), compensator_table("student_t", 4.0, np.zeros((0, 2)))):
        sigma2 = start.copy()
        garch_returns(eps, sigma2, drift, params, cap, table, INV_STEP, out)
        for i in range(2):
            s2 = start[0, i]
            for t in range(4):
                e = eps[0, t, i]
                s = np.sqrt(s2)
                c = s2 / 2 if table.shape[1] == 0 else log_mgf(4.0, float(s))
                tol = 1e-15 if table.shape[1] == 0 else 1e-11  # the table's interpolation error
                assert out[0, t, i] == pytest.approx(drift[i] - c + s * e, rel=1e-12, abs=tol)
                lev = alpha[i] + (gamma[i] if e < 0 else 0.0)
                s2 = min(omega[i] + lev * s2 * e * e + beta[i] * s2, cap)
                capped.append(s2 == cap)
            assert sigma2[0, i] == pytest.approx(s2, rel=1e-14)
    assert sum(capped) == 2  # the -40 sd shock hit the cap (once per table)


# --- (d) clustering, (e) leverage, (f) start ---------------------------------------------------


def lag1_square_products(x, s2):
    """Per path: mean over t of (x_t**2 - s2)(x_{t+1}**2 - s2), x centred on the pooled mean."""
    c = (x - x.mean()) ** 2 - s2
    return (c[:, 1:] * c[:, :-1]).mean(axis=1)


def test_volatility_clusters_only_with_persistence():
    s2 = 1e-4
    iid = bar_log_returns(model(make_fit("garch", omega=s2, sigma2_next=s2)))[..., 0]
    assert_mean_within_4se(lag1_square_products(iid, s2), 0.0)
    garch = {"omega": 2e-6, "alpha": 0.1, "beta": 0.88, "sigma2_next": s2}
    clustered = bar_log_returns(model(make_fit("garch", dof=np.inf, **garch)))[..., 0]
    sq = (clustered - clustered.mean()) ** 2
    rho = np.corrcoef(sq[:, 1:].ravel(), sq[:, :-1].ravel())[0, 1]
    assert rho > 0.15  # GARCH(1,1) with normal shocks: 0.28 in the stationary law


def test_leverage_gamma_raises_variance_after_falls():
    """Bar 1's variance after a fall of bar 0 exceeds that after a rise by gamma * sigma2_0 (the
    rise and fall differ only in the gamma term; with gamma 0 they are the same)."""
    s2 = 1e-4
    for gamma in (0.0, 0.3):
        fit = make_fit("garch", dof=np.inf, omega=1e-6, alpha=0.05, gamma=gamma, beta=0.8)
        x = bar_log_returns(model(fit, drift=np.zeros(2)), 40_000, grid=TimeGrid(2, HOUR))
        fall = x[:, 0, 0] < 0
        down, up = x[fall, 1, 0] ** 2, x[~fall, 1, 0] ** 2
        diff = down.mean() - up.mean()
        se = np.sqrt(down.var() / down.size + up.var() / up.size)
        assert abs(diff - gamma * s2) < 4 * se, (gamma, diff, se)
    assert gamma * s2 > 8 * se  # the test can tell gamma 0.3 from 0


def test_current_start_first_bar_has_the_forecast_variance():
    fit = make_fit("garch", dof=5.0, **{**HIGH, "sigma2_next": [4e-4, 2.5e-5]})
    x = bar_log_returns(model(fit), 20_000, grid=TimeGrid(1, HOUR))[:, 0, :]
    for a, s2 in enumerate([4e-4, 2.5e-5]):
        assert_mean_within_4se((x[:, a] - x[:, a].mean()) ** 2, s2)
    assert np.all(start_variance(model(fit).source, 3, block_rng(0, 0)) == [4e-4, 2.5e-5])


@pytest.mark.parametrize("kind", ["garch", "fhs"])
def test_stationary_start_draws_the_unconditional_variance(kind):
    """Every path burns in from the unconditional variance, which the mean keeps; the paths
    spread; for fhs the unconditional variance uses the residuals' own E[e**2 1{e<0}]."""
    skewed = np.random.default_rng(4).gamma(2.0, size=(5000, 1))  # right-skewed: kappa < 1/2
    params = {"omega": 1e-6, "alpha": 0.03, "gamma": 0.08, "beta": 0.9}
    g = model(make_fit(kind, residuals=-skewed, **params), "stationary").source
    kappa = 0.5
    if kind == "fhs":
        kappa = float(np.mean(g.residuals**2 * (g.residuals < 0)))
        assert kappa > 0.55  # the long left tail carries most of the variance
    p = 0.03 + kappa * 0.08 + 0.9
    assert g.burn_bars == int(np.ceil(np.log(1e-3) / np.log(p)))
    assert g.sigma2_start == pytest.approx(1e-6 / (1 - p))
    sigma2 = start_variance(g, 20_000, block_rng(3, 0))[:, 0]
    assert_mean_within_4se(sigma2, 1e-6 / (1 - p))
    assert sigma2.std() > 0.2 * sigma2.mean()


def test_stationary_start_needs_reverting_variance():
    with pytest.raises(ValueError, match="persistence < 1"):
        model(make_fit("ewma", omega=0.0, alpha=0.06, beta=0.94), "stationary")
    with pytest.raises(ValueError, match="dof > 2"):
        model(make_fit("garch", dof=2.0))
    with pytest.raises(ValueError, match="start must be"):
        model(make_fit("garch"), "later")


# --- (g) reproducibility, (h) joint residual rows, (i) step lengths -----------------------------


def test_paths_depend_only_on_seed_and_path_index():
    spec = model(make_fit("garch", **HIGH), "stationary")
    full = simulate_prices(spec, WEEK, 9, 700, chunk_paths=256)
    np.testing.assert_array_equal(full, simulate_prices(spec, WEEK, 9, 700, chunk_paths=512))
    np.testing.assert_array_equal(full[:300], simulate_prices(spec, WEEK, 9, 300))
    assert not np.array_equal(full, simulate_prices(spec, WEEK, 10, 700))
    inc = log_increments(spec, WEEK, BLOCK_PATHS, block_rng(9, 2))  # block 2 = its own stream
    np.testing.assert_array_equal(full[512:700, 1:], spec.s0 * np.exp(np.cumsum(inc, axis=1))[:188])


def test_fhs_draws_whole_residual_rows():
    a = np.random.default_rng(6).standard_t(4, size=(500, 1))
    fit = make_fit("fhs", residuals=np.hstack([a, -a]), corr=0.9, **{**HIGH, "gamma": 0.0})
    g = model(fit).source
    eps = innovations(g, (64, 100), block_rng(1, 0))
    np.testing.assert_array_equal(eps[..., 1], -eps[..., 0])
    assert set(np.round(eps[..., 0].ravel(), 12)) <= set(np.round(g.residuals[:, 0], 12))
    x = bar_log_returns(model(fit), 512)
    assert np.corrcoef(x[..., 0].ravel(), x[..., 1].ravel())[0, 1] < -0.999


@pytest.mark.parametrize("k, m", [(4, 1), (1, 4)])
def test_step_lengths_keep_the_bars(k, m):
    """Same draws for the bars whatever the step: k-bar steps land on every k-th bar's price,
    1/m-bar steps pass through every bar's price; i.i.d. per-step variance is s2 k / m."""
    fit = make_fit("garch", **HIGH)
    bars = simulate_prices(model(fit), TimeGrid(48, HOUR), 3, 300)
    steps = simulate_prices(model(fit, k=k, m=m), TimeGrid(48 * m // k, HOUR * k / m), 3, 300)
    np.testing.assert_allclose(steps[:, ::m], bars[:, ::k], rtol=1e-12)
    s2 = 2e-4
    iid = model(make_fit("garch", omega=s2, sigma2_next=s2), k=k, m=m)
    x = bar_log_returns(iid, grid=TimeGrid(48 * m // k, HOUR * k / m))
    c = x - x.mean(axis=(0, 1))
    assert_mean_within_4se((c[..., 0] ** 2).mean(axis=1), s2 * k / m)
