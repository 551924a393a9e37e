"""The closed-form liquidation price (stress.margin.liquidation_bounds).

Reference numbers:

* Binance's FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"
  (https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93) states the formula
  and the tier rule; its worked cross-margin example (one-way mode) is: wallet 1,535,443.01
  USDT, BTCUSDT long 109.488 @ 32,481.98 (mark 31,967.27, 2.5 %, cum 16,300, TMM 71,200.81144,
  UPNL -56,354.57) and ETHUSDT long 3,683.979 @ 1,456.84 (mark 1,335.18, 10 %, cum 135,365,
  TMM 356,512.508, UPNL -448,192.89); liquidation prices 26,316.89 (BTC) and 1,153.26 (ETH).
  The figures are taken as reproduced in freqtrade's test suite
  (tests/exchange/test_binance.py::test_liquidation_price_binance, "From calc example") and in
  an independent JS client's self-check; only excerpts of the Binance page itself were
  readable here. freqtrade also runs the same two positions through the formula as isolated
  (TMM = UPNL = 0, WB unchanged): 1,114.78 and 18,778.73; those are freqtrade's numbers, not
  Binance's. Binance publishes prices rounded to the cent, so all of these are compared to
  within half a cent.
* Everything else is derived by hand below, with the arithmetic written out, and checked to
  1e-6 relative.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support.binance_tiers import BTC, BTC_NOW_HEAD, ETH, FLAT, REL, derived

from stress.margin.liquidation_bounds import liquidation_price
from stress.margin.liquidation_prices import bucket_liquidation_prices
from stress.venues.tiers import TierTable, maintenance, side_sign, tier_index

CENT = 0.005  # Binance rounds published prices to 0.01


def gap(side, qty, ep, wb, table, lp, other_mm=0.0, other_upnl=0.0) -> float:
    """Equity minus maintenance of the bucket if the position's mark were `lp`."""
    s = side_sign(side)
    equity = wb + s * abs(qty) * (lp - ep) + other_upnl
    return equity - (maintenance(table, abs(qty) * lp) + other_mm)


# --- Binance's published example ----------------------------------------------------------

WB = 1_535_443.01
BTC_POS = dict(qty=109.488, ep=32_481.98, mark=31_967.27)
ETH_POS = dict(qty=3_683.979, ep=1_456.84, mark=1_335.18)
# The example's own TMM / UPNL figures for the other contract.
BTC_MM, BTC_UPNL = 71_200.81144, -56_354.57
ETH_MM, ETH_UPNL = 356_512.508, -448_192.89


def test_binance_cross_example_btc():
    lp = liquidation_price(1, BTC_POS["qty"], BTC_POS["ep"], WB, BTC, ETH_MM, ETH_UPNL)
    assert lp == pytest.approx(26_316.89, abs=CENT)
    # The formula by hand, tier 4 (2.5 %, cum 16,300) since 109.488 * LP ~ 2.88M:
    # (WB - TMM1 + UPNL1 + cumB - Q * EP) / (Q * MMR - Q)
    q, ep = BTC_POS["qty"], BTC_POS["ep"]
    by_hand = (WB - ETH_MM + ETH_UPNL + 16_300 - q * ep) / (q * 0.025 - q)
    assert lp == pytest.approx(by_hand, rel=1e-12)
    assert tier_index(BTC, q * lp) == 3


def test_binance_cross_example_eth():
    lp = liquidation_price("long", ETH_POS["qty"], ETH_POS["ep"], WB, ETH, BTC_MM, BTC_UPNL)
    assert lp == pytest.approx(1_153.26, abs=CENT)
    q, ep = ETH_POS["qty"], ETH_POS["ep"]
    by_hand = (WB - BTC_MM + BTC_UPNL + 135_365 - q * ep) / (q * 0.10 - q)
    assert lp == pytest.approx(by_hand, rel=1e-12)
    assert tier_index(ETH, q * lp) == 5


def test_binance_cross_example_through_bucket_helper():
    # TMM1 and UPNL1 recomputed from the positions at their marks rather than typed in.
    lps = bucket_liquidation_prices(
        ["long", "long"],
        [BTC_POS["qty"], ETH_POS["qty"]],
        [BTC_POS["ep"], ETH_POS["ep"]],
        [BTC_POS["mark"], ETH_POS["mark"]],
        WB,
        [BTC, ETH],
    )
    assert lps[0] == pytest.approx(26_316.89, abs=CENT)
    assert lps[1] == pytest.approx(1_153.26, abs=CENT)


