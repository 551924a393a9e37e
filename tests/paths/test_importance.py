"""The mean shift of the GBM normals: Q's spec, and the weights read back from the prices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stress.paths import TimeGrid
from stress.paths import importance as imp
from stress.paths.correlation import correlation_factor
from stress.paths.spec import ModelSpec

GRID = TimeGrid(n_steps=50, dt=1.0 / (365.0 * 24))


def spec(corr: list[list[float]]) -> ModelSpec:
    n = len(corr)
    return ModelSpec(
        kind="gbm",
        s0=np.linspace(100.0, 300.0, n),
        vol=np.linspace(0.5, 0.9, n),
        drift=np.linspace(-0.1, 0.2, n),
        corr=np.asarray(corr, dtype=float),
    )


@pytest.mark.parametrize(
    "corr",
    [
        [[1.0]],
        [[1.0, 0.6], [0.6, 1.0]],
        [[1.0, 1.0, 0.3], [1.0, 1.0, 0.3], [0.3, 0.3, 1.0]],  # singular: L has no inverse
    ],
    ids=["one", "two", "singular"],
)
def test_weights_read_from_prices_equal_the_normals_likelihood_ratio(corr):
    """Paths built step by step from normals Z_t ~ N(theta, I) with P's drift: the ratio read
    back from the terminal price equals exp(-theta . sum Z + n |theta|^2 / 2) from the normals."""
    s = spec(corr)
    a = np.array([3.0, -1.0, 2.0])[: s.n_assets] * s.vol
    shift = imp.mean_shift(s, GRID, a, z=3.0)
    theta = imp.theta(s, shift)
    rng = np.random.default_rng(3)
    z = rng.standard_normal((200, GRID.n_steps, s.n_assets)) + theta  # the normals under Q
    factor = correlation_factor(s.corr)
    inc = (s.drift - 0.5 * s.vol**2) * GRID.dt + s.vol * math.sqrt(GRID.dt) * (z @ factor.T)
    log_return = inc.sum(axis=1)
    direct = -(z.sum(axis=1) @ theta) + 0.5 * GRID.n_steps * float(theta @ theta)
    read = imp.log_weights(s, GRID, shift, log_return)
    np.testing.assert_allclose(read, direct, rtol=0, atol=1e-9)
    # and stopped at a step of each path's own
    steps = rng.integers(1, GRID.n_steps + 1, size=200)
    partial = np.array([inc[i, : steps[i]].sum(axis=0) for i in range(200)])
    sums = np.array([z[i, : steps[i]].sum(axis=0) for i in range(200)])
    direct = -(sums @ theta) + 0.5 * steps * float(theta @ theta)
    read = imp.log_weights(s, GRID, shift, partial, steps)
    np.testing.assert_allclose(read, direct, rtol=0, atol=1e-9)


def test_shifted_spec_is_the_raised_drift():
    s = spec([[1.0, 0.6], [0.6, 1.0]])
    shift = imp.mean_shift(s, GRID, s.vol * np.array([1.0, 1.0]), z=2.0)
    q = imp.shifted_spec(s, GRID, shift)
    factor = correlation_factor(s.corr)
    want = s.drift + s.vol * (factor @ imp.theta(s, shift)) / math.sqrt(GRID.dt)
    np.testing.assert_allclose(q.drift, want, rtol=1e-12)
    assert np.all(q.drift < s.drift)  # a long book's loss direction pushes both down
    assert q.vol is s.vol and q.corr is s.corr


def test_one_long_position_moves_its_mean_log_price_by_z_sigmas():
    s = spec([[1.0]])
    shift = imp.mean_shift(s, GRID, s.vol * 1.0, z=2.5)
    q = imp.shifted_spec(s, GRID, shift)
    horizon = GRID.n_steps * GRID.dt
    moved = (q.drift[0] - s.drift[0]) * horizon
    assert moved == pytest.approx(-2.5 * s.vol[0] * math.sqrt(horizon), rel=1e-12)


def test_no_shift_gives_the_same_spec_and_weights_of_exactly_one():
    s = spec([[1.0, 0.2], [0.2, 1.0]])
    for shift in (imp.no_shift(2), imp.mean_shift(s, GRID, np.zeros(2), 3.0)):
        assert shift.is_zero
        assert imp.shifted_spec(s, GRID, shift) is s
        w = imp.likelihood_ratios(s, GRID, shift, np.ones((7, 2)))
        assert np.array_equal(w, np.ones(7))


def test_mixture_weights_are_bounded_and_the_share_is_the_blocks_drawn_under_p():
    log_lr = np.array([-50.0, -1.0, 0.0, 2.0, 800.0])
    w = imp.mixture_weights(log_lr, 0.25)
    assert np.all(w <= 4.0) and w[2] == pytest.approx(1.0)
    assert w[-1] == pytest.approx(4.0) and w[0] == pytest.approx(0.0, abs=1e-20)
    assert imp.p_share(256) == 1.0
    assert imp.p_share(1024) == 0.25
    assert imp.p_share(1100) == pytest.approx((256 + 76) / 1100)


def test_effective_paths_is_kish():
    assert imp.effective_paths(np.ones(10)) == pytest.approx(10.0)
    assert imp.effective_paths(np.array([1.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert imp.effective_paths(np.array([2.0, 1.0])) == pytest.approx(9.0 / 5.0)
