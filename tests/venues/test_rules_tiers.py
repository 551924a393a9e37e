"""Tier tables and maintenance margin (stress.venues.tiers).

The tables (tests/support/binance_tiers.py) are Binance's, with the maintenance amounts ("cum")
Binance published for them; "the FAQ" is Binance's "How to Calculate Liquidation Price of USDⓈ-M
Futures Contracts", whose worked example tests/margin/test_rules_liquidation.py reproduces on the
same tables. Every other figure is derived by hand, with the arithmetic written out.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from support.binance_tiers import BTC, BTC_2021, BTC_NOW_HEAD, ETH, ETH_2021, FLAT, REL, derived

from stress.venues.tiers import (
    TierTable,
    maintenance,
    maintenance_array,
    max_leverage,
    tier_index,
    tier_indices,
)

# --- tier tables --------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [BTC_2021, ETH_2021, BTC_NOW_HEAD], ids=["btc21", "eth21", "btc"])
def test_continuity_reproduces_published_amounts(rows):
    assert derived(rows).amount.tolist() == pytest.approx([r[3] for r in rows], rel=1e-12)


def test_continuity_by_hand():
    # cum_1 = 0 + 50,000 * (0.5% - 0.4%) = 50
    # cum_2 = 50 + 600,000 * (1% - 0.5%) = 3,050
    t = derived(BTC_NOW_HEAD)
    assert t.amount[1] == pytest.approx(50.0)
    assert t.amount[2] == pytest.approx(50.0 + 600_000 * 0.005)


def test_given_amounts_are_kept_and_later_ones_build_on_them():
    t = TierTable.build([100, 200, 300], [0.01, 0.02, 0.05], [50, 20, 10], amounts=[1.0, None, 7.0])
    # cum_1 = 1 + 100 * (0.02 - 0.01) = 2; cum_2 given
    assert t.amount.tolist() == pytest.approx([1.0, 2.0, 7.0])
    t = TierTable.build([100, 200, 300], [0.01, 0.02, 0.05], [50, 20, 10], amounts=[None] * 3)
    assert t.amount.tolist() == pytest.approx([0.0, 1.0, 7.0])  # 1 + 200 * 0.03 = 7


@pytest.mark.parametrize("table", [BTC, ETH, derived(BTC_NOW_HEAD)], ids=["btc21", "eth", "btc"])
def test_maintenance_is_continuous_at_every_cap(table):
    for i, cap in enumerate(table.cap[:-1]):
        below = cap * table.mmr[i] - table.amount[i]
        above = cap * table.mmr[i + 1] - table.amount[i + 1]
        assert above == pytest.approx(below, rel=1e-12)
        left = maintenance(table, np.nextafter(cap, 0.0))
        right = maintenance(table, np.nextafter(cap, np.inf))
        assert right == pytest.approx(left, rel=1e-9)
        assert maintenance(table, cap) == pytest.approx(below, rel=1e-12)


def test_tier_index_brackets_are_closed_above():
    t = derived(BTC_NOW_HEAD)
    assert tier_index(t, 0.0) == 0
    assert tier_index(t, 50_000) == 0
    assert tier_index(t, np.nextafter(50_000, np.inf)) == 1
    assert tier_index(t, 600_000) == 1
    assert tier_index(t, 600_001) == 2
    assert tier_index(t, 3_000_000) == 2
    assert tier_index(t, 1e12) == 2  # beyond the last cap: extrapolate the last tier
    np.testing.assert_array_equal(tier_indices(t, [0, 50_000, 50_001, 1e12]), [0, 0, 1, 2])


def test_maintenance_values():
    t = derived(BTC_NOW_HEAD)
    assert maintenance(t, 10_000) == pytest.approx(40.0)  # 10,000 * 0.4%
    assert maintenance(t, 100_000) == pytest.approx(450.0)  # 100,000 * 0.5% - 50
    assert maintenance(t, 1_000_000) == pytest.approx(6_950.0)  # 1M * 1% - 3,050
    assert maintenance(t, 4_000_000) == pytest.approx(36_950.0)  # last tier extrapolated
    # The FAQ example's BTC maintenance at its mark: 109.488 * 31,967.27 * 2.5% - 16,300.
    assert maintenance(BTC, 109.488 * 31_967.27) == pytest.approx(71_200.81144, rel=REL)
    np.testing.assert_allclose(maintenance_array(t, [10_000, 100_000]), [40.0, 450.0])
    assert maintenance(FLAT, 1e9) == pytest.approx(5e6)


def test_flat_and_max_leverage():
    assert FLAT.n_tiers == 1 and FLAT.cap[0] == math.inf and FLAT.amount[0] == 0.0
    assert max_leverage(BTC, 40_000) == 125
    assert max_leverage(BTC, 300_000) == 50
    assert max_leverage(FLAT, 1e9) == 100


def test_table_is_immutable_and_validated():
    with pytest.raises(ValueError):
        BTC.mmr[0] = 0.1
    with pytest.raises(AttributeError):
        BTC.mmr = np.zeros(10)  # type: ignore[misc]
    with pytest.raises(ValueError, match="equal length"):
        TierTable(cap=[1, 2], mmr=[0.1], amount=[0, 0], max_leverage=[1, 1])
    with pytest.raises(ValueError, match="one entry per tier"):
        TierTable.build([1, 2], [0.1, 0.2], [5, 2], amounts=[0.0])
