"""Merton under importance sampling: the raised intensity's likelihood ratio, read back from
the prices and the jumps the generator reports, against the draws themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stress.paths import TimeGrid, merton
from stress.paths import importance as imp
from stress.paths import importance_jumps as jq
from stress.paths.correlation import correlation_factor
from stress.paths.generate import BLOCK_PATHS, block_rng, chunk_prices
from stress.paths.spec import ModelSpec

GRID = TimeGrid(n_steps=50, dt=1.0 / (365.0 * 24))
CORR = [[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]


def spec(common: bool, n: int = 3, lam: float = 100.0) -> ModelSpec:
    return ModelSpec(
        kind="merton",
        s0=np.linspace(100.0, 300.0, n),
        vol=np.linspace(0.5, 0.9, n),
        drift=np.linspace(-0.1, 0.2, n),
        corr=np.asarray(CORR, dtype=float)[:n, :n],
        jump_intensity=lam,
        jump_mean=-0.05,
        jump_std=0.04,
        jump_common=common,
    )


def q_of(s: ModelSpec, z: float = 1.5, raise_by: float = 3.0) -> imp.MeanShift:
    a = np.array([1.0, 0.5, -0.3])[: s.n_assets] * s.vol
    return imp.mean_shift(s, GRID, a, z, raise_by * s.jump_intensity)


def drawn(s: ModelSpec, shift: imp.MeanShift, seed: int, block: int):
    """Q's prices of one block, the jumps the generator reports, and the log-returns."""
    out = np.empty((BLOCK_PATHS, GRID.n_steps + 1, s.n_assets))
    jumps = jq.jump_block(out, imp.shifted_spec(s, GRID, shift), GRID, seed, block)
    return out, jumps, np.log(out / s.s0)


@pytest.mark.parametrize("common", [True, False], ids=["common", "independent"])
def test_weights_equal_the_ratio_of_the_draws_themselves(common):
    """The normals and the counts the generator drew (re-drawn from the block's generator in
    its order: diffusion normals, then counts): exp(-theta . sum Z + n |theta|^2 / 2)
    (lam / lam')^N exp((lam' - lam) n dt c), at the horizon and stopped at steps of their own."""
    s = spec(common)
    shift = q_of(s)
    theta, lam, lam_q = imp.theta(s, shift), s.jump_intensity, shift.intensity
    prices, jumps, log_return = drawn(s, shift, seed=5, block=3)
    rng = block_rng(5, 3)
    z = rng.standard_normal((BLOCK_PATHS, GRID.n_steps, s.n_assets)) + theta  # Z under Q
    shape = (BLOCK_PATHS, GRID.n_steps) if common else (BLOCK_PATHS, GRID.n_steps, s.n_assets)
    counts = rng.poisson(lam_q * GRID.dt, size=shape).reshape(BLOCK_PATHS, GRID.n_steps, -1)
    clocks = counts.shape[2]
    assert clocks == (1 if common else s.n_assets) and counts.sum() > 100  # jumps were drawn
    steps = np.random.default_rng(9).integers(1, GRID.n_steps + 1, size=BLOCK_PATHS)
    for at in (np.full(BLOCK_PATHS, GRID.n_steps), steps):
        upto = np.arange(GRID.n_steps)[None, :] < at[:, None]  # increments t < s
        sum_z = (z * upto[:, :, None]).sum(axis=1)
        n_jumps = (counts * upto[:, :, None]).sum(axis=(1, 2))
        direct = -(sum_z @ theta) + 0.5 * at * float(theta @ theta)
        direct += n_jumps * math.log(lam / lam_q) + (lam_q - lam) * at * GRID.dt * clocks
        seen = jq.jumps_until(jumps, at, s.n_assets)
        assert np.array_equal(seen[0], n_jumps)
        read = imp.log_weights(s, GRID, shift, log_return[np.arange(BLOCK_PATHS), at], at, seen)
        np.testing.assert_allclose(read, direct, rtol=0, atol=1e-8)


@pytest.mark.parametrize("common", [True, False], ids=["common", "independent"])
def test_weights_average_one_under_q(common):
    """E_Q[dP/dQ] = 1 at the horizon, within 4 standard errors of 8,192 paths."""
    s = spec(common)
    shift = q_of(s, z=1.2, raise_by=2.5)
    w = []
    for block in range(32):
        _, jumps, log_return = drawn(s, shift, seed=11, block=block)
        seen = jq.jumps_until(jumps, np.full(BLOCK_PATHS, GRID.n_steps), s.n_assets)
        w.append(imp.likelihood_ratios(s, GRID, shift, log_return[:, -1], seen))
    w = np.concatenate(w)
    se = w.std(ddof=1) / math.sqrt(w.size)
    assert se < 0.05  # the test has power
    assert abs(w.mean() - 1.0) <= 4 * se, (w.mean(), se)


def test_merton_draw_is_log_increments_and_p_blocks_are_the_plain_prices():
    """`merton.draw` adds nothing to a plain run: the same increments, the same prices; the
    defensive mixture's P blocks hold the plain run's prices, bit for bit."""
    for common in (True, False):
        s = spec(common)
        inc = merton.log_increments(s, GRID, 300, np.random.default_rng(4))
        again, jumps = merton.draw(s, GRID, 300, np.random.default_rng(4))
        assert np.array_equal(inc, again) and jumps.count.min() >= 1
        shift = q_of(s)
        q = imp.shifted_spec(s, GRID, shift)
        chunks = list(imp.mixed_chunks(s, q, GRID, 3, 1100, chunk_paths=512))
        got = np.concatenate([c[1] for c in chunks])
        plain = chunk_prices(s, GRID, 3, 0, 1100)
        for block in range(5):
            rows = slice(block * BLOCK_PATHS, (block + 1) * BLOCK_PATHS)
            same = np.array_equal(got[rows], plain[rows])
            assert same == imp.block_from_p(block), block


def test_q_keeps_p_compensator_and_raises_the_intensity():
    s = spec(True)
    shift = q_of(s, z=2.0, raise_by=4.0)
    q = imp.shifted_spec(s, GRID, shift)
    assert q.jump_intensity == 4.0 * s.jump_intensity and q.jump_mean == s.jump_mean
    kappa = jq.kappa(s)
    factor = correlation_factor(s.corr)
    extra = s.vol * (factor @ imp.theta(s, shift)) / math.sqrt(GRID.dt)
    # the diffusion's drift term under Q is P's (lam kappa compensated) plus the shift
    want = s.drift - s.jump_intensity * kappa + extra
    np.testing.assert_allclose(q.drift - q.jump_intensity * kappa, want, rtol=1e-12)


def test_the_intensity_is_raised_only_for_adverse_jumps():
    s = spec(True, n=1, lam=6.0)
    long, short = np.array([1000.0]), np.array([-1000.0])
    up = ModelSpec(**{**s.__dict__, "jump_mean": 0.05})
    for sp, w, adverse in ((s, long, True), (s, short, False), (up, long, False)):
        tilt = jq.jump_tilt(sp, GRID, w, w * sp.vol)
        raised = jq.raised_intensity(sp, GRID, tilt, np.array(3.0))
        assert (raised > sp.jump_intensity) == adverse
        assert raised <= max(sp.jump_intensity, jq.JUMPS_MAX / (GRID.n_steps * GRID.dt))
    gbm = ModelSpec(**{**s.__dict__, "kind": "gbm", "jump_intensity": 0.0})
    assert jq.jump_tilt(gbm, GRID, long, long * s.vol) == (0.0, 0.0)
