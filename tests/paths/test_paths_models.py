"""Statistical checks of the three path models against closed forms.

Every tolerance is 4 Monte Carlo standard errors estimated from the sample itself.
"""

import numpy as np
import pytest
from conftest import assert_mean_within_4se
from scipy import stats

from stress.paths import ModelSpec, TimeGrid, merton, simulate_prices, student_t
from stress.paths.generate import MODELS

GRID = TimeGrid.from_days(30, 4)  # 120 steps of 6 hours
T = GRID.n_steps * GRID.dt
S0 = np.array([100.0, 50.0])
VOL = np.array([0.9, 1.2])
DRIFT = np.array([0.5, -0.3])
JUMPS = {"jump_intensity": 40.0, "jump_mean": -0.06, "jump_std": 0.1}
CORR3 = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])


def make_spec(kind, rho=0.5, **kw):
    fields = {"s0": S0, "vol": VOL, "drift": DRIFT, "corr": np.array([[1.0, rho], [rho, 1.0]])}
    fields.update(kw)
    return ModelSpec(kind=kind, **fields)


def assert_variance(sample, expected):
    c = np.ravel(sample) - np.mean(sample)
    m2, m4 = np.mean(c**2), np.mean(c**4)
    se = np.sqrt((m4 - m2 * m2) / c.size)
    assert abs(c.var(ddof=1) - expected) < 4 * se, (c.var(ddof=1), expected, se)


def corr_and_se(x, y):
    """Pearson correlation and its delta-method SE (valid for any law with 4 moments)."""
    xs = (x - x.mean()) / x.std()
    ys = (y - y.mean()) / y.std()
    r = np.mean(xs * ys)
    influence = xs * ys - 0.5 * r * (xs**2 + ys**2)
    return r, influence.std() / np.sqrt(x.size)


def excess_kurtosis_and_se(x):
    c = x - x.mean()
    m2, m3, m4 = np.mean(c**2), np.mean(c**3), np.mean(c**4)
    g = m4 / m2**2 - 3.0
    influence = (c**4 - m4) / m2**2 - 2 * m4 / m2**3 * (c**2 - m2) - 4 * m3 / m2**2 * c
    return g, influence.std() / np.sqrt(x.size)


ALL_SPECS = {
    "gbm": make_spec("gbm"),
    "merton_common": make_spec("merton", **JUMPS, jump_common=True),
    "merton_indep": make_spec("merton", **JUMPS, jump_common=False),
    "student_t": make_spec("student_t", dof=5.0),
}


@pytest.mark.parametrize("name", list(ALL_SPECS))
def test_expected_price_grows_at_drift(name):
    prices = simulate_prices(ALL_SPECS[name], GRID, seed=11, n_paths=8192)
    gross = prices[:, -1, :] / S0
    for i in range(2):
        assert_mean_within_4se(gross[:, i], np.exp(DRIFT[i] * T))


def test_gbm_log_return_moments():
    log_ret = np.log(simulate_prices(ALL_SPECS["gbm"], GRID, seed=12, n_paths=8192)[:, -1] / S0)
    for i in range(2):
        assert_mean_within_4se(log_ret[:, i], (DRIFT[i] - 0.5 * VOL[i] ** 2) * T)
        assert_variance(log_ret[:, i], VOL[i] ** 2 * T)


# One jump per step on average, so steps with several jumps test the exact N-jump sum.
COARSE = TimeGrid(n_steps=4, dt=1.0 / 40.0)


@pytest.mark.parametrize("common", [True, False])
def test_merton_log_return_moments(common):
    spec = make_spec("merton", **JUMPS, jump_common=common)
    lam, m, s = JUMPS["jump_intensity"], JUMPS["jump_mean"], JUMPS["jump_std"]
    horizon = COARSE.n_steps * COARSE.dt
    kappa = np.exp(m + 0.5 * s * s) - 1.0
    log_ret = np.log(simulate_prices(spec, COARSE, seed=13, n_paths=8192)[:, -1] / S0)
    for i in range(2):
        assert_mean_within_4se(
            log_ret[:, i], (DRIFT[i] - 0.5 * VOL[i] ** 2 - lam * kappa + lam * m) * horizon
        )
        assert_variance(log_ret[:, i], VOL[i] ** 2 * horizon + lam * horizon * (m * m + s * s))
        assert_mean_within_4se(np.exp(log_ret[:, i]), np.exp(DRIFT[i] * horizon))