@pytest.mark.parametrize(
    "pos, table, expected",
    [(ETH_POS, ETH, 1_114.78), (BTC_POS, BTC, 18_778.73)],
    ids=["eth", "btc"],
)
def test_same_positions_isolated(pos, table, expected):
    # freqtrade's isolated variant of the example: WB = 1,535,443.01, TMM1 = UPNL1 = 0.
    lp = liquidation_price(1, pos["qty"], pos["ep"], WB, table)
    assert lp == pytest.approx(expected, abs=CENT)
    assert gap(1, pos["qty"], pos["ep"], WB, table, lp) == pytest.approx(0.0, abs=1e-6)


# --- hand-derived examples ----------------------------------------------------------------


def test_isolated_long_by_hand():
    # 1 BTC long @ 60,000 at 10x: margin 6,000, flat 0.5 %.
    # LP = (6,000 - 60,000) / (0.005 - 1) = 54,000 / 0.995 = 54,271.356783919...
    lp = liquidation_price("long", 1.0, 60_000, 6_000, FLAT)
    assert lp == pytest.approx(54_000 / 0.995, rel=REL)
    assert lp == pytest.approx(54_271.356783919, rel=REL)


def test_isolated_short_by_hand():
    # 1 BTC short @ 60,000 at 20x: margin 3,000.
    # LP = (3,000 + 60,000) / (0.005 + 1) = 63,000 / 1.005 = 62,686.567164179...
    lp = liquidation_price("short", 1.0, 60_000, 3_000, FLAT)
    assert lp == pytest.approx(62_686.567164179, rel=REL)


def test_sign_of_qty_is_ignored():
    assert liquidation_price(-1, -1.0, 60_000, 3_000, FLAT) == liquidation_price(
        -1, 1.0, 60_000, 3_000, FLAT
    )


def test_cross_with_other_positions_by_hand():
    # Wallet 10,000; flat 0.5 % markets.
    # BTC long 0.5 @ 60,000, mark 58,000: UPNL = 0.5 * (58,000 - 60,000) = -1,000
    #                                     MM   = 29,000 * 0.005 = 145
    # ETH short 5 @ 3,000, mark 3,100:    UPNL = -5 * (3,100 - 3,000) = -500
    #                                     MM   = 15,500 * 0.005 = 77.5
    # LP(BTC) = (10,000 - 77.5 - 500 - 0.5 * 60,000) / (0.5 * 0.005 - 0.5)
    #         = -20,577.5 / -0.4975 = 41,361.809045226...
    # LP(ETH) = (10,000 - 145 - 1,000 + 5 * 3,000) / (5 * 0.005 + 5)
    #         = 23,855 / 5.025 = 4,747.263681592...
    btc = liquidation_price("long", 0.5, 60_000, 10_000, FLAT, 77.5, -500.0)
    eth = liquidation_price("short", 5.0, 3_000, 10_000, FLAT, 145.0, -1_000.0)
    assert btc == pytest.approx(41_361.809045226, rel=REL)
    assert eth == pytest.approx(4_747.263681592, rel=REL)
    lps = bucket_liquidation_prices(
        ["long", "short"], [0.5, 5.0], [60_000, 3_000], [58_000, 3_100], 10_000, [FLAT, FLAT]
    )
    assert lps == pytest.approx([btc, eth], rel=1e-12)
    # Defining property, other positions held at their marks.
    assert gap(1, 0.5, 60_000, 10_000, FLAT, btc, 77.5, -500.0) == pytest.approx(0, abs=1e-8)
    assert gap(-1, 5.0, 3_000, 10_000, FLAT, eth, 145.0, -1_000.0) == pytest.approx(0, abs=1e-8)


def test_long_liquidates_in_a_lower_tier_than_at_entry():
    # 10 BTC long @ 30,000 (notional 300,000: tier 3, 1 %, cum 1,300) at 5x: margin 60,000.
    # Tier 3: (60,000 + 1,300 - 300,000) / (10 * 0.01 - 10) = 24,111.11; 10 * LP = 241,111 is
    #         below the tier's floor of 250,000, so tier 3 is not it.
    # Tier 2: (60,000 + 50 - 300,000) / (10 * 0.005 - 10) = 239,950 / 9.95 = 24,115.577889...;
    #         10 * LP = 241,155.78 lies in (50,000, 250,000]: this is the one.
    assert tier_index(BTC, 300_000) == 2
    lp = liquidation_price("long", 10.0, 30_000, 60_000, BTC)
    assert lp == pytest.approx(239_950 / 9.95, rel=REL)
    assert tier_index(BTC, 10 * lp) == 1
    assert gap(1, 10.0, 30_000, 60_000, BTC, lp) == pytest.approx(0.0, abs=1e-8)


