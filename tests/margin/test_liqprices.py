"""Liquidation prices on both sides of the mark (`stress.margin.liquidation_prices`).

A bucket is liquidated where collateral + unrealised PnL <= maintenance. Each position's asset
moves alone from its mark, carrying every position of the bucket on that asset; the closed form
gives the highest liquidated price at or below the mark, the lowest at or above it (or the tier
breakpoint a liquidated stretch opens just above), and reports the nearer. The property test
at the end runs the engine along price paths through those prices.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from hypothesis import assume, given, settings
from support.factories import engine_on, two_asset_config
from support.strategies import MODES, books
from typer.testing import CliRunner

import stress
from stress.cli import app
from stress.margin.engine import mark_chunk
from stress.margin.funding import market_rules
from stress.margin.liquidation_bounds import (
    LiquidationBounds,
    asset_liquidation_bounds,
    liquidation_price,
)
from stress.margin.liquidation_prices import bucket_liquidation_bounds, bucket_liquidation_prices
from stress.paths import TimeGrid
from stress.pipeline.prepare import prepare
from stress.venues.tiers import TierTable, maintenance

FLAT = {"markets": {}, "default_market": {"mmr": 0.005, "max_leverage": 125.0}}


def btc(pid: str, side: str, notional: float, leverage: float, mode: str = "cross") -> dict:
    return {
        "id": pid,
        "asset": "BTC",
        "side": side,
        "notional": notional,
        "leverage": leverage,
        "margin_mode": mode,
    }


def btc_book(positions: list[dict], wallet: float, markets: dict | None = None) -> dict:
    """BTC at 60,000 (ETH at 3,000 unused), no funding, every mode."""
    cfg = two_asset_config(positions=positions, account={"wallet": wallet}, modes=MODES)
    cfg["exchange"].update(FLAT if markets is None else {"markets": markets})
    cfg["exchange"]["funding"] = {"rate": 0.0, "interval_hours": 8.0}
    return cfg


def by_mode(cfg: dict) -> dict:
    """{(id, mode): (liquidation_price, below, above)} with None for NaN."""
    df = stress.liquidation_prices(cfg)
    cols = ["liquidation_price", "liquidation_price_below", "liquidation_price_above"]
    return {
        (r["id"], r["mode"]): tuple(None if math.isnan(r[c]) else r[c] for c in cols)
        for r in df.to_dict("records")
    }


# --- the examples -----------------------------------------------------------------

# OKX-style table: amounts 0, so maintenance jumps from 0.4 % to 4 % of the notional at 61,000.
JUMP = {
    "BTC": {
        "tiers": [
            {
                "max_notional": 61_000.0,
                "mmr": 0.004,
                "maintenance_amount": 0.0,
                "max_leverage": 125,
            },
            {"max_notional": 1e6, "mmr": 0.04, "maintenance_amount": 0.0, "max_leverage": 20},
        ]
    }
}


def test_tier_jump_liquidates_a_long_on_both_sides():
    # 1 BTC long @ 60,000 at 100x: margin 600. Equity 600 + (P - 60,000) = P - 59,400.
    # Notional P <= 61,000 (tier 1): liquidated where P - 59,400 <= 0.004 P,
    #   P <= 59,400 / 0.996 = 59,638.554...
    # P > 61,000 (tier 2): liquidated where P - 59,400 <= 0.04 P, P <= 59,400 / 0.96 = 61,875:
    #   at 61,000 itself (tier 1) equity 1,600 > 0.004 * 61,000 = 244 is safe; just above it
    #   maintenance is 0.04 * 61,000 = 2,440 > 1,600: liquidated. So the above side is the
    #   first price past 61,000: 61,000 plus one ulp, where the long is liquidated.
    # Nearest to the mark: 60,000 - 59,638.55 = 361.45 < 61,000 - 60,000 = 1,000.
    cfg = btc_book([btc("b", "long", 60_000.0, 100.0, "isolated")], 10_000.0, JUMP)
    got = by_mode(cfg)
    for mode in ("isolated", "as_configured"):
        lp, below, above = got[("b", mode)]
        assert below == pytest.approx(59_400 / 0.996, rel=1e-12)
        assert below == pytest.approx(59_638.55, abs=0.005)
        assert above == math.nextafter(61_000.0, math.inf)
        assert lp == below
    # Cross holds the 10,000 wallet, equity P - 50,000: below, 0.996 P = 50,000; above 61,000
    # it stays over 0.04 P (0.96 P > 58,560 > 50,000 there): no price above.
    assert got[("b", "cross")] == (50_000 / 0.996, 50_000 / 0.996, None)


def test_tier_jump_is_where_the_engine_liquidates_going_up():
    cfg = btc_book([btc("b", "long", 60_000.0, 100.0, "isolated")], 10_000.0, JUMP)
    cfg["modes"] = ["isolated"]
    up = np.array([60_000.0, 60_500.0, 61_000.0, 61_000.01, 61_500.0])
    prices = np.stack([up, np.full_like(up, 3_000.0)], axis=-1)[None]
    _, res = engine_on(cfg, prices)
    assert res.first_liq_step[0, 0] == 3  # safe at the cap itself, liquidated just above it


def test_a_price_reported_above_the_mark_for_a_long_is_never_safe():
    # The rule: for a long, never a price above the mark at which it is safe. Marked at
    # 60,900 (entry 60,000, margin 600) the cap at 61,000 is the nearer side; the price reported
    # is the first one past the cap, and the engine liquidates there (not at the cap itself).
    cfg = btc_book([btc("b", "long", 60_000.0, 100.0, "isolated")], 10_000.0, JUMP)
    cfg["model"]["assets"]["BTC"]["price"] = 60_900.0
    cfg["positions"][0]["entry_price"] = 60_000.0
    cfg["modes"] = ["isolated"]
    lp, below, above = by_mode(cfg)[("b", "isolated")]
    assert lp == above == math.nextafter(61_000.0, math.inf)
    at = np.array([60_900.0, 61_000.0, lp])
    prices = np.stack([at, np.full_like(at, 3_000.0)], axis=-1)[None]
    _, res = engine_on(cfg, prices)
    assert res.first_liq_step[0, 0] == 2


@pytest.mark.parametrize("qty", [8.588302338216936, 3.0, 7.0, 0.1, 7e-3])
def test_breakpoints_split_prices_exactly_as_the_engine_does(qty):
    # cap / q can round to a price whose notional q * P rounds above the cap: the engine then
    # puts it in the upper tier. The solver's breakpoint is the last price the engine keeps in
    # the lower tier, whatever the rounding. (8.588302338216936: 95 / q rounds up by an ulp.)
    table = TierTable.build([95.0, math.inf], [0.05, 0.06], [10, 10], amounts=[0.0, 3.0])
    mark = 96.0 / qty
    got = asset_liquidation_bounds(["short"], [qty], [mark], mark, 3.0, table)
    below = got.below
    assert below is not None and qty * below <= 95.0 < qty * math.nextafter(below, math.inf)
    # a short of notional 95 on 3 of margin: 3 + 96 - 95 = 4 <= 4.75 in tier 1, liquidated
    assert maintenance(table, qty * below) >= 3.0 + qty * (mark - below)


def test_same_asset_longs_move_together():
    # Wallet 10,000, two BTC longs of 1 BTC (60,000 at 20x), flat 0.5 %, one cross bucket:
    # 10,000 + 2 (P - 60,000) = 0.005 * 2 P  =>  1.99 P = 110,000, P = 55,276.381909...
    # (Holding the other long at the mark gave 10,000 + P - 60,000 = 0.005 P + 300, 50,552.76.)
    # Isolated, each on its 3,000 margin: 0.995 P = 57,000, P = 57,286.432160...
    cfg = btc_book([btc("a", "long", 60_000.0, 20.0), btc("b", "long", 60_000.0, 20.0)], 10_000.0)
    got = by_mode(cfg)
    for pid in ("a", "b"):
        for mode in ("cross", "as_configured"):
            assert got[(pid, mode)][:2] == pytest.approx((110_000 / 1.99,) * 2, rel=1e-12)
            assert got[(pid, mode)][0] == pytest.approx(55_276.38, abs=0.005)
            assert got[(pid, mode)][2] is None
        assert got[(pid, "isolated")][0] == pytest.approx(57_000 / 0.995, rel=1e-12)


def test_long_and_short_on_one_asset_cancel_until_maintenance_catches_up():
    # Wallet 20,000, a long and a short of 5,000 notional (1/12 BTC each), flat 0.5 %, cross:
    # the PnL cancels, maintenance 2 * 0.005 * P / 12 = P / 1,200 meets 20,000 at 24,000,000.
    # Nothing below the mark (maintenance only falls there).
    cfg = btc_book([btc("l", "long", 5_000.0, 10.0), btc("s", "short", 5_000.0, 10.0)], 20_000.0)
    got = by_mode(cfg)
    for pid in ("l", "s"):
        for mode in ("cross", "as_configured"):
            lp, below, above = got[(pid, mode)]
            assert below is None
            assert lp == above == pytest.approx(24_000_000.0, rel=1e-12)


# --- rules ----------------------------------------------------------------------------------


def test_nearest_and_its_tie_rule():
    assert LiquidationBounds(95.0, 110.0).nearest(100.0, "short") == 95.0
    assert LiquidationBounds(80.0, 110.0).nearest(100.0, "long") == 110.0
    # a tie goes to the side the position loses towards
    assert LiquidationBounds(90.0, 110.0).nearest(100.0, "long") == 90.0
    assert LiquidationBounds(90.0, 110.0).nearest(100.0, -1) == 110.0
    assert LiquidationBounds(None, 110.0).nearest(100.0, "long") == 110.0
    assert LiquidationBounds(90.0, None).nearest(100.0, "short") == 90.0
    assert LiquidationBounds(None, None).nearest(100.0, "long") is None


def test_a_bucket_already_liquidated_reports_the_mark():
    # 1 long @ 112 with margin 10 (flat 0.5 %) marked at 100: 10 - 12 < 0.5. The engine
    # liquidates it at step 0.
    flat = TierTable.flat(0.005, 100.0)
    assert asset_liquidation_bounds(["long"], [1.0], [112.0], 100.0, 10.0, flat) == (100.0, 100.0)
    # Binance's formula, which knows no mark, puts it above: (10 - 112) / (0.005 - 1) = 102.51
    assert liquidation_price("long", 1.0, 112.0, 10.0, flat) == pytest.approx(102 / 0.995)


def test_a_short_is_liquidated_at_a_cap_where_its_maintenance_drops():
    # Tier 1 (notional <= 95) 5 %, tier 2 6 % with amount 3: maintenance drops from 4.75 to 2.70
    # at the cap. 1 short @ 96 = mark, margin 3; equity 3 + 96 - P = 99 - P.
    # P <= 95: liquidated where 99 - P <= 0.05 P, P >= 94.2857: all of [94.29, 95];
    # P > 95: where 99 - P <= 0.06 P - 3, P >= 102 / 1.06 = 96.2264.
    # Below the mark the highest is the cap itself (brackets are closed above); above, 96.2264,
    # the nearer (0.23 against 1).
    t = TierTable.build([95.0, math.inf], [0.05, 0.06], [10, 10], amounts=[0.0, 3.0])
    got = asset_liquidation_bounds(["short"], [1.0], [96.0], 96.0, 3.0, t)
    assert got.below == 95.0
    assert got.above == pytest.approx(102 / 1.06, rel=1e-12)
    assert got.nearest(96.0, "short") == got.above
    assert bucket_liquidation_prices(["short"], [1.0], [96.0], [96.0], 3.0, [t]) == [got.above]


def test_single_position_on_a_continuous_table_is_binances_formula():
    table = TierTable.build([50_000, 250_000, 1e6, 1e7], [0.004, 0.005, 0.01, 0.025], [1.0] * 4)
    for side, lev in [("long", 20.0), ("short", 20.0), ("long", 3.0), ("short", 1.0)]:
        for qty in (0.3, 4.0, 25.0):
            wb = qty * 30_000 / lev
            got = asset_liquidation_bounds([side], [qty], [30_000.0], 30_000.0, wb, table)
            binance = liquidation_price(side, qty, 30_000.0, wb, table)
            assert (got.below, got.above) == (
                (binance, None) if side == "long" else (None, binance)
            )


def test_explicit_assets_match_one_position_per_symbol():
    args = (["long", "short"], [2.0, 3.0], [100.0, 100.0], [95.0, 52.0], 80.0)
    tables = [TierTable.flat(0.01, 50.0), TierTable.flat(0.02, 25.0)]
    assert bucket_liquidation_bounds(*args, tables) == bucket_liquidation_bounds(
        *args, tables, assets=["X", "Y"]
    )
    # On one asset, marked 95, they move together (one 1 % table):
    # 80 + 2 (P - 100) - 3 (P - 100) = 0.01 * 5 P  <=>  180 - P = 0.05 P, P = 171.428...;
    # nothing below (the surplus only grows as P falls).
    same = bucket_liquidation_bounds(*args[:3], [95.0, 95.0], 80.0, [tables[0]] * 2, ["X", "X"])
    assert same[0] == same[1]
    assert same[0].below is None
    assert same[0].above == pytest.approx(180 / 1.05, rel=1e-12)
    # Holding the other one at the mark instead gave 54.47 for the long and 121.49 for the short.


def test_cli_shows_both_sides(tmp_path):
    cfg = btc_book([btc("b", "long", 60_000.0, 100.0, "isolated")], 10_000.0, JUMP)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    runner = CliRunner()
    res = runner.invoke(app, ["liqprice", str(path), "--json"])
    table = runner.invoke(app, ["liqprice", str(path)])
    rows = {r["mode"]: r for r in json.loads(res.stdout)["positions"]}
    assert rows["isolated"]["liquidation_price_above"] == math.nextafter(61_000.0, math.inf)
    assert rows["isolated"]["liquidation_price"] == rows["isolated"]["liquidation_price_below"]
    assert rows["cross"]["liquidation_price_above"] is None
    assert {"portfolio", "id", "asset", "mode"} <= set(rows["cross"])
    assert "above mark" in table.stdout and "61,000.00" in table.stdout


# --- the engine liquidates where the closed form says ---------------------------------------

EPS = 1e-9
"""Relative offset of the path points either side of a reported price or a tier breakpoint.