def _jump_flags(common, seed):
    """Steps where each asset jumped: diffusion switched off, so increment != drift."""
    spec = make_spec("merton", vol=np.zeros(2), **JUMPS, jump_common=common)
    inc = merton.log_increments(spec, GRID, 1024, np.random.default_rng(seed))
    kappa = np.exp(JUMPS["jump_mean"] + 0.5 * JUMPS["jump_std"] ** 2) - 1.0
    base = (DRIFT - JUMPS["jump_intensity"] * kappa) * GRID.dt
    return np.abs(inc - base) > 1e-12


def test_merton_common_jumps_coincide():
    flags = _jump_flags(common=True, seed=14)
    np.testing.assert_array_equal(flags[..., 0], flags[..., 1])
    p = 1.0 - np.exp(-JUMPS["jump_intensity"] * GRID.dt)
    assert_mean_within_4se(flags[..., 0].astype(float), p)


def test_merton_independent_jumps_do_not_coincide():
    flags = _jump_flags(common=False, seed=15)
    p = 1.0 - np.exp(-JUMPS["jump_intensity"] * GRID.dt)
    for i in range(2):
        assert_mean_within_4se(flags[..., i].astype(float), p)
    assert_mean_within_4se((flags[..., 0] & flags[..., 1]).astype(float), p * p)


def _expected_corr(kind, common):
    """Correlation matrix of one step's log increments implied by CORR3 and the jumps."""
    if kind != "merton":
        return CORR3
    lam, m, s = JUMPS["jump_intensity"], JUMPS["jump_mean"], JUMPS["jump_std"]
    vol = np.array([0.9, 1.2, 0.7])
    cov = CORR3 * np.outer(vol, vol)  # per unit of dt
    if common:  # Cov(N m + sqrt(N) s Z_i, N m + sqrt(N) s Z_j) = lam dt (m^2 + s^2 rho_ij)
        cov = cov + lam * (m * m + s * s * CORR3)
    else:
        cov = cov + np.diag(np.full(3, lam * (m * m + s * s)))
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


@pytest.mark.parametrize(
    ("kind", "common"),
    [("gbm", True), ("merton", True), ("merton", False), ("student_t", True)],
)
def test_increment_correlation(kind, common):
    spec = ModelSpec(
        kind=kind,
        s0=np.ones(3),
        vol=np.array([0.9, 1.2, 0.7]),
        drift=np.array([0.5, -0.3, 0.0]),
        corr=CORR3,
        **JUMPS,
        jump_common=common,
        dof=5.0,
    )
    inc = MODELS[kind](spec, GRID, 2048, np.random.default_rng(16)).reshape(-1, 3)
    expected = _expected_corr(kind, common)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        r, se = corr_and_se(inc[:, i], inc[:, j])
        assert abs(r - expected[i, j]) < 4 * se, (i, j, r, expected[i, j], se)


@pytest.mark.parametrize("kind", ["gbm", "merton", "student_t"])
def test_perfect_correlation_gives_identical_assets(kind):
    same = {"s0": np.full(2, 10.0), "vol": np.full(2, 0.8), "drift": np.full(2, 0.1)}
    spec = make_spec(kind, rho=1.0, **same, **JUMPS, jump_common=True, dof=4.0)
    prices = simulate_prices(spec, GRID, seed=17, n_paths=256)
    np.testing.assert_allclose(prices[..., 0], prices[..., 1], rtol=1e-12, atol=0)
    assert np.ptp(prices[:, -1, 0]) > 1.0  # the paths themselves are random


# ---------------------------------------------------------------- Student-t specifics

DOF = 12.0  # 8 moments exist, so the SE of the kurtosis is finite


def _t_increments(seed, rho=0.0, n_paths=4096, grid=GRID, **kw):
    spec = make_spec("student_t", rho=rho, dof=DOF, **kw)
    return spec, student_t.log_increments(spec, grid, n_paths, np.random.default_rng(seed))


def test_student_t_step_sd_and_kurtosis():
    _, inc = _t_increments(seed=18)
    a = VOL * np.sqrt(GRID.dt)
    for i in range(2):
        x = inc[..., i].ravel()
        assert_variance(x, a[i] ** 2)
        g, se = excess_kurtosis_and_se(x)
        assert abs(g - 6.0 / (DOF - 4.0)) < 4 * se, (g, se)


