"""Auto-deleveraging (stress.margin.adl): a hand-worked path, what must not change, chunking,
p_adl against its expectation, and the compiled kernel against a plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest

import stress
from stress.margin.adl import adl_after_liquidation
from stress.margin.engine import evaluate_prices, mark_chunk_process
from stress.margin.funding import market_rules, scenario_rules
from stress.paths import TimeGrid
from stress.paths.scenarios import adl_uniforms, describe
from stress.pipeline.prepare import prepare
from stress.pipeline.simulate import run

ADL = {"trigger": {"asset": "Y", "move": -0.10, "within_hours": 1.0}, "probability": 1.0}


def config(positions, *, wallet, fee=0.0, adl=None, modes=("cross",), paths=256, days=1.0):
    """Assets X and Y at 100, hourly steps, 5 % maintenance, no funding; one scenario `s`."""
    scenario = {"name": "s", "vol_multiplier": 1.0}
    if adl is not None:
        scenario["adl"] = adl
    return {
        "name": "adl",
        "seed": 3,
        "simulation": {"paths": paths, "horizon_days": days, "steps_per_day": 24},
        "model": {
            "type": "gbm",
            "assets": {"X": {"price": 100.0, "vol": 0.8}, "Y": {"price": 100.0, "vol": 0.6}},
            "correlation": [[1.0, 0.9], [0.9, 1.0]],
        },
        "exchange": {
            "liquidation_fee": fee,
            "funding": {"rate": 0.0, "interval_hours": 8.0},
            "default_market": {"mmr": 0.05, "max_leverage": 15.0},
        },
        "account": {"wallet": wallet},
        "positions": positions,
        "modes": list(modes),
        "scenarios": [scenario],
    }


HEDGE = [
    {"id": "x", "asset": "X", "side": "long", "notional": 10_000.0, "leverage": 10.0},
    {"id": "y", "asset": "Y", "side": "short", "notional": 10_000.0, "leverage": 10.0},
]


def on_prices(cfg, prices, scenario=True):
    """(plan, rules, PathResults) of the config's scenario (or base) on given prices."""
    plan = prepare(stress.load_config(cfg))
    grid = TimeGrid(n_steps=prices.shape[1] - 1, dt=plan.grid.dt)
    rules = market_rules(plan.config, grid)
    if scenario:
        sc = plan.config.scenarios[0]
        rules = scenario_rules(plan.config, sc, rules, grid, seed=plan.seed)
    return plan, rules, evaluate_prices(plan.layout, rules, prices)


def test_hand_worked_hedge_loses_its_winning_leg():
    # Long X and short Y, 10,000 each at 100 (q = 100), cross wallet 2,000, fee 1 %. Both fall
    # together: 100, 100, 89, 80, 70. At step 2 Y is 11 % below step 1 (window 1 h = 1 step):
    # ADL fires. Equity there 2,000 - 1,100 + 1,100 = 2,000 > maintenance 5 % x 17,800 = 890.
    # The Y short (+1,100) is the only winner: closed at 89, collateral 2,000 + 1,100 = 3,100.
    # Step 3: 3,100 - 100 x 20 = 1,100 > 5 % x 8,000 = 400. Step 4: 3,100 - 3,000 = 100 <=
    # 5 % x 7,000 = 350: liquidated, fee 1 % x 7,000 = 70, the trader keeps 30.
    marks = np.array([100.0, 100.0, 89.0, 80.0, 70.0])
    prices = np.stack([marks, marks], axis=1)[None]
    _, _, res = on_prices(config(HEDGE, wallet=2000.0, fee=0.01, adl=ADL), prices)
    assert res.first_liq_step[0, 0] == 4
    assert res.final_equity[0, 0] == pytest.approx(30.0, abs=1e-9)
    assert res.fees_paid[0, 0] == pytest.approx(70.0, abs=1e-9)
    assert res.adl_closed[0, 0] == 1
    assert res.adl_liquidated[0, 0]
    assert list(res.pos_liquidated[0]) == [True, True]
    # without ADL the hedge holds: 2,000 at the horizon, never liquidated
    _, _, plain = on_prices(config(HEDGE, wallet=2000.0, fee=0.01), prices)
    assert plain.first_liq_step[0, 0] == -1
    assert plain.final_equity[0, 0] == pytest.approx(2000.0, abs=1e-9)
    assert plain.adl_closed is None