def test_short_liquidates_in_a_higher_tier_than_at_entry():
    # 10 BTC short @ 24,000 (notional 240,000: tier 2, 0.5 %, cum 50) at 10x: margin 24,000.
    # Tier 2: (24,000 + 50 + 240,000) / (10 * 0.005 + 10) = 26,273.13; 262,731 > 250,000: no.
    # Tier 3: (24,000 + 1,300 + 240,000) / (10 * 0.01 + 10) = 265,300 / 10.1 = 26,267.326733;
    #         262,673 lies in (250,000, 1,000,000]: this is the one.
    lp = liquidation_price("short", 10.0, 24_000, 24_000, BTC)
    assert lp == pytest.approx(265_300 / 10.1, rel=REL)
    assert tier_index(BTC, 10 * lp) == 2
    assert gap(-1, 10.0, 24_000, 24_000, BTC, lp) == pytest.approx(0.0, abs=1e-8)


def test_root_exactly_on_a_cap_belongs_to_the_lower_tier():
    # 1 BTC long @ 55,000 with margin 5,200 on the current table:
    # tier 1: (5,200 - 55,000 + 0) / (0.004 - 1) = -49,800 / -0.996 = 50,000
    # tier 2: (5,200 - 55,000 + 50) / (0.005 - 1) = -49,750 / -0.995 = 50,000
    # Both tiers agree on the cap; either candidate may round to just outside its own bracket.
    t = derived(BTC_NOW_HEAD)
    lp = liquidation_price("long", 1.0, 55_000, 5_200, t)
    assert lp == pytest.approx(50_000, rel=1e-12)
    assert gap(1, 1.0, 55_000, 5_200, t, lp) == pytest.approx(0.0, abs=1e-8)
    # The same for a short: 1 BTC short @ 45,000 with margin 5,200:
    # tier 1: (5,200 + 45,000) / (0.004 + 1) = 50,200 / 1.004 = 50,000
    # tier 2: (5,200 + 50 + 45,000) / (0.005 + 1) = 50,250 / 1.005 = 50,000
    lp = liquidation_price("short", 1.0, 45_000, 5_200, t)
    assert lp == pytest.approx(50_000, rel=1e-12)


def test_discontinuous_user_table_liquidates_at_the_cap():
    # Amounts given by hand so that maintenance drops at the cap: tier 1 (5 %) gives 5 at a
    # notional of 100, tier 2 (6 %, amount 3) gives 6 - 3 = 3 just above it.
    t = TierTable.build([100, math.inf], [0.05, 0.06], [20, 10], amounts=[0.0, 3.0])
    # 1 long @ 110 with margin 14:
    # tier 1: (14 - 110) / (0.05 - 1) = 101.05, above the tier's cap of 100: not it;
    # tier 2: (14 - 110 + 3) / (0.06 - 1) = 98.94, below the tier's floor of 100: not it.
    # No tier holds a root; equity - maintenance jumps across 0 at the cap:
    # just above 100: 14 + (100 - 110) - 3 = +1 (safe); at 100: 14 - 10 - 5 = -1 (liquidated).
    lp = liquidation_price("long", 1.0, 110, 14, t)
    assert lp == pytest.approx(100.0, rel=1e-12)
    assert gap(1, 1.0, 110, 14, t, 100.0) < 0 < gap(1, 1.0, 110, 14, t, 100.0 + 1e-9)
    assert naive_binance(1, 1.0, 110, 14, t, 0.0, 0.0) == []


# --- no liquidation price -----------------------------------------------------------------


def test_none_cases():
    # Long at 1x: margin == notional, LP = (60,000 - 60,000) / (...) = 0: never liquidated.
    assert liquidation_price("long", 1.0, 60_000, 60_000, FLAT) is None
    assert liquidation_price("long", 1.0, 60_000, 60_000, BTC) is None
    # Long collateralised beyond its notional.
    assert liquidation_price("long", 1.0, 60_000, 80_000, BTC) is None
    # Cross long carried by another position's profit.
    assert liquidation_price("long", 1.0, 60_000, 1_000, FLAT, 10.0, 70_000.0) is None
    # Cross short whose bucket is already underwater at any price: other losses exceed all.
    # (1,000 - 0 - 5,000 + 0.01 * 60,000) / (...) < 0.
    assert liquidation_price("short", 0.01, 60_000, 1_000, FLAT, 0.0, -5_000.0) is None
    assert liquidation_price("long", 0.0, 60_000, 1_000, FLAT) is None


def test_short_always_has_a_price_when_solvent():
    # Even a short at 1x is liquidated somewhere: (60,000 + 60,000) / 1.005.
    assert liquidation_price("short", 1.0, 60_000, 60_000, FLAT) == pytest.approx(120_000 / 1.005)


def test_bad_side_is_refused():
    with pytest.raises(ValueError, match="side"):
        liquidation_price("buy", 1.0, 1.0, 1.0, FLAT)


