"""The margin engine against closed forms, the SPEC text and its invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from support.factories import engine_on, one_asset_config, two_asset_config
from support.reference import reference

import stress

BGK_BETA = 0.5825971579390106  # -zeta(1/2) / sqrt(2 pi), Broadie-Glasserman-Kou (1997)


def barrier_hit_probability(s0, barrier, drift, vol, horizon_years):
    """P(a GBM path touches `barrier` by T), continuous monitoring (reflection principle)."""
    nu = drift - vol**2 / 2  # drift of log price; `drift` is the simple-return rate
    b = math.log(barrier / s0)
    sd = vol * math.sqrt(horizon_years)
    if b < 0:
        return norm.cdf((b - nu * horizon_years) / sd) + math.exp(2 * nu * b / vol**2) * norm.cdf(
            (b + nu * horizon_years) / sd
        )
    return norm.cdf((-b + nu * horizon_years) / sd) + math.exp(2 * nu * b / vol**2) * norm.cdf(
        (-b - nu * horizon_years) / sd
    )


@pytest.mark.parametrize(("side", "drift"), [("long", 0.0), ("short", 0.0), ("long", 0.5)])
def test_gbm_first_passage_matches_bgk_corrected_barrier(side, drift):
    vol, spd, days, mmr = 0.8, 96, 7.0, 0.005
    cfg = one_asset_config(
        side=side,
        vol=vol,
        drift=drift,
        steps_per_day=spd,
        horizon_days=days,
        mmr=mmr,
        paths=20_000,
        modes=("isolated",),
        seed=2024,
    )
    res = stress.run(cfg)
    p_hat = res.metrics[0]["p_liquidation"]
    # Isolated, no fee/funding: liquidation at margin + side Q (P - E) = mmr Q P.
    q, entry, margin = 100.0, 100.0, 1_000.0
    s = 1.0 if side == "long" else -1.0
    barrier = (s * q * entry - margin) / (q * (s - mmr))
    lp = stress.liquidation_prices(cfg)["liquidation_price"].iloc[0]
    assert lp == pytest.approx(barrier, rel=1e-12)
    # Discrete monitoring: shift the barrier away from the start by exp(beta vol sqrt(dt)).
    dt = 1.0 / (365.0 * spd)
    shifted = barrier * math.exp(-s * BGK_BETA * vol * math.sqrt(dt))
    p_bgk = barrier_hit_probability(100.0, shifted, drift, vol, days / 365.0)
    se = math.sqrt(p_bgk * (1 - p_bgk) / 20_000)
    assert abs(p_hat - p_bgk) < 4 * se, (p_hat, p_bgk, se)
    # The correction matters at this resolution: the uncorrected barrier is further off.
    p_cont = barrier_hit_probability(100.0, barrier, drift, vol, days / 365.0)
    assert abs(p_cont - p_hat) > abs(p_bgk - p_hat)


def _linear_path(s0, asset, target, n_times):
    """Prices (1, n_times, n_assets): `asset` moves linearly from its mark to `target`."""
    prices = np.tile(np.asarray(s0, dtype=float), (n_times, 1))
    prices[:, asset] = np.linspace(s0[asset], target, n_times)
    return prices[None]


def _first_cross(path, lp, side):
    hit = path <= lp if side == "long" else path >= lp
    assert np.min(np.abs(path - lp)) > 1e-9 * lp, "test path must not sit on the boundary"
    return int(np.argmax(hit)) if hit.any() else -1


@pytest.mark.parametrize(
    ("case", "moving"),
    [
        ("isolated-long", 0),
        ("isolated-short", 0),
        ("cross-pair-eth", 1),
        ("cross-pair-btc", 0),
        ("cross-short-tier-change", 0),
    ],
)
def test_engine_liquidates_where_closed_form_says(case, moving):
    if case.startswith("isolated"):
        side = case.split("-")[1]
        cfg = one_asset_config(side=side, modes=("isolated",), fee=0.0)
        book_mode = "isolated"
    elif case == "cross-short-tier-change":
        cfg = two_asset_config(
            positions=[
                {
                    "id": "big",
                    "asset": "BTC",
                    "side": "short",
                    "notional": 240_000.0,
                    "leverage": 20.0,
                    "margin_mode": "cross",
                },
            ],
            account={"wallet": 12_000.0},
            modes=["cross"],
        )
        book_mode = "cross"
    else:
        cfg = two_asset_config(modes=["cross"])
        book_mode = "cross"
    cfg["exchange"]["funding"] = {"rate": 0.0, "interval_hours": 8.0}
    lps = stress.liquidation_prices(cfg)
    lps = lps[lps["mode"] == book_mode]
    loaded = stress.load_config(cfg)
    s0 = [a.price for a in loaded.model.assets.values()]
    asset_name = list(loaded.model.assets)[moving]
    row = lps[lps["asset"] == asset_name].iloc[0]
    lp = float(row["liquidation_price"])
    side = next(p for p in loaded.positions if p.asset == asset_name).side
    if case == "cross-short-tier-change":
        assert 0.25e6 < lp * 4.0 < 1e6  # the liquidation notional is in tier 3, entry in tier 2
    target = lp * (0.93 if side == "long" else 1.07)
    prices = _linear_path(s0, moving, target, 401)
    _, res = engine_on(cfg, prices)
    expected = _first_cross(prices[0, :, moving], lp, side)
    assert expected > 0
    assert int(res.first_liq_step[0, 0]) == expected
    # and a path that stops just short of the price never liquidates
    near = _linear_path(s0, moving, lp * (1.0005 if side == "long" else 0.9995), 401)
    _, res_near = engine_on(cfg, near)
    assert int(res_near.first_liq_step[0, 0]) == -1


def test_funding_is_charged_at_each_interval_boundary():
    # flat prices: the only change in equity is funding; 2 days of 15-minute steps = 6 boundaries
    cfg = one_asset_config(
        funding_rate=0.0003, horizon_days=2.0, steps_per_day=96, modes=("isolated", "cross")
    )
    prices = np.full((1, 2 * 96 + 1, 1), 100.0)
    layout, res = engine_on(cfg, prices)
    paid = 6 * 100.0 * 100.0 * 0.0003  # boundaries x quantity x mark x rate
    np.testing.assert_allclose(res.loss(layout)[0], [paid, paid], rtol=1e-12)
    short = one_asset_config(side="short", funding_rate=0.0003, horizon_days=2.0, modes=("cross",))
    layout, res = engine_on(short, prices)
    assert res.loss(layout)[0, 0] == pytest.approx(-paid, rel=1e-12)  # shorts receive


def test_gap_through_liquidation_price_records_bad_debt_and_fee():
    fee = 0.01
    cfg = one_asset_config(fee=fee, modes=("isolated", "cross"))
    prices = np.array([100.0, 99.0, 80.0, 120.0])[None, :, None]  # a gap far below LP ~90.45
    layout, res = engine_on(cfg, prices)
    iso, cross = 0, 1
    q = 100.0
    equity_iso = 1_000.0 + q * (80.0 - 100.0)  # -1,000
    assert res.first_liq_step[0, iso] == 2
    # the deficit the venue absorbs is the negative equity; the 80 USDT fee is simply not paid
    assert res.bad_debt[0, iso] == pytest.approx(-equity_iso)
    assert res.fees_paid[0, iso] == 0.0
    assert res.final_equity[0, iso] == pytest.approx(9_000.0)  # the free balance is untouched
    # cross with the whole 10,000 wallet is not liquidated and recovers by the horizon
    assert res.first_liq_step[0, cross] == -1
    assert res.final_equity[0, cross] == pytest.approx(10_000.0 + q * 20.0)
    assert res.bad_debt[0, cross] == 0.0
    assert res.fees_paid[0, cross] == 0.0


@pytest.mark.parametrize(
    ("fee", "low", "kept", "fee_paid", "bad"),
    [
        # 100 long at 100 with 1,000 margin, mmr 0.5 %; liquidated at the step priced `low`.
        # 0.2 % fee, 90.4: equity 1,000 - 960 = 40 <= maintenance 45.2; fee 18.08 -> kept 21.92
        (0.002, 90.4, 21.92, 18.08, 0.0),
        # 1 % fee, 90.2: equity 20 <= maintenance 45.1; the fee 90.2 takes all 20, kept 0
        (0.01, 90.2, 0.0, 20.0, 0.0),
        # 1 % fee, 89: equity -100 -> nothing kept, no fee, bad debt 100 (not 100 + unpaid 89)
        (0.01, 89.0, 0.0, 0.0, 100.0),
    ],
)
def test_liquidation_splits_equity_into_kept_fee_and_bad_debt(fee, low, kept, fee_paid, bad):
    cfg = one_asset_config(fee=fee, modes=("isolated",))
    prices = np.array([100.0, low, 100.0])[None, :, None]
    _, res = engine_on(cfg, prices)
    assert res.first_liq_step[0, 0] == 1
    assert res.final_equity[0, 0] == pytest.approx(9_000.0 + kept, rel=1e-12)
    assert res.fees_paid[0, 0] == pytest.approx(fee_paid, rel=1e-12, abs=1e-9)
    assert res.bad_debt[0, 0] == pytest.approx(bad, rel=1e-12, abs=1e-9)
    # equity at the close = kept + fee paid - bad debt: nothing created or lost
    equity = 1_000.0 + 100.0 * (low - 100.0)
    assert kept + fee_paid - bad == pytest.approx(equity, rel=1e-12)


def test_liquidation_is_checked_at_step_zero():
    cfg = one_asset_config(modes=("isolated",))
    cfg["positions"][0]["entry_price"] = 112.0  # already far under water at the current mark
    prices = np.full((1, 5, 1), 100.0)
    _, res = engine_on(cfg, prices)
    assert res.first_liq_step[0, 0] == 0


# --- invariants on shared simulated paths ---------------------------------------------------

PAIR_PATHS = stress.generate_paths(two_asset_config(), paths=512, seed=11)

position = st.fixed_dictionaries(
    {
        "asset": st.sampled_from(["BTC", "ETH"]),
        "side": st.sampled_from(["long", "short"]),
        "notional": st.floats(1_000.0, 60_000.0),
        "leverage": st.floats(1.0, 50.0),
        "margin_mode": st.sampled_from(["isolated", "cross"]),
    }
)


def _portfolio(positions, wallet):
    cfg = two_asset_config(positions=positions, account={"wallet": wallet})
    return cfg


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(position, min_size=1, max_size=3), st.floats(1.2, 3.0))
def test_engine_matches_the_spec_reference(positions, wallet_factor):
    wallet = wallet_factor * sum(p["notional"] / p["leverage"] for p in positions)
    cfg = _portfolio(positions, wallet)
    prices = PAIR_PATHS[:24]
    layout, res = engine_on(cfg, prices)
    ref = reference(cfg, prices)
    for k, book in enumerate(layout.books):
        r = ref[("pair", book.mode)]
        np.testing.assert_allclose(res.final_equity[:, k], r["final_equity"], rtol=1e-10, atol=1e-6)
        np.testing.assert_array_equal(res.first_liq_step[:, k], r["first_liq_step"])
        np.testing.assert_allclose(res.bad_debt[:, k], r["bad_debt"], rtol=1e-10, atol=1e-6)
        np.testing.assert_allclose(res.fees_paid[:, k], r["fees_paid"], rtol=1e-10, atol=1e-6)
        first = layout.book_first_position[k]
        for j, p in enumerate(book.positions):
            np.testing.assert_array_equal(
                res.pos_liquidated[:, first + j], r["pos_liquidated"][p.id]
            )


@settings(max_examples=40, deadline=None)
@given(st.lists(position, min_size=1, max_size=4), st.floats(1.0, 2.0))
def test_isolated_loss_never_exceeds_allocated_margin(positions, wallet_factor):
    wallet = wallet_factor * sum(p["notional"] / p["leverage"] for p in positions)
    cfg = _portfolio(positions, wallet)
    cfg["modes"] = ["isolated"]
    layout, res = engine_on(cfg, PAIR_PATHS)
    allocated = sum(p["notional"] / p["leverage"] for p in positions)
    assert np.all(res.loss(layout)[:, 0] <= allocated * (1 + 1e-12))


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["BTC", "ETH"]),
    st.sampled_from(["long", "short"]),
    st.floats(5_000.0, 60_000.0),
    st.floats(2.0, 40.0),
)
def test_cross_single_position_equals_isolated_with_whole_wallet(asset, side, notional, leverage):
    wallet = 1.5 * notional / leverage
    pos = {"asset": asset, "side": side, "notional": notional, "leverage": leverage}
    cross = _portfolio([dict(pos, margin_mode="cross")], wallet)
    cross["modes"] = ["cross"]
    iso = _portfolio([dict(pos, margin_mode="isolated", margin=wallet)], wallet)
    iso["modes"] = ["isolated"]
    lc, rc = engine_on(cross, PAIR_PATHS)
    li, ri = engine_on(iso, PAIR_PATHS)
    np.testing.assert_array_equal(rc.final_equity, ri.final_equity)
    np.testing.assert_array_equal(rc.first_liq_step, ri.first_liq_step)
    np.testing.assert_array_equal(rc.bad_debt, ri.bad_debt)


@settings(max_examples=25, deadline=None)
@given(st.lists(position, min_size=1, max_size=3), st.floats(1.05, 3.0))
def test_more_leverage_never_lowers_liquidation_probability(positions, factor):
    def liquidated(lev_scale):
        scaled = [dict(p, leverage=min(p["leverage"] * lev_scale, 50.0)) for p in positions]
        wallet = sum(p["notional"] for p in positions)  # enough for any leverage >= 1
        cfg = _portfolio(scaled, wallet)
        cfg["modes"] = ["isolated", "as_configured"]
        _, res = engine_on(cfg, PAIR_PATHS)
        return res.first_liq_step >= 0

    low, high = liquidated(1.0), liquidated(factor)
    assert np.all(high | ~low), "a path liquidated at lower leverage survived at higher leverage"
    assert high.mean(axis=0).min() >= 0  # shape sanity
    assert np.all(high.mean(axis=0) >= low.mean(axis=0))


# --- reproducibility ------------------------------------------------------------------------


def test_same_seed_gives_identical_summary_and_other_seed_differs():
    cfg = two_asset_config()
    a = stress.run(cfg, paths=1024).to_dict()
    b = stress.run(cfg, paths=1024).to_dict()
    c = stress.run(cfg, paths=1024, seed=6).to_dict()
    for d in (a, b, c):
        d.pop("run_info")
    assert a == b
    assert a != c


def test_chunk_size_does_not_change_results():
    cfg = two_asset_config()
    runs = [stress.run(cfg, paths=1300, chunk_paths=n) for n in (256, 512, 1536)]
    for r in runs[1:]:
        np.testing.assert_array_equal(r.results.final_equity, runs[0].results.final_equity)
        np.testing.assert_array_equal(r.results.first_liq_step, runs[0].results.first_liq_step)
        np.testing.assert_array_equal(r.results.pos_liquidated, runs[0].results.pos_liquidated)


def test_hybrid_isolated_blowup_leaves_cross_bucket_alone():
    # ETH (isolated, 2,500 margin) crashes through its liquidation price; BTC (cross) stays flat.
    cfg = two_asset_config(modes=["as_configured", "cross"])
    cfg["exchange"]["funding"] = {"rate": 0.0, "interval_hours": 8.0}
    prices = _linear_path([60_000.0, 3_000.0], 1, 2_000.0, 50)
    layout, res = engine_on(cfg, prices)
    hybrid, cross = 0, 1
    eth_pos = next(
        layout.book_first_position[hybrid] + j
        for j, p in enumerate(layout.books[hybrid].positions)
        if p.id == "eth"
    )
    btc_pos = next(
        layout.book_first_position[hybrid] + j
        for j, p in enumerate(layout.books[hybrid].positions)
        if p.id == "btc"
    )
    assert res.pos_liquidated[0, eth_pos] and not res.pos_liquidated[0, btc_pos]
    # the trader loses at most the isolated margin in the hybrid, everything in cross
    assert res.loss(layout)[0, hybrid] <= 2_500.0 + 1e-9
    assert res.first_liq_step[0, cross] >= 0
    assert res.loss(layout)[0, cross] > 2_500.0


def test_equity_trace_agrees_with_the_run_and_freezes_after_liquidation():
    cfg = two_asset_config(modes=["isolated", "cross", "as_configured"])
    res = stress.run(cfg, paths=300)
    equity = res.sample_equity()
    n = res.sample_prices.shape[0]
    assert n == 300 and equity.shape == (300, 3, res.grid.n_steps + 1)
    np.testing.assert_allclose(equity[:, :, -1], res.results.final_equity[:n], rtol=1e-12)
    np.testing.assert_allclose(
        equity[:, :, 0], res.layout.book_initial_equity[None, :].repeat(n, 0)
    )
    cross = [b.mode for b in res.layout.books].index("cross")
    for i in np.flatnonzero(res.results.first_liq_step[:n, cross] >= 0)[:20]:
        t = res.results.first_liq_step[i, cross]
        assert np.all(equity[i, cross, t:] == equity[i, cross, -1])


def test_cross_liquidation_is_attributed_to_the_leg_that_moved():
    cfg = two_asset_config(modes=["cross"])
    cfg["exchange"]["funding"] = {"rate": 0.0, "interval_hours": 8.0}
    crash_eth = _linear_path([60_000.0, 3_000.0], 1, 1_500.0, 50)
    pump_btc = _linear_path([60_000.0, 3_000.0], 0, 90_000.0, 50)
    layout, res = engine_on(cfg, np.concatenate([crash_eth, pump_btc]))
    ids = [p.id for p in layout.books[0].positions]
    assert res.first_liq_step[:, 0].min() >= 0
    assert [ids[j] for j in np.argmax(res.pos_triggered, axis=1)] == ["eth", "btc"]
    assert res.pos_triggered.sum(axis=1).tolist() == [1, 1]


# --- the fast path, the step-by-step path and the numpy engine agree bit for bit ----------


def _three_engines(cfg, prices):
    from stress.margin.engine import mark_chunk
    from stress.margin.numpy_engine import mark_buckets_numpy
    from stress.pipeline.prepare import prepare

    plan = prepare(stress.load_config(cfg))

    layout, rules = plan.layout, plan.rules
    fast = mark_chunk(layout, rules, prices, skip=True)
    plain = mark_chunk(layout, rules, prices, skip=False)
    ref = mark_buckets_numpy(layout, rules, prices)
    return fast, plain, ref


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(position, min_size=1, max_size=4), st.floats(1.05, 2.5), st.floats(-0.003, 0.003))
def test_fast_plain_and_numpy_engines_agree_exactly(positions, wallet_factor, rate):
    wallet = wallet_factor * sum(p["notional"] / p["leverage"] for p in positions)
    cfg = _portfolio(positions, wallet)
    cfg["exchange"]["funding"] = {"rate": rate, "interval_hours": 1.0}
    fast, plain, ref = _three_engines(cfg, PAIR_PATHS[:64])
    for a, b, c in zip(fast, plain, ref, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_engines_agree_on_many_liquidations_near_tier_caps():
    # 40x positions around tier caps: many liquidations, tiers crossing along the way
    positions = [
        {"asset": "BTC", "side": s, "notional": n, "leverage": 40.0, "margin_mode": m}
        for s, n, m in [
            ("long", 49_000.0, "isolated"),
            ("short", 250_500.0, "cross"),
            ("long", 120_000.0, "cross"),
        ]
    ] + [{"asset": "ETH", "side": "short", "notional": 30_000.0, "leverage": 40.0}]
    cfg = _portfolio(positions, 12_000.0)
    fast, plain, ref = _three_engines(cfg, PAIR_PATHS)
    assert 0.2 < (fast[0] >= 0).mean() < 1.0
    for a, b, c in zip(fast, plain, ref, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_thread_count_does_not_change_results():
    import numba

    cfg = two_asset_config()
    default = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = stress.run(cfg, paths=700)
    finally:
        numba.set_num_threads(default)
    many = stress.run(cfg, paths=700)
    assert default >= 1
    for name in (
        "final_equity",
        "first_liq_step",
        "bad_debt",
        "fees_paid",
        "pos_liquidated",
        "pos_triggered",
    ):
        np.testing.assert_array_equal(getattr(one.results, name), getattr(many.results, name))


def test_prices_must_match_the_funding_schedule():
    from stress.margin.engine import mark_chunk
    from stress.pipeline.prepare import prepare

    plan = prepare(stress.load_config(two_asset_config()))

    layout, rules, grid = plan.layout, plan.rules, plan.grid
    with pytest.raises(ValueError, match="funding schedule"):
        mark_chunk(layout, rules, PAIR_PATHS[:2, : grid.n_steps])
