"""Identical buckets are marked once and copied: the same outcome as marking each of them."""

from __future__ import annotations

import numpy as np
from support.factories import two_asset_config

import stress
from stress.margin.bucket_twins import Twins
from stress.margin.engine import _no_books, buckets_of, mark_chunk, market_of, tiers_of
from stress.margin.kernels import BucketResults, mark_buckets_nb
from stress.pipeline.prepare import prepare

POSITIONS = [
    {"asset": "BTC", "side": "long", "notional": 40_000.0, "leverage": 30.0,
     "margin_mode": "isolated"},
    {"asset": "ETH", "side": "short", "notional": 30_000.0, "leverage": 25.0,
     "margin_mode": "isolated"},
    {"asset": "BTC", "side": "short", "notional": 20_000.0, "leverage": 10.0,
     "margin_mode": "cross"},
]  # fmt: skip


def _plan():
    cfg = two_asset_config(positions=POSITIONS, account={"wallet": 6_000.0})
    cfg["exchange"]["funding"] = {"rate": 0.0004, "interval_hours": 1.0}
    return prepare(stress.load_config(cfg))


def _every_bucket_marked(plan, prices):
    """The kernel with no twins: every bucket marked on its own."""
    n = plan.layout.n_buckets
    alone = Twins(np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    shape = (prices.shape[0], n)
    out = BucketResults(
        np.empty(shape, np.int32), np.empty(shape), np.empty(shape), np.empty(shape),
        np.empty(shape, np.int32),
    )  # fmt: skip
    market = market_of(plan.rules, prices.shape[1])
    layout = plan.layout
    args = (buckets_of(layout), tiers_of(layout), alone, True, out, np.empty((0, 0, 0)))
    mark_buckets_nb(prices, market, *args, _no_books(layout), layout.bucket_book, layout.book_free)
    return out


def test_isolated_legs_of_as_configured_twin_the_isolated_books():
    layout = _plan().layout
    twins = layout.twins
    modes = [layout.books[k].mode for k in layout.bucket_book]
    copied = np.flatnonzero(twins.twin != np.arange(layout.n_buckets))
    # the as_configured book's two isolated legs are the isolated book's first two buckets
    assert [modes[b] for b in copied] == ["as_configured", "as_configured"]
    assert all(modes[twins.twin[b]] == "isolated" for b in copied)
    assert (twins.twin <= np.arange(layout.n_buckets)).all()
    for b in copied:
        u = twins.twin[b]
        own = slice(layout.bucket_start[b], layout.bucket_end[b])
        first = slice(layout.bucket_start[u], layout.bucket_end[u])
        np.testing.assert_array_equal(layout.pos_qty[own], layout.pos_qty[first])
        assert layout.bucket_start[b] - layout.bucket_start[u] == twins.shift[b]


def test_copied_outcomes_equal_marking_every_bucket():
    plan = _plan()
    prices = stress.generate_paths(two_asset_config(), paths=512, seed=3)
    fast = mark_chunk(plan.layout, plan.rules, prices)
    alone = _every_bucket_marked(plan, prices)
    assert 0.05 < (alone.liq_step >= 0).mean() < 0.95  # liquidations happen, not everywhere
    for name in BucketResults._fields:
        np.testing.assert_array_equal(getattr(fast, name), getattr(alone, name), err_msg=name)
    # the triggers of copied buckets name their own positions
    copied = np.flatnonzero(plan.layout.twins.twin != np.arange(plan.layout.n_buckets))
    for b in copied:
        hit = fast.trigger[:, b] >= 0
        assert hit.any()
        assert (fast.trigger[hit, b] == plan.layout.bucket_start[b]).all()


def test_traced_buckets_copy_their_twin_trace():
    plan = _plan()
    prices = stress.generate_paths(two_asset_config(), paths=64, seed=5)
    out, values = mark_chunk(plan.layout, plan.rules, prices, trace=True)
    for b in np.flatnonzero(plan.layout.twins.twin != np.arange(plan.layout.n_buckets)):
        np.testing.assert_array_equal(values[:, b], values[:, plan.layout.twins.twin[b]])
    np.testing.assert_array_equal(out.value, mark_chunk(plan.layout, plan.rules, prices).value)


def test_books_summed_in_the_kernel_equal_books_summed_from_kept_buckets():
    from stress.margin.engine import books_from_buckets, mark_plain_books
    from stress.margin.path_results import PathResults

    plan = _plan()
    prices = stress.generate_paths(two_asset_config(), paths=300, seed=8)
    fused = PathResults.empty(300, plan.layout)
    mark_plain_books(plan.layout, plan.rules, prices, fused, slice(0, 300))
    apart = PathResults.empty(300, plan.layout)
    books_from_buckets(
        plan.layout, mark_chunk(plan.layout, plan.rules, prices), apart, slice(0, 300)
    )
    assert 0 < (fused.first_liq_step >= 0).mean() < 1
    for name in ("final_equity", "first_liq_step", "bad_debt", "fees_paid"):
        np.testing.assert_array_equal(getattr(fused, name), getattr(apart, name), err_msg=name)
    np.testing.assert_array_equal(fused.pos_liquidated, apart.pos_liquidated)
    np.testing.assert_array_equal(fused.pos_triggered, apart.pos_triggered)