def _same(a, b):
    for name in ("final_equity", "first_liq_step", "bad_debt", "fees_paid", "pos_liquidated"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize(
    "adl",
    [
        {**ADL, "probability": 0.0},  # fires, closes nothing
        {**ADL, "trigger": {"asset": "Y", "move": -0.9, "within_hours": 1.0}},  # never fires
    ],
)
@pytest.mark.parametrize("modes", [("cross",), ("isolated", "cross")])
def test_adl_that_closes_nothing_changes_nothing(adl, modes):
    base = config(HEDGE, wallet=2000.0, fee=0.005, modes=modes, paths=512, days=2.0)
    with_adl = config(HEDGE, wallet=2000.0, fee=0.005, adl=adl, modes=modes, paths=512, days=2.0)
    a, b = run(base).scenarios[0], run(with_adl).scenarios[0]
    _same(a.results, b.results)
    assert (b.results.adl_closed == 0).all()
    assert all(m["p_adl"] == 0.0 for m in b.metrics)
    assert "p_adl" not in a.metrics[0]


def test_results_do_not_depend_on_chunk_size():
    trigger = {"asset": "Y", "move": -0.03, "within_hours": 2.0}
    adl = {"trigger": trigger, "probability": 0.5, "by_rank": True}
    cfg = config(HEDGE, wallet=2000.0, adl=adl, modes=("isolated", "cross"), paths=1024, days=2)
    a = run(cfg, chunk_paths=256).scenarios[0]
    b = run(cfg, chunk_paths=1024).scenarios[0]
    _same(a.results, b.results)
    np.testing.assert_array_equal(a.results.adl_closed, b.results.adl_closed)
    assert a.results.adl_closed.sum() > 0
    assert a.metrics == b.metrics


def test_uniforms_depend_on_the_path_only():
    whole = adl_uniforms(5, 0, 1024, 3)
    np.testing.assert_array_equal(adl_uniforms(5, 300, 500, 3), whole[300:800])


def trigger_steps(prices, asset, move, window):
    """The trigger's first step on every path (n_paths,), -1 when never, in numpy."""
    s = prices[:, :, asset]
    back = np.concatenate([np.repeat(s[:, :1], window, axis=1), s[:, :-window]], axis=1)
    hit = s / back - 1.0 <= move
    hit[:, 0] = False
    return np.where(hit.any(axis=1), hit.argmax(axis=1), -1)


def test_p_adl_matches_its_expectation():
    # p_adl = mean over paths of 1 - (1 - p)^(winners at the trigger), within 4 SE
    rng = np.random.default_rng(0)
    n, steps, p = 4096, 48, 0.3
    inc = rng.normal(0.0, 0.03, size=(n, steps, 2))
    prices = 100.0 * np.exp(np.concatenate([np.zeros((n, 1, 2)), inc.cumsum(axis=1)], axis=1))
    adl = {**ADL, "probability": p, "trigger": {"asset": "Y", "move": -0.04, "within_hours": 1}}
    plan, _, res = on_prices(config(HEDGE, wallet=20_000.0, adl=adl), prices)
    ta = trigger_steps(prices, 1, -0.04, 1)
    fired = ta >= 0
    at = prices[np.arange(n), np.maximum(ta, 0)]  # (n, 2)
    pnl = plan.layout.pos_qty * (at[:, plan.layout.pos_asset] - plan.layout.pos_entry)
    winners = np.where(fired, (pnl > 0).sum(axis=1), 0)
    q = 1.0 - (1.0 - p) ** winners
    got = (res.adl_closed[:, 0] > 0).mean()
    se = np.sqrt((q * (1 - q)).sum()) / n
    assert 0.1 < fired.mean() < 0.99
    assert abs(got - q.mean()) <= 4 * se


# --- a plain-Python reference on random books ---------------------------------------------------


def reference(plan, rules, prices):
    """Per path and bucket (liq step, value, ADL closes), the whole-close process, in Python."""
    lay, adl = plan.layout, rules.adl
    lev = [p.leverage for book in lay.books for p in book.positions]
    u = adl_uniforms(adl.seed, 0, prices.shape[0], lay.pos_qty.shape[0])
    fee, mmr = rules.liquidation_fee, 0.05
    out = []
    for i, path in enumerate(prices):
        ta = -1
        for t in range(1, path.shape[0]):
            if path[t, adl.asset] / path[max(0, t - adl.window), adl.asset] - 1 <= adl.move:
                ta = t
                break
        select = [False] * len(lev)
        if ta >= 0:
            for k, book in enumerate(lay.books):
                lo = lay.book_first_position[k]
                idx = range(lo, lo + len(book.positions))
                pnl = {
                    j: lay.pos_qty[j] * (path[ta, lay.pos_asset[j]] - lay.pos_entry[j]) for j in idx
                }
                win = [j for j in idx if pnl[j] > 0]
                score = {j: pnl[j] / abs(lay.pos_qty[j] * lay.pos_entry[j]) * lev[j] for j in win}
                for j in win:
                    rank = 1 + sum(
                        1 for r in win if score[r] < score[j] or (score[r] == score[j] and r < j)
                    )
                    prob = adl.probability * (rank / len(win) if adl.by_rank else 1.0)
                    select[j] = u[i, j] < prob
        row = []
        for b in range(lay.n_buckets):
            qty = {j: lay.pos_qty[j] for j in range(lay.bucket_start[b], lay.bucket_end[b])}
            coll, step, value, n_adl = lay.bucket_collateral[b], -1, None, 0
            for t in range(path.shape[0]):
                pnl = sum(
                    q * (path[t, lay.pos_asset[j]] - lay.pos_entry[j]) for j, q in qty.items()
                )
                notional = sum(abs(q) * path[t, lay.pos_asset[j]] for j, q in qty.items())
                equity = coll + pnl
                if equity <= mmr * notional:
                    step, value = t, max(equity - fee * notional, 0.0)
                    break
                if t == ta:
                    for j in qty:
                        if select[j] and qty[j] != 0:
                            coll += qty[j] * (path[t, lay.pos_asset[j]] - lay.pos_entry[j])
                            qty[j], n_adl = 0.0, n_adl + 1
                value = equity
            row.append((step, value, n_adl))
        out.append(row)
    return out


@pytest.mark.parametrize("by_rank", [False, True])
def test_kernel_matches_python_reference_on_random_books(by_rank):
    rng = np.random.default_rng(11 if by_rank else 12)
    for _ in range(4):
        positions = [
            {
                "id": f"p{j}",
                "asset": str(rng.choice(["X", "Y"])),
                "side": str(rng.choice(["long", "short"])),
                "notional": float(rng.uniform(2_000, 20_000)),
                "leverage": float(rng.uniform(2, 14)),
                "entry_price": float(rng.uniform(90, 110)),
            }
            for j in range(int(rng.integers(2, 5)))
        ]
        adl = {
            "trigger": {"asset": "Y", "move": -0.03, "within_hours": 2},
            "probability": float(rng.uniform(0.3, 1.0)),
            "by_rank": by_rank,
        }
        cfg = config(positions, wallet=30_000.0, fee=0.01, adl=adl, modes=("isolated", "cross"))
        n = 64
        inc = rng.normal(0.0, 0.03, size=(n, 30, 2))
        prices = 100.0 * np.exp(np.concatenate([np.zeros((n, 1, 2)), inc.cumsum(1)], axis=1))
        plan, rules, _ = on_prices(cfg, prices)
        buckets, _, adl_out, _ = mark_chunk_process(plan.layout, rules, prices)
        ref = reference(plan, rules, prices)
        for i in range(n):
            for b, (step, value, n_adl) in enumerate(ref[i]):
                assert buckets.liq_step[i, b] == step
                assert buckets.value[i, b] == pytest.approx(value, rel=1e-9, abs=1e-7)
                assert adl_out.closed[i, b] == n_adl
        assert adl_out.closed.sum() > 0
        count, _ = adl_after_liquidation(
            adl_out.step, buckets.liq_step, adl_out.closed, plan.layout
        )
        assert count.sum() == adl_out.closed.sum()


def test_describe_and_asset_check():
    cfg = stress.load_config(config(HEDGE, wallet=2000.0, adl={**ADL, "by_rank": True}))
    text = describe(cfg, cfg.scenarios[0])
    assert "ADL when Y moves -10.0% within 1 h" in text and "probability 1" in text
    bad = config(HEDGE, wallet=2000.0, adl={**ADL, "trigger": {**ADL["trigger"], "asset": "Z"}})
    with pytest.raises(stress.ConfigError, match=r"scenarios\[0\]\.adl\.trigger\.asset"):
        prepare(stress.load_config(bad))