The closed form and the engine add the same terms in different orders, so near a root they can
disagree on the sign of the surplus by rounding: about 1e-16 of the bucket's collateral plus
gross notional, a relative price error of 1e-16 * (collateral + gross notional) / (|slope| *
price). With the leverages and rates drawn here that is 1e-13 or less unless a long and a short
on one asset cancel each other's slope to 1 part in 1e4; 1e-9 keeps ample headroom and still
lies far below the spacing of the caps, entries and marks of the books.
"""


def moving_path(mark: float, target: float | None, down: bool, breaks: list[float]):
    """Prices of the moving asset, and the step where its bucket must be liquidated (-1: none).

    From the mark towards `target` and past it: a geometric grid, every breakpoint of the
    bucket's surplus with a point EPS either side (the surplus is linear between them, so these
    points see every piece), then the points EPS before and after the target. With no target,
    down to 1/1,000 of the mark or up to 1,000 times it, never liquidated.
    """
    sign = -1.0 if down else 1.0
    if target == mark:  # already liquidated at the mark: step 0
        return [mark, mark * (1 + sign * 0.01)], 0
    end = (mark * 1_000.0**sign) if target is None else target
    # A target within a few EPS of the mark cannot be told from it in either calculation.
    assume(abs(end / mark - 1.0) > 4 * EPS)
    inner = [*np.geomspace(mark, end, 12)[1:-1]]
    inner += [b * f for b in breaks for f in (1 - EPS, 1.0, 1 + EPS)]
    lo, hi = sorted((mark, end * (1 - sign * 2 * EPS)))
    inner = sorted((x for x in inner if lo < x < hi), reverse=down)
    if target is None:
        return [mark, *inner, end], -1
    crossing = [target * (1 - sign * EPS), target * (1 + sign * EPS), target * (1 + sign * 0.01)]
    return [mark, *inner, *crossing], len(inner) + 2


def surplus_breaks(layout, bucket: int, asset: int) -> list[float]:
    """The prices of `asset` where a position of the bucket changes tier: cap / |qty|."""
    caps = layout.tier_cap[asset, : layout.tier_count[asset] - 1]
    rows = range(layout.bucket_start[bucket], layout.bucket_end[bucket])
    qtys = [abs(layout.pos_qty[g]) for g in rows if layout.pos_asset[g] == asset]
    return [float(c / q) for c in caps for q in qtys]


def nearer(below: float | None, above: float | None, mark: float, side: str) -> float | None:
    """The one closer to the mark; a tie goes to the side the position loses towards."""
    sides = [x for x in (below, above) if x is not None]
    loses_up = side == "short"
    return min(sides, key=lambda x: (abs(x - mark), (x > mark) != loses_up)) if sides else None


@settings(max_examples=200, deadline=None)
@given(cfg=books())
def test_the_engine_liquidates_exactly_at_both_reported_prices(cfg):
    got = by_mode(cfg)
    loaded = stress.load_config(cfg)
    plan = prepare(loaded)
    layout, grid = plan.layout, plan.grid
    marks = [a.price for a in loaded.model.assets.values()]
    cases = []  # (bucket, moving asset, its prices, expected liquidation step, what)
    for k, book in enumerate(layout.books):
        for j, p in enumerate(book.positions):
            mark, bucket = (
                marks[p.asset_index],
                layout.pos_bucket[layout.book_first_position[k] + j],
            )
            lp, below, above = got[(p.id, book.mode)]
            assert lp == nearer(below, above, mark, p.side)
            breaks = surplus_breaks(layout, bucket, p.asset_index)
            for down, target in ((True, below), (False, above)):
                if target is not None and target < 1e-6 * mark:
                    # Rounding noise (collateral equal to the entry notional, at 1x): both the
                    # closed form and the engine see a surplus of +-1e-13 at a price near 0.
                    continue
                path, step = moving_path(mark, target, down, breaks)
                cases.append((bucket, p.asset_index, path, step, (p.id, book.mode, down, target)))
    if not cases:
        return
    n_times = max(len(c[2]) for c in cases)
    prices = np.tile(np.asarray(marks), (len(cases), n_times, 1))
    for i, (_, asset, path, _, _) in enumerate(cases):
        prices[i, :, asset] = path + path[-1:] * (n_times - len(path))  # then flat
    rules = market_rules(loaded, TimeGrid(n_steps=n_times - 1, dt=grid.dt))
    liq_step = mark_chunk(layout, rules, prices)[0]
    wrong = [
        (what, int(liq_step[i, bucket]), step)
        for i, (bucket, _, _, step, what) in enumerate(cases)
        if liq_step[i, bucket] != step
    ]
    assert not wrong, wrong