def test_student_t_tail_dependence_shared_chi2():
    # Uncorrelated but dependent: with one chi-square per step shared by the assets,
    # E[Y1^2 Y2^2] = (dof - 2) / (dof - 4) for unit-variance Y (1 if independent).
    _, inc = _t_increments(seed=19, rho=0.0)
    y = (inc - inc.mean(axis=(0, 1))) / (VOL * np.sqrt(GRID.dt))
    assert_mean_within_4se((y[..., 0] ** 2 * y[..., 1] ** 2).ravel(), (DOF - 2.0) / (DOF - 4.0))


def test_student_t_clip_keeps_drift_and_vol_exact(monkeypatch):
    # A clip at 2 sd puts ~4 % of the mass in the point masses at +/- clip: compensation and
    # rescaling must account for them, or the mean gross return and the sd are visibly off.
    monkeypatch.setattr(student_t, "CLIP_SD", 2.0)
    dof, grid = 3.0, TimeGrid(n_steps=30, dt=1.0 / 365.0)
    spec = make_spec("student_t", vol=np.array([3.0, 2.0]), dof=dof)
    inc = student_t.log_increments(spec, grid, 4096, np.random.default_rng(20))
    a = spec.vol * np.sqrt(grid.dt)
    bound = 2.0 * a / student_t.clipped_sd(dof, 2.0)
    for i in range(2):
        x = inc[..., i].ravel()
        assert_mean_within_4se(np.exp(x), np.exp(DRIFT[i] * grid.dt))
        assert_variance(x, a[i] ** 2)
        centre = DRIFT[i] * grid.dt - student_t.log_mgf(dof, a[i], 2.0)
        dist = np.abs(x - centre)
        assert dist.max() <= bound[i] * (1 + 1e-12)
        assert np.mean(np.isclose(dist, bound[i], rtol=1e-9)) > 0.02


@pytest.mark.parametrize("dof", [2.5, 3.0, 5.0, 12.0])
@pytest.mark.parametrize("clip", [2.0, 50.0])
def test_clipped_sd_matches_closed_form(dof, clip):
    # int_c^inf x^2 f_dof(x) dx = dof ((dof-1)/(dof-2) sf_{dof-2}(c sqrt((dof-2)/dof)) - sf_dof(c))
    k = np.sqrt((dof - 2.0) / dof)
    xc = clip / k
    tail_x2 = dof * (
        (dof - 1.0) / (dof - 2.0) * stats.t(dof - 2.0).sf(xc * k) - stats.t(dof).sf(xc)
    )
    var = 1.0 - 2.0 * (k * k * tail_x2 - clip * clip * stats.t(dof).sf(xc))
    assert student_t.clipped_sd(dof, clip) ** 2 == pytest.approx(var, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("dof", "a", "clip"), [(5.0, 0.02, 50.0), (3.0, 0.3, 50.0), (4.0, 0.5, 2.0)]
)
def test_log_mgf_matches_high_precision_integral(dof, a, clip):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    nu, k = mp.mpf(dof), mp.sqrt(mp.mpf(dof - 2.0) / dof)
    xc = mp.mpf(clip) / k
    const = mp.gamma((nu + 1) / 2) / (mp.sqrt(nu * mp.pi) * mp.gamma(nu / 2))

    def pdf(x):
        return const * (1 + x * x / nu) ** (-(nu + 1) / 2)

    cuts = [1, 4, 16]
    sf = mp.quad(pdf, [xc, mp.inf])
    var = 2 * (mp.quad(lambda x: (k * x) ** 2 * pdf(x), [0, *cuts, xc]) + clip**2 * sf)
    b = mp.mpf(a) / mp.sqrt(var)
    mgf = mp.quad(lambda x: mp.exp(b * k * x) * pdf(x), [-xc, *[-c for c in cuts], 0, *cuts, xc])
    mgf += 2 * mp.cosh(b * clip) * sf
    assert student_t.log_mgf(dof, a, clip) == pytest.approx(float(mp.log(mgf)), rel=1e-10)


def test_student_t_rejects_dof_at_most_two():
    spec = make_spec("student_t", dof=2.0)
    with pytest.raises(ValueError, match="dof"):
        student_t.log_increments(spec, GRID, 4, np.random.default_rng(0))
