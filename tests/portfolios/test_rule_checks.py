"""The trader's rules a config may hold: schema errors and the checks that need the marks."""

from __future__ import annotations

import pytest
from conftest import error_of
from support.bad_input import mutated

CASES = [
    (
        [("positions.0.stop_loss", {"price": 61000})],
        "positions[0].stop_loss.price: a long's stop below its asset's price now (60,000)",
        True,
    ),
    (
        [("positions.1.stop_loss", {"price": 2900})],
        "positions[1].stop_loss.price: a short's stop above its asset's price now (3,000)",
        True,
    ),
    (
        [("positions.0.stop_loss", {"price": 50000, "margin_fraction": 0.5})],
        "positions[0].stop_loss: expected either price or margin_fraction, got both",
        False,
    ),
    (
        [("positions.0.stop_loss", {})],
        "positions[0].stop_loss: expected either price or margin_fraction, got neither",
        False,
    ),
    (
        [("positions.0.reduce", [{"move": 1.0, "close": 0.5}])],
        "positions[0].reduce[0].move: below 1 for a fall of the price (a long, against)",
        True,
    ),
    (
        [
            (
                "positions.1.reduce",
                [{"move": 0.1, "close": 0.5}, {"move": 1.5, "close": 0.5, "direction": "favour"}],
            )
        ],
        "positions[1].reduce[1].move: below 1 for a fall of the price (a short, favour)",
        True,
    ),
    (
        [("positions.0.reduce", [{"move": 0.1, "close": 1.5}])],
        "positions[0].reduce[0].close",
        False,
    ),
    (
        [("positions.1.top_up", {"at_margin_ratio": 1.5})],
        "positions[1].top_up.at_margin_ratio",
        False,
    ),
    (
        [("positions.1.top_up", {"at_margin_ratio": 0.8, "amount": "half"})],
        "positions[1].top_up.amount: expected 'initial' or an amount in USDT, got 'half'",
        False,
    ),
    (
        [("account.hard_stop", {"drawdown": 0.2, "equity": 5000})],
        "account.hard_stop: expected either drawdown or equity, got both",
        False,
    ),
    (
        [("account.hard_stop", {"equity": 10000})],
        "account.hard_stop.equity: below the starting equity (10,000 in bad-input)",
        True,
    ),
    (
        [
            ("positions.0.stop_loss", {"margin_fraction": 0.5}),
            ("exchange.liquidation", {"process": "slices"}),
        ],
        "positions[0].stop_loss: the trader's rules run with exchange.liquidation.process "
        "full_close, fillable_price or tier_step_down, got process slices",
        True,
    ),
    (
        [
            ("account.hard_stop", {"drawdown": 0.5}),
            (
                "scenarios",
                [
                    {
                        "name": "adl",
                        "adl": {
                            "trigger": {"asset": "BTC", "move": -0.1, "within_hours": 4},
                            "probability": 0.5,
                        },
                    }
                ],
            ),
        ],
        "scenarios[0].adl: not simulated together with the trader's rules "
        "(set at account.hard_stop)",
        True,
    ),
]


@pytest.mark.parametrize(("edits", "fragment", "prepare"), CASES)
def test_bad_rules_are_refused_with_the_field_named(edits, fragment, prepare):
    message = error_of(mutated(*edits), prepare=prepare)
    assert fragment in message, message


def test_good_rules_load_and_prepare():
    import stress

    cfg = mutated(
        ("positions.0.stop_loss", {"price": 55000}),
        (
            "positions.0.reduce",
            [{"move": 0.05, "close": 0.25}, {"move": 0.1, "close": 0.5, "direction": "favour"}],
        ),
        ("positions.1.stop_loss", {"margin_fraction": 0.5}),
        ("positions.1.top_up", {"at_margin_ratio": 0.8, "amount": 500.0, "max_times": 3}),
        ("account.hard_stop", {"drawdown": 0.3}),
        ("account.risk_capital", 3000.0),
    )
    plan = stress.prepare(cfg)
    rules = plan.layout.rules
    assert rules is not None
    # isolated, cross and as_configured books: two positions each, the ladder twice per book
    assert rules.rung_move.tolist() == [0.05, 0.1] * 3
    assert plan.portfolios[0].risk_capital == 3000.0
    # the hard stop sits 30 % below each book's starting equity
    assert rules.book_stop.tolist() == pytest.approx(
        (0.7 * plan.layout.book_initial_equity).tolist()
    )
