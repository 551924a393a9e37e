"""The ``optimise:`` block against the rest of the config (stress.config.checks.check_optimise):
checked when the config is loaded, and again by `stress optimise` with its defaults."""

from __future__ import annotations

import pytest
from config_cases import as_portfolios, assert_error
from support.bad_input import BASE, DELETE, mutated

import stress

GOOD_BLOCK = {"positions": ["eth-short"], "margin": {"min": 1, "max": 3}, "steps": 3}


def with_block(block: dict, *edits: tuple[str, object]) -> dict:
    return mutated(("account.risk_capital", 6000), ("optimise", block), *edits)


def test_a_good_block_loads_and_a_config_without_one_still_does():
    assert stress.load_config(with_block(GOOD_BLOCK)).optimise.margin.max == 3
    assert stress.load_config(BASE).optimise is None


@pytest.mark.parametrize(
    ("cfg", "fragments"),
    [
        pytest.param(
            with_block({"positions": ["eth-shrot"]}),
            [
                "optimise.positions[0]: unknown position id 'eth-shrot'",
                "(known: btc-long, eth-short)",
            ],
            id="unknown-id",
        ),
        pytest.param(
            with_block({"positions": ["btc-long", "btc-long"]}),
            ["optimise.positions[1]: expected each id once, got 'btc-long' twice"],
            id="repeated-id",
        ),
        pytest.param(
            with_block({"margin": {"min": 0.5, "max": 2}}),
            ["optimise.margin.min: expected >= 1 (an isolated margin is at least the initial"],
            id="margin-below-initial",
        ),
        pytest.param(
            with_block({"margin": {"min": 6, "max": 8}}),
            [
                "optimise.margin.min: expected margins that fit in the wallet",
                "6 x the initial margin of 'btc-long' is 12,000, above account.wallet 10,000",
            ],
            id="margin-beyond-wallet",
        ),
        pytest.param(
            with_block({"leverage": {"min": 1, "max": 1.5}}),
            ["optimise.margin.min: expected margins that fit in the wallet", "'btc-long'"],
            id="leverage-bounds-beyond-wallet",
        ),
        pytest.param(
            with_block({"margin": {"min": 3, "max": 2}}),
            ["optimise.margin: expected min <= max, got min 3.0 and max 2.0"],
            id="bounds-reversed",
        ),
        pytest.param(
            {**as_portfolios(), "optimise": GOOD_BLOCK},
            ["portfolios: stress optimise searches one portfolio", "got 2 portfolios"],
            id="two-portfolios",
        ),
    ],
)
def test_bad_blocks_are_one_line_naming_the_field(cfg, fragments):
    assert_error(cfg, *fragments)


def test_positions_without_ids_are_named_by_their_default_ids():
    cfg = with_block({"positions": ["ETH-short-1"]}, ("positions.1.id", DELETE))
    assert stress.load_config(cfg).optimise.positions == ["ETH-short-1"]
    bad = with_block({"positions": ["eth-short"]}, ("positions.1.id", DELETE))
    assert_error(bad, "unknown position id 'eth-short' (known: btc-long, ETH-short-1)")


def test_a_block_does_not_need_the_risk_capital_to_load_only_to_search():
    cfg = mutated(("optimise", GOOD_BLOCK))
    assert stress.load_config(cfg).account.risk_capital is None  # --risk-capital may give it
    with pytest.raises(stress.ConfigError) as info:
        stress.optimise(cfg)
    text = str(info.value)
    assert text.startswith("<config>: account.risk_capital: required by stress optimise"), text
    assert "\n" not in text
