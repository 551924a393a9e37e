"""Hypothesis strategies shared by the tests: random books on random tier tables.

`books()` draws configs of 1-4 positions on 1-2 assets, long and short, isolated and cross, run
in every mode, on tier tables of 1-6 tiers with caps near the positions' notionals, continuous
or jumping at the caps (hand-written amounts). Half of the draws are "tight": caps within a few
per cent of a notional, maintenance jumping at every cap, leverage near its limit and a wallet
near the margins posted, which is where a jump decides a liquidation.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from stress.venues.tiers import TierTable, tier_index

MODES = ["isolated", "cross", "as_configured"]

ASSETS = ("BTC", "ETH")


@st.composite
def tier_rows(draw, notionals: list[float], tight: bool) -> list[dict]:
    """1-6 tiers with caps near the entry notionals, continuous or jumping at every cap.

    `tight`: caps within a few % of a notional, where high-leverage liquidations happen, and
    maintenance jumping at them; together these give buckets liquidated on both sides.
    """
    n = draw(st.sampled_from(range(1, 7)))  # st.integers favours 1 tier, which cannot jump

    def near(x: float) -> st.SearchStrategy[float]:
        close = st.floats(0.98 * x, 1.03 * x)
        return close if tight else close | st.floats(0.5 * x, 2.0 * x)

    caps = sorted(
        set(draw(st.lists(st.sampled_from(notionals).flatmap(near), min_size=n, max_size=n)))
    )
    # The config refuses a position beyond the last cap; qty * entry may round up by an ulp.
    if caps[-1] < max(notionals) * (1 + 1e-9):
        caps[-1] = max(notionals) * draw(st.floats(1.001, 2.0))
    jumps = tight or draw(st.sampled_from([True, False]))
    mmr, amount = draw(st.floats(0.001, 0.02)), 0.0
    rows = []
    for i, cap in enumerate(caps):
        row = {"max_notional": cap}
        if i:
            # Maintenance steps by `up` times the notional at the previous cap, up or down
            # (0: continuous, the amount Binance derives); a rate step of at least `up` keeps
            # the amount >= 0, which the config requires.
            up = 0.0
            if jumps:
                big = st.floats(-0.05, -0.01) | st.floats(0.01, 0.05)
                up = draw(big if tight else st.floats(-0.05, 0.05))
                # a drop may take the maintenance at the cap down to 0, not below (the config
                # refuses a tier whose maintenance is negative anywhere)
                up = max(up, -(mmr - amount / caps[i - 1]))
            step = max(0.0, up) + draw(st.floats(0.0, 0.01 if tight else 0.1))
            mmr += step
            amount += caps[i - 1] * (step - up)
            if jumps:
                row["maintenance_amount"] = amount
        # the config wants mmr < 1 / max_leverage; leverage limits then fall as rates rise
        row.update(mmr=mmr, max_leverage=min(125.0, math.floor(0.99 / mmr)))
        rows.append(row)
    return rows


def size_positions(draw, positions: list[dict], markets: dict, tight: bool) -> float:
    """Give each position a leverage its tier allows and a margin; returns the margins' sum."""
    posted = 0.0
    for p in positions:
        rows = markets[p["asset"]]["tiers"]
        caps, mmrs = ([r[k] for r in rows] for k in ("max_notional", "mmr"))
        table = TierTable.build(caps, mmrs, [1.0] * len(rows))
        # the limit just above the notional: the lower one if rounding moves it across a cap
        limit = rows[tier_index(table, p["notional"] * (1 + 1e-9))]["max_leverage"]
        p["leverage"] = 1.0 + draw(st.floats(0.7 if tight else 0.0, 1.0)) * (limit - 1.0)
        extra = 1.0 if tight else draw(st.sampled_from([1.0, 1.5, 3.0]))  # margin / initial
        if extra > 1.0:
            p["margin"] = p["notional"] / p["leverage"] * extra
        posted += p["notional"] / p["leverage"] * extra
    return posted


@st.composite
def books(draw) -> dict:
    """A config of 1-4 positions on 1-2 assets, long and short, isolated and cross, every mode."""
    names = ASSETS[: draw(st.integers(1, 2))]
    marks = {a: draw(st.floats(10.0, 1e5)) for a in names}
    tight = draw(st.sampled_from([True, False]))
    positions = []
    for i in range(draw(st.integers(1, 4))):
        asset = draw(st.sampled_from(names))
        pos = {
            "id": f"p{i}",
            "asset": asset,
            "side": draw(st.sampled_from(["long", "short"])),
            "notional": draw(st.floats(1e3, 1e5)),
            "margin_mode": draw(st.sampled_from(["isolated", "cross"])),
        }
        # entries away from the mark too, less far at high leverage (else liquidated at once)
        move = draw(st.just(1.0) | (st.floats(0.995, 1.005) if tight else st.floats(0.9, 1.1)))
        if move != 1.0:
            pos["entry_price"] = marks[asset] * move
        positions.append(pos)
    markets = {}
    for a in names:
        notionals = [p["notional"] for p in positions if p["asset"] == a]
        if notionals:
            markets[a] = {"tiers": draw(tier_rows(notionals, tight))}
    posted = size_positions(draw, positions, markets, tight)
    model = {"type": "gbm", "assets": {a: {"price": m, "vol": 0.5} for a, m in marks.items()}}
    if len(names) == 2:
        model["correlation"] = [[1.0, 0.0], [0.0, 1.0]]
    return {
        "name": "prop",
        "simulation": {"paths": 1, "horizon_days": 1.0, "steps_per_day": 24},
        "model": model,
        "exchange": {
            "liquidation_fee": 0.01,
            "funding": {"rate": 0.0, "interval_hours": 8.0},
            "markets": markets,
        },
        "account": {"wallet": posted * draw(st.floats(1.0, 1.2 if tight else 3.0))},
        "positions": positions,
        "modes": MODES,
    }