# --- properties ---------------------------------------------------------------------------


@st.composite
def tables(draw):
    n = draw(st.integers(1, 6))
    caps = sorted(draw(st.lists(st.floats(1e3, 1e9), min_size=n, max_size=n, unique=True)))
    if draw(st.booleans()):
        caps[-1] = math.inf
    steps = draw(st.lists(st.floats(0.0, 0.08), min_size=n, max_size=n))
    mmrs = list(np.cumsum(steps) + draw(st.floats(0.001, 0.02)))
    return TierTable.build(caps, mmrs, [1.0] * n)


def naive_binance(side, qty, ep, wb, table, other_mm, other_upnl):
    """Binance's recipe literally: every tier's candidate, keep the one inside its bracket."""
    s, q = side_sign(side), abs(qty)
    hits = []
    for i in range(table.n_tiers):
        lp = (wb - other_mm + other_upnl + table.amount[i] - s * q * ep) / (
            q * table.mmr[i] - s * q
        )
        upper = table.cap[i] if i < table.n_tiers - 1 else math.inf
        if table.floor[i] < q * lp <= upper and lp > 0:
            hits.append(lp)
    return hits


def exact_gap(side, qty, ep, wb, table, price, other_mm, other_upnl) -> Fraction:
    """Equity - maintenance in exact rational arithmetic (no rounding in the check itself)."""
    s, q, p = side_sign(side), Fraction(abs(qty)), Fraction(price)
    i = tier_index(table, float(q * p))
    mm = q * p * Fraction(table.mmr[i]) - Fraction(table.amount[i])
    equity = Fraction(wb) + s * q * (p - Fraction(ep)) + Fraction(other_upnl)
    return equity - mm - Fraction(other_mm)


@settings(max_examples=300, deadline=None)
@given(
    table=tables(),
    side=st.sampled_from([1, -1]),
    qty=st.floats(1e-3, 1e3),
    ep=st.floats(1.0, 1e5),
    lev=st.floats(0.5, 125.0),
    cross=st.booleans(),
    other_mm=st.floats(0.0, 1e5),
    other_upnl=st.floats(-1e5, 1e5),
)
def test_equity_equals_maintenance_at_the_liquidation_price(
    table, side, qty, ep, lev, cross, other_mm, other_upnl
):
    wb = qty * ep / lev
    if not cross:
        other_mm = other_upnl = 0.0
    lp = liquidation_price(side, qty, ep, wb, table, other_mm, other_upnl)
    scale = wb + qty * ep + abs(other_upnl) + other_mm
    if lp is None:
        # No positive root: a long is safe at any price, a short is underwater at any price.
        g = exact_gap(side, qty, ep, wb, table, ep * 1e-9, other_mm, other_upnl)
        assert (g >= -1e-9 * scale) if side == 1 else (g <= 1e-9 * scale)
        return
    assume(qty * lp > 1e-6 * scale)  # a root at a vanishing notional is all rounding noise
    g = exact_gap(side, qty, ep, wb, table, lp, other_mm, other_upnl)
    assert abs(float(g)) <= 1e-9 * scale
    # It is the threshold: safe on one side, liquidated on the other.
    up = exact_gap(side, qty, ep, wb, table, lp * (1 + 1e-4), other_mm, other_upnl)
    down = exact_gap(side, qty, ep, wb, table, lp * (1 - 1e-4), other_mm, other_upnl)
    assert (up > 0 > down) if side == 1 else (down > 0 > up)
    hits = naive_binance(side, qty, ep, wb, table, other_mm, other_upnl)
    # Binance's recipe finds one tier (two when the root sits on a cap, agreeing there); it may
    # find none when rounding pushes a root on a cap outside both brackets.
    assert len(hits) <= 2
    for h in hits:
        assert h == pytest.approx(lp, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    qty=st.floats(1e-3, 1e3),
    ep=st.floats(1.0, 1e5),
    lev=st.floats(1.01, 125.0),
)
def test_isolated_flat_matches_the_textbook_formula(qty, ep, lev):
    # Flat rate m, margin Q * EP / L:
    # long LP = EP * (1 - 1/L) / (1 - m), short LP = EP * (1 + 1/L) / (1 + m).
    m = 0.005
    long_lp = liquidation_price("long", qty, ep, qty * ep / lev, FLAT)
    short_lp = liquidation_price("short", qty, ep, qty * ep / lev, FLAT)
    assert long_lp == pytest.approx(ep * (1 - 1 / lev) / (1 - m), rel=1e-9)
    assert short_lp == pytest.approx(ep * (1 + 1 / lev) / (1 + m), rel=1e-9)
