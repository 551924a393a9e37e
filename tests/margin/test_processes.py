"""The liquidation processes (stress.margin.processes): hand-computed examples on a few marks,
the compiled kernels against the numpy engine on random books, and the run's partial-close
outputs.

Every hand example marks one isolated position (one bucket) on a path of hourly marks of an
asset X at 100, and checks the compiled kernel (skipping and step by step) and the numpy engine
agree bit for bit before reading the numbers.
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.factories import two_asset_config
from support.strategies import books

import stress
from stress.margin.engine import (
    book_equity_paths,
    evaluate_prices,
    mark_chunk,
    mark_chunk_partial,
)
from stress.margin.funding import market_rules
from stress.margin.numpy_engine import mark_buckets_numpy, mark_process_numpy
from stress.margin.processes import cooldown_steps
from stress.paths import TimeGrid
from stress.pipeline.prepare import prepare

simulate_module = importlib.import_module("stress.pipeline.simulate")

SIGMA_VOL = 0.05 * 365**0.5
"""An annual vol whose daily vol is 0.05 (up to rounding): impact numbers come out round."""


def config(position: dict, *, wallet: float, fee: float = 0.0, liquidation=None, **exchange):
    """One isolated position on X (mark 100, hourly steps); `exchange` fields override."""
    ex = {
        "liquidation_fee": fee,
        "funding": {"rate": 0.0, "interval_hours": 8.0},
        "default_market": {"mmr": 0.05, "max_leverage": 10.0},
        "liquidation": liquidation or {},
    }
    ex.update(exchange)
    return {
        "name": "proc",
        "seed": 1,
        "simulation": {"paths": 256, "horizon_days": 1.0, "steps_per_day": 24},
        "model": {"type": "gbm", "assets": {"X": {"price": 100.0, "vol": SIGMA_VOL}}},
        "exchange": ex,
        "account": {"wallet": wallet},
        "positions": [{"id": "x", "asset": "X", "margin_mode": "isolated", **position}],
        "modes": ["isolated"],
    }


def marked(cfg: dict, prices: np.ndarray):
    """(BucketResults, PartialResults) of the config on `prices` (n_paths, n_times, n_assets),
    after checking the compiled kernel, skipping or not, and the numpy engine agree exactly."""
    plan = prepare(stress.load_config(cfg))
    grid = TimeGrid(n_steps=prices.shape[1] - 1, dt=plan.grid.dt)
    rules = market_rules(plan.config, grid, plan.spec)
    fast = mark_chunk_partial(plan.layout, rules, prices)
    plain = mark_chunk_partial(plan.layout, rules, prices, skip=False)
    ref = mark_process_numpy(plan.layout, rules, prices)
    for part_f, part_p, part_r in zip(fast, plain, ref, strict=True):
        for name, f, p, r in zip(part_f._fields, part_f, part_p, part_r, strict=True):
            np.testing.assert_array_equal(f, p, err_msg=name)
            np.testing.assert_array_equal(f, r, err_msg=name)
    return fast


def one_path(cfg: dict, marks: list[float]):
    """(liquidation step, value, bad debt, fee paid, partial closes, notional cut) of the bucket."""
    out, part = marked(cfg, np.asarray(marks, dtype=float)[None, :, None])
    return (
        int(out.liq_step[0, 0]),
        float(out.value[0, 0]),
        float(out.bad_debt[0, 0]),
        float(out.fees_paid[0, 0]),
        int(part.count[0, 0]),
        float(part.notional[0, 0]),
    )


# --- full close and fillable price -------------------------------------------------------------
# A long of 10,000 at 100 (q = 100), 10x: margin 1,000; maintenance 5 % of the notional, fee 1 %.
# At 95: equity 1,000 - 500 = 500 > 475. At 94: equity 400 <= 470, a breach at step 2, notional
# 9,400, fee 94. The book (depth 37,600 = 4 x 9,400, spread 10 bp, k = 1, daily vol 0.05) fills
# the close at impact 0.0005 + 0.05 sqrt(1/4) = 0.0255 below the mark: 239.7 of slippage.
LONG = {"side": "long", "notional": 10_000.0, "leverage": 10.0}
BOOK = {"depth_usd": 37_600.0, "spread_bps": 10.0, "impact_k": 1.0}
FALL = [100.0, 95.0, 94.0]


def test_full_close_at_the_mark_keeps_equity_less_the_fee():
    assert one_path(config(LONG, wallet=1_000.0, fee=0.01), FALL) == pytest.approx(
        (2, 306.0, 0.0, 94.0, 0, 0.0), rel=1e-12
    )


def _with_book(cfg: dict, book: dict) -> dict:
    cfg["exchange"]["default_market"] = {"mmr": 0.05, "max_leverage": 10.0, "liquidity": book}
    return cfg


def test_slippage_comes_out_of_what_the_trader_keeps():
    # equity after slippage 400 - 239.7 = 160.3; the fee 94 is paid; the trader keeps 66.3
    cfg = _with_book(config(LONG, wallet=1_000.0, fee=0.01), BOOK)
    assert one_path(cfg, FALL) == pytest.approx((2, 66.3, 0.0, 94.0, 0, 0.0), rel=1e-12)


def test_residual_to_the_venue_leaves_the_trader_nothing():
    cfg = _with_book(
        config(LONG, wallet=1_000.0, fee=0.01, liquidation={"residual": "venue"}), BOOK
    )
    assert one_path(cfg, FALL) == pytest.approx((2, 0.0, 0.0, 94.0, 0, 0.0), rel=1e-12)


def test_a_thin_book_turns_the_close_into_bad_debt():
    # depth 2,350 = 9,400 / 4: impact 0.0005 + 0.05 x 2 = 0.1005, slippage 944.7; equity
    # 400 - 944.7 = -544.7: bad debt 544.7, no fee, nothing kept
    cfg = _with_book(config(LONG, wallet=1_000.0, fee=0.01), dict(BOOK, depth_usd=2_350.0))
    assert one_path(cfg, FALL) == pytest.approx((2, 0.0, 544.7, 0.0, 0, 0.0), rel=1e-12)


def test_a_short_fills_above_the_mark():
    # A short of 10,000: at 104 equity 600 > 520; at 106 equity 400 <= 530, notional 10,600.
    # Depth 42,400 = 4 x 10,600: impact 0.0255 above the mark, slippage 270.3; fee 106;
    # kept 400 - 270.3 - 106 = 23.7
    short = dict(LONG, side="short")
    cfg = _with_book(config(short, wallet=1_000.0, fee=0.01), dict(BOOK, depth_usd=42_400.0))
    assert one_path(cfg, [100.0, 104.0, 106.0]) == pytest.approx(
        (2, 23.7, 0.0, 106.0, 0, 0.0), rel=1e-12
    )


@pytest.mark.parametrize(("multiple", "kept"), [(0.5, 71.0), (1.5, 66.3)])
def test_fillable_price_caps_the_slippage_at_maintenance_margins(multiple, kept):
    # The fill may be at most `multiple` maintenance margins (470) from the mark: 0.5 x 470 =
    # 235 < 239.7 caps the slippage (kept 400 - 235 - 94 = 71); 1.5 x 470 does not (66.3)
    liq = {"process": "fillable_price", "fill_maintenance_multiple": multiple}
    cfg = _with_book(config(LONG, wallet=1_000.0, fee=0.01, liquidation=liq), BOOK)
    assert one_path(cfg, FALL) == pytest.approx((2, kept, 0.0, 94.0, 0, 0.0), rel=1e-12)


def test_fillable_price_fee_is_capped_by_the_leftover():
    # fee 5 % of 9,400 = 470 > the 400 - 235 = 165 left: the fee takes 165, the trader nothing
    liq = {"process": "fillable_price", "fill_maintenance_multiple": 0.5}
    cfg = _with_book(config(LONG, wallet=1_000.0, fee=0.05, liquidation=liq), BOOK)
    assert one_path(cfg, FALL) == pytest.approx((2, 0.0, 0.0, 165.0, 0, 0.0), rel=1e-12)


# --- tier step-down -----------------------------------------------------------------------------
# Tiers of X: 1 % up to 50,000, 2 % up to 100,000 (amount 500), 4 % up to 200,000 (amount 2,500;
# amounts by continuity). A long of 150,000 (q = 1,500) at 10x: margin 15,000.
#   at 95: equity 7,500, maintenance 0.04 x 142,500 - 2,500 = 3,200: safe;
#   at 92: equity 3,000 <= 0.04 x 138,000 - 2,500 = 3,020: breach in tier 3. The position is cut
#          to the cap of tier 2, q' = 100,000 / 92: 38,000 of notional closed at the mark; its
#          PnL (-8 per unit) goes into the collateral, so the equity stays 3,000, and the
#          maintenance falls to 0.02 x 100,000 - 500 = 1,500;
#   at 92: safe; at 90: equity 3,000 - 2 q' = 826.09 <= 0.02 x 90 q' - 500 = 1,456.52: breach in
#          tier 2: cut to 50,000 (90 q' - 50,000 = 47,826.09 closed), maintenance 500;
#   at 89: equity 826.09 - 50,000 / 90 = 270.53 <= 0.01 x 49,444 = 494.44: breach in tier 1, the
#          lowest: the rest is closed whole and the trader keeps 270.53 (no fee).
STEP_TIERS = [
    {"max_notional": 50_000.0, "max_leverage": 50.0, "mmr": 0.01},
    {"max_notional": 100_000.0, "max_leverage": 25.0, "mmr": 0.02},
    {"max_notional": 200_000.0, "max_leverage": 12.5, "mmr": 0.04},
]
BIG_LONG = {"side": "long", "notional": 150_000.0, "leverage": 10.0}
STEPS = [100.0, 95.0, 92.0, 92.0, 90.0, 89.0]


def step_config(fee: float = 0.0, **liquidation) -> dict:
    liq = {"process": "tier_step_down", **liquidation}
    return config(
        BIG_LONG, wallet=15_000.0, fee=fee, liquidation=liq, markets={"X": {"tiers": STEP_TIERS}}
    )


def test_tier_step_down_cuts_to_the_next_lower_tier_until_the_lowest():
    q1 = 100_000.0 / 92.0
    kept = 3_000.0 - 2.0 * q1 - 50_000.0 / 90.0
    cut = 38_000.0 + (90.0 * q1 - 50_000.0)
    assert one_path(step_config(), STEPS) == pytest.approx((2, kept, 0.0, 0.0, 2, cut), rel=1e-9)


def test_tier_step_down_closes_whole_in_the_lowest_tiers():
    # full_close_tiers 2: the breach at 90, in tier 2, is a full close; the trader keeps 826.09
    q1 = 100_000.0 / 92.0
    got = one_path(step_config(full_close_tiers=2), STEPS)
    assert got == pytest.approx((2, 3_000.0 - 2.0 * q1, 0.0, 0.0, 1, 38_000.0), rel=1e-9)


def test_tier_step_down_residual_to_the_venue_and_fees_on_the_closed_part():
    # fee 0.1 %: 38 on the first cut, then 0.001 x 47,826.09 on the second, and 0.1 % of the
    # 49,444 closed at the end, out of 270.53 - 38 - 47.83; the residual goes to the venue
    q1 = 100_000.0 / 92.0
    fee1, fee2 = 38.0, 0.001 * (90.0 * q1 - 50_000.0)
    fee3 = 0.001 * 89.0 * 50_000.0 / 90.0
    got = one_path(step_config(fee=0.001, residual="venue"), STEPS)
    assert got[:2] == (2, 0.0)
    assert got[3] == pytest.approx(fee1 + fee2 + fee3, rel=1e-9)
    assert got[4] == 2


def test_tier_step_down_closes_a_bankrupt_bucket_whole():
    # a gap to 80: equity 15,000 - 30,000 = -15,000 < 0: the venue takes it all, bad debt 15,000
    assert one_path(step_config(), [100.0, 80.0]) == pytest.approx(
        (1, 0.0, 15_000.0, 0.0, 0, 0.0), rel=1e-12
    )


# --- slices and backstop ------------------------------------------------------------------------
# A long of 200,000 (q = 2,000) at 20x, margin 10,000, maintenance 2 %; slices of 20 % above
# 100,000, one step (an hour > 30 s) apart, backstop at 2/3 of the maintenance.
#   at 96.5: equity 3,000 <= 0.02 x 193,000 = 3,860 (backstop 2,573): slice, q 2,000 -> 1,600
#            (38,600 closed), equity 3,000, maintenance 3,088;
#   at 96.5: equity 3,000 <= 3,088 (backstop 2,059): slice, q -> 1,280 (30,880 closed);
#   at 96:   equity 3,000 - 0.5 x 1,280 = 2,360 <= 2,457.6 (backstop 1,638): q -> 1,024 (24,576);
#   at 94:   equity 2,360 - 2 x 1,024 = 312 < 2/3 x 0.02 x 1,024 x 94 = 1,283: the backstop takes
#            the bucket, the trader keeps nothing (equity >= 0: no bad debt).
SLICE_LONG = {"side": "long", "notional": 200_000.0, "leverage": 20.0}
SLICES = [100.0, 96.5, 96.5, 96.0, 94.0]


def slice_config(fee: float = 0.0, **liquidation) -> dict:
    liq = {"process": "slices", **liquidation}
    return config(
        SLICE_LONG,
        wallet=10_000.0,
        fee=fee,
        liquidation=liq,
        default_market={"mmr": 0.02, "max_leverage": 25.0},
    )


def test_slices_then_the_backstop():
    got = one_path(slice_config(), SLICES)
    assert got == pytest.approx((1, 0.0, 0.0, 0.0, 3, 38_600.0 + 30_880.0 + 24_576.0), rel=1e-12)


def test_a_slice_that_would_leave_nothing_is_a_full_close_to_the_trader():
    # backstop 0.1: at 94 equity 312 > 0.1 x 1,925: a slice, but 96,256 <= 100,000: closed whole
    got = one_path(slice_config(backstop=0.1), SLICES)
    assert got == pytest.approx((1, 312.0, 0.0, 0.0, 3, 94_056.0), rel=1e-12)
    # above 250,000 only: the first breach closes the 193,000 whole, the trader keeps 3,000
    got = one_path(slice_config(slice_above_usd=250_000.0), SLICES)
    assert got == pytest.approx((1, 3_000.0, 0.0, 0.0, 0, 0.0), rel=1e-12)


def test_slices_wait_for_the_cooldown():
    # 2 h cooldown: the breach at step 2 waits; at 96 (step 3) equity 3,000 - 0.5 x 1,600 = 2,200
    # <= 3,072 (backstop 2,048): slice to 1,280 (30,720 closed); at 94 equity 2,200 - 2,560 =
    # -360: the backstop takes it, bad debt 360
    got = one_path(slice_config(cooldown_seconds=7_200.0), SLICES)
    assert got == pytest.approx((1, 0.0, 360.0, 0.0, 2, 38_600.0 + 30_720.0), rel=1e-12)


def test_slice_fee_is_charged_on_the_closed_notional():
    got = one_path(slice_config(fee=0.001), SLICES)
    assert got[3] == pytest.approx(0.001 * (38_600.0 + 30_880.0 + 24_576.0), rel=1e-12)


def test_cooldown_is_whole_steps_and_at_least_one():
    assert cooldown_steps(30.0, 1.0) == 1
    assert cooldown_steps(0.0, 1.0) == 1
    assert cooldown_steps(7_200.0, 1.0) == 2
    assert cooldown_steps(7_201.0, 1.0) == 3
    assert cooldown_steps(300.0, 1.0 / 12.0) == 1


# --- the plain close is untouched ---------------------------------------------------------------

PAIR_PATHS = stress.generate_paths(two_asset_config(), paths=256, seed=11)


def test_process_kernel_with_the_default_rules_is_the_plain_kernel():
    plan = prepare(stress.load_config(two_asset_config()))
    assert plan.rules.plain
    plain = mark_chunk(plan.layout, plan.rules, PAIR_PATHS)
    out, part = mark_chunk_partial(plan.layout, plan.rules, PAIR_PATHS)
    for a, b in zip(plain, out, strict=True):
        np.testing.assert_array_equal(a, b)
    assert part.count.sum() == 0
    np.testing.assert_array_equal(part.pos_closed, (plain.liq_step >= 0)[:, plan.layout.pos_bucket])


def test_full_close_keeps_todays_path_and_summary():
    cfg = two_asset_config()
    explicit = copy.deepcopy(cfg)
    explicit["exchange"]["liquidation"] = {"process": "full_close", "residual": "trader"}
    rules = prepare(stress.load_config(explicit)).rules
    assert rules.plain
    # the other processes' settings play no part in a full close
    assert replace(rules, process=rules.process._replace(cooldown_steps=30, backstop=0.1)).plain
    assert not replace(rules, process=rules.process._replace(residual_to_trader=False)).plain
    a, b = stress.run(cfg, paths=512), stress.run(explicit, paths=512)
    assert a.results.partial_closes is None and b.results.partial_closes is None
    assert a.metrics == b.metrics
    assert "partial_closes" not in a.per_path().columns


# --- the engines agree on random books ----------------------------------------------------------

process = st.sampled_from(
    [
        {"process": "full_close", "residual": "venue"},
        {"process": "tier_step_down"},
        {"process": "tier_step_down", "full_close_tiers": 2, "residual": "venue"},
        {"process": "slices", "slice_above_usd": 5_000.0},
        {"process": "slices", "slice_above_usd": 20_000.0, "cooldown_seconds": 7_200.0},
        {"process": "slices", "slice_above_usd": 2_000.0, "slice_fraction": 1.0},
        {"process": "fillable_price", "fill_maintenance_multiple": 0.5},
    ]
)
book_sizes = st.none() | st.fixed_dictionaries(
    {"depth_usd": st.floats(1e3, 1e7), "spread_bps": st.floats(0.0, 50.0)}
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books(), process, book_sizes, st.integers(0, 2**32 - 1), st.floats(-0.002, 0.002))
def test_kernels_and_numpy_engine_agree_on_every_process(cfg, liquidation, book, seed, rate):
    # random books on random tier tables, every mode, a day of 5-minute marks at a high vol:
    # many breaches, partial closes, slippage, funding inside skipped stretches
    cfg["simulation"] = {"paths": 16, "horizon_days": 1.0, "steps_per_day": 288}
    cfg["exchange"]["funding"] = {"rate": rate, "interval_hours": 4.0}
    cfg["exchange"]["liquidation"] = liquidation
    if book is not None:
        cfg["exchange"]["default_market"] = {"liquidity": book}
        for market in cfg["exchange"]["markets"].values():
            market["liquidity"] = dict(book, impact_k=2.0)
    for asset in cfg["model"]["assets"].values():
        asset["vol"] = 1.2
    prices = stress.generate_paths(cfg, seed=seed)
    out, part = marked(cfg, prices)
    assert np.all(out.value >= 0.0)
    assert np.all(part.count[out.liq_step < 0] == 0)
    assert np.all((part.count > 0) <= (out.liq_step >= 0))


def test_numpy_engine_dispatches_on_the_rules():
    cfg = two_asset_config()
    cfg["exchange"]["liquidation"] = {"process": "slices", "slice_above_usd": 10_000.0}
    plan = prepare(stress.load_config(cfg))
    a = mark_buckets_numpy(plan.layout, plan.rules, PAIR_PATHS[:32])
    b = mark_chunk(plan.layout, plan.rules, PAIR_PATHS[:32])
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


# --- the run's outputs --------------------------------------------------------------------------


def slice_run_config() -> dict:
    cfg = two_asset_config()
    cfg["positions"][0].update(notional=240_000.0, leverage=40.0)
    cfg["account"] = {"wallet": 20_000.0}
    cfg["exchange"]["liquidation"] = {"process": "slices", "slice_above_usd": 50_000.0}
    cfg["exchange"]["liquidation_fee"] = 0.0
    return cfg


def test_run_records_partial_closes_per_book_and_path():
    res = stress.run(slice_run_config(), paths=512)
    r = res.results
    assert r.partial_closes is not None and r.partial_closes.shape == (512, res.layout.n_books)
    assert r.partial_closes.max() > 0
    assert np.all((r.partial_closes > 0) <= (r.first_liq_step >= 0))
    assert np.all((r.partial_notional > 0) == (r.partial_closes > 0))
    for k, m in enumerate(res.metrics):
        assert m["p_partial_close"] == np.mean(r.partial_closes[:, k] > 0)
        assert m["partial_closes_mean"] == pytest.approx(r.partial_closes[:, k].mean(), rel=1e-12)
        assert m["partial_notional_mean"] == pytest.approx(r.partial_notional[:, k].mean())
    df = res.per_path()
    assert df["partial_closes"].dtype == np.int32 and df["partial_notional"].dtype == np.float64
    base = df[df["scenario"] == "base"]
    for k, book in enumerate(res.layout.books):
        rows = base[(base["mode"] == book.mode)]
        np.testing.assert_array_equal(rows["partial_closes"], r.partial_closes[:, k])


def test_streamed_partial_metrics_match_exact_ones(monkeypatch):
    cfg = slice_run_config()
    exact = stress.run(cfg, paths=1_024, chunk_paths=256)
    monkeypatch.setattr(simulate_module, "KEEP_BYTES", 1)
    streamed = stress.run(cfg, paths=1_024, chunk_paths=256)
    assert streamed.kept_paths < 1_024
    for e, s in zip(exact.metrics, streamed.metrics, strict=True):
        assert s["p_partial_close"] == e["p_partial_close"]
        for key in ("partial_closes_mean", "partial_notional_mean"):
            assert s[key] == pytest.approx(e[key], rel=1e-9)


def test_equity_trace_ends_at_the_final_equity_under_a_process():
    cfg = slice_run_config()
    plan = prepare(stress.load_config(cfg))
    rules = plan.rules
    res = evaluate_prices(plan.layout, rules, PAIR_PATHS[:64])
    equity = book_equity_paths(plan.layout, rules, PAIR_PATHS[:64])
    np.testing.assert_allclose(equity[:, :, -1], res.final_equity, rtol=1e-12, atol=1e-9)
