"""Tier tables of every shape the config accepts: the fast engine stays exact.

The engine skips stretches of steps where a bucket provably cannot be liquidated. The proof
needs the margin surplus's lowest value over a price box; where maintenance jumps at a tier cap
(amounts given by hand, OKX-style tables without a deduction) that lowest value can sit at a cap
inside the box, and the skip must look there too.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.factories import two_asset_config
from support.strategies import books

import stress
from stress.margin.engine import mark_chunk
from stress.margin.layout import is_convex
from stress.margin.numpy_engine import mark_buckets_numpy
from stress.pipeline.prepare import prepare
from stress.venues.tiers import TierTable

PAIR_PATHS = stress.generate_paths(two_asset_config(), paths=96, seed=23)


def _engines(cfg: dict, prices: np.ndarray):
    plan = prepare(stress.load_config(cfg))
    layout, rules = plan.layout, plan.rules
    fast = mark_chunk(layout, rules, prices, skip=True)
    plain = mark_chunk(layout, rules, prices, skip=False)
    ref = mark_buckets_numpy(layout, rules, prices)
    return fast, plain, ref


def _assert_identical(fast, plain, ref) -> None:
    for name in fast._fields:
        np.testing.assert_array_equal(getattr(fast, name), getattr(plain, name), err_msg=name)
        np.testing.assert_array_equal(getattr(fast, name), getattr(ref, name), err_msg=name)


def okx_style_config() -> dict:
    """The issue's example: a 100x isolated BTC long just below a cap where maintenance jumps."""
    return {
        "name": "okx-jump",
        "seed": 1,
        "simulation": {"paths": 2000, "horizon_days": 1.0, "steps_per_day": 288},
        "model": {"type": "gbm", "assets": {"BTC": {"price": 60_000.0, "vol": 0.8}}},
        "exchange": {
            "markets": {
                "BTC": {
                    "tiers": [
                        {
                            "max_notional": 61_000.0,
                            "max_leverage": 125.0,
                            "mmr": 0.004,
                            "maintenance_amount": 0.0,
                        },
                        {
                            "max_notional": 1_000_000.0,
                            "max_leverage": 20.0,
                            "mmr": 0.04,
                            "maintenance_amount": 0.0,
                        },
                    ]
                }
            }
        },
        "account": {"wallet": 10_000.0},
        "positions": [
            {
                "asset": "BTC",
                "side": "long",
                "notional": 60_000.0,
                "leverage": 100.0,
                "margin_mode": "isolated",
            }
        ],
        "modes": ["isolated"],
    }


def test_a_jump_at_a_cap_liquidates_in_the_default_run():
    # Margin 600. Above 61,000 the notional is in tier 2 and maintenance jumps from 0.4 % to 4 %:
    # at 61,152.9 the equity is 600 + 1,152.9 = 1,752.9 and maintenance 0.04 * 61,152.9 =
    # 2,446.1, so the long is liquidated going up (anywhere in (61,000, 61,875]) as well as going
    # down (below 59,400 / 0.996 = 59,638.55). Every path of a day at vol 0.8 does one or the
    # other.
    cfg = okx_style_config()
    prices = stress.generate_paths(cfg)
    fast, plain, ref = _engines(cfg, prices)
    _assert_identical(fast, plain, ref)
    assert np.all(fast.liq_step >= 0)
    res = stress.run(cfg)
    assert res.metrics[0]["p_liquidation"] == 1.0
    # the path of the issue: up through the cap at step 4 is liquidated there
    path = np.full((1, prices.shape[1], 1), 60_000.0)
    path[0, 1:5, 0] = [60_100.0, 60_500.0, 60_900.0, 61_152.9]
    path[0, 5:, 0] = 61_152.9
    plan = prepare(stress.load_config(cfg))
    layout, rules = plan.layout, plan.rules
    assert mark_chunk(layout, rules, path).liq_step[0, 0] == 4


def test_convexity_flag():
    continuous = TierTable.build([50_000, 250_000, np.inf], [0.004, 0.005, 0.01], [125, 100, 50])
    assert is_convex(continuous)
    assert is_convex(TierTable.flat(0.005, 100))
    # Binance publishes rounded amounts: a rounding error at a cap is still continuous
    nudged = TierTable.build([50_000, np.inf], [0.004, 0.005], [125, 100], [0.0, 50.0 + 1e-9])
    assert is_convex(nudged)
    jump_up = TierTable.build([61_000, 1e6], [0.004, 0.04], [125, 20], [0.0, 0.0])
    jump_down = TierTable.build([100, np.inf], [0.05, 0.06], [20, 10], [0.0, 3.0])
    assert not is_convex(jump_up)
    assert not is_convex(jump_down)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books(), st.integers(0, 2**32 - 1), st.floats(-0.002, 0.002), st.floats(0.3, 1.5))
def test_skip_equals_step_by_step_for_random_tier_tables(cfg, seed, rate, vol):
    # Random books on random tables (1-6 tiers, caps near the notionals, continuous or jumping
    # at every cap; see tests/support/strategies.py), every mode, on a day of 5-minute marks drawn
    # afresh for each example: 289 steps are 10 blocks in 2 groups, so every level of the skip
    # is used, and funding boundaries fall inside skipped stretches.
    cfg["simulation"] = {"paths": 16, "horizon_days": 1.0, "steps_per_day": 288}
    cfg["exchange"]["funding"] = {"rate": rate, "interval_hours": 4.0}
    for asset in cfg["model"]["assets"].values():
        asset["vol"] = vol
    prices = stress.generate_paths(cfg, seed=seed)
    _assert_identical(*_engines(cfg, prices))


def test_jump_down_at_a_cap_is_also_handled():
    # A BTC short of 50,000 notional (q = 5/6) at 60,000 with 2,400 isolated margin. Tier 1 (3 %)
    # up to 51,000 notional (price 61,200); tier 2 (3.5 %, amount 1,500) drops the maintenance at
    # the cap from 1,530 to 285. Surplus 2,400 - q (P - 60,000) - maintenance:
    #   tier 1: <= 0 from P = 52,400 / (1.03 q) = 61,048.5 up to the cap 61,200 (-130 there);
    #   tier 2: +1,115 just above the cap, safe up to P = 53,900 / (1.035 q) = 62,492.8.
    # A path through 61,100 to 61,300 is liquidated at 61,100; both ends of its price range are
    # safe, so only the cap itself shows that the stretch cannot be skipped.
    cfg = two_asset_config(
        positions=[
            {
                "asset": "BTC",
                "side": "short",
                "notional": 50_000.0,
                "leverage": 25.0,
                "margin_mode": "isolated",
                "margin": 2_400.0,
            }
        ],
        account={"wallet": 3_500.0},
        modes=["isolated"],
    )
    cfg["exchange"]["markets"] = {
        "BTC": {
            "tiers": [
                {"max_notional": 51_000.0, "max_leverage": 30.0, "mmr": 0.03},
                {
                    "max_notional": 1e9,
                    "max_leverage": 20.0,
                    "mmr": 0.035,
                    "maintenance_amount": 1_500.0,
                },
            ]
        }
    }
    prices = np.empty((1, PAIR_PATHS.shape[1], 2))
    prices[..., 1] = 3_000.0
    prices[0, :, 0] = 61_300.0
    prices[0, :3, 0] = [60_000.0, 60_600.0, 61_100.0]
    fast, plain, ref = _engines(cfg, prices)
    _assert_identical(fast, plain, ref)
    assert fast.liq_step[0, 0] == 2
