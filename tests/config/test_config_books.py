"""Whole-book rules, in process (stress.prepare): markets, positions, tiers, margins, the wallet;
and portfolio lists, where the field path names the portfolio.
"""

from __future__ import annotations

import copy

import pytest
from config_cases import as_portfolios, assert_error
from support.bad_input import BASE, DELETE, mutated

import stress

# ---------------------------------------------------------------------------------------------
# Whole-book rules (stress.prepare: markets, positions, tiers, margins, the wallet)


@pytest.mark.parametrize(
    ("edits", "fragments"),
    [
        pytest.param(
            [("positions.1.asset", "DOGE")],
            ["positions[1].asset: expected an asset of model.assets (BTC, ETH), got 'DOGE'"],
            id="unknown-asset",
        ),
        pytest.param(
            [("positions.0.quantity", 0.3)],
            ["positions[0]: give exactly one of notional or quantity, got both"],
            id="notional-and-quantity",
        ),
        pytest.param(
            [("positions.0.notional", DELETE)],
            ["positions[0]: give exactly one of notional or quantity, got neither"],
            id="neither-notional-nor-quantity",
        ),
        pytest.param(
            [("positions.0.leverage", 130)],
            ["positions[0].leverage: must be <= 125 for BTC notional 20,000 (tier 1), got 130"],
            id="leverage-above-tier-1",
        ),
        pytest.param(
            [("positions.0.notional", 200000), ("positions.0.leverage", 120)],
            ["positions[0].leverage: must be <= 100 for BTC notional 200,000 (tier 2), got 120"],
            id="leverage-above-tier-2",
        ),
        pytest.param(
            [("positions.0.notional", 50001), ("positions.0.leverage", 125)],
            ["positions[0].leverage: must be <= 100 for BTC notional 50,001 (tier 2), got 125"],
            id="leverage-just-past-tier-1",
        ),
        pytest.param(
            # 4 BTC at an entry of 70,000 is 280,000: tier 3 (50x), not tier 2 at the mark
            [
                ("positions.0.notional", DELETE),
                ("positions.0.quantity", 4),
                ("positions.0.entry_price", 70000),
                ("positions.0.leverage", 60),
            ],
            ["positions[0].leverage: must be <= 50 for BTC notional 280,000 (tier 3), got 60"],
            id="leverage-tier-from-quantity-at-entry",
        ),
        pytest.param(
            [("positions.1.leverage", 126)],
            ["positions[1].leverage: must be <= 125 for ETH notional 20,000 (tier 1), got 126"],
            id="leverage-above-default-market",
        ),
        pytest.param(
            [("positions.0.notional", 2_000_000), ("positions.0.leverage", 1)],
            [
                "positions[0].notional: expected a notional <= 1,000,000 (the largest BTC tier)",
                "got 2,000,000",
            ],
            id="notional-above-largest-tier",
        ),
        pytest.param(
            [("positions.1.margin", 100)],
            [
                "positions[1].margin: must be >= the initial margin 2,000",
                "(notional 20,000 / leverage 10), got 100",
            ],
            id="margin-below-initial-margin",
        ),
        pytest.param(
            [("positions.1.margin", 20000)],
            [
                "account.wallet: must cover the isolated margins of all positions (mode isolated)",
                "expected >= 22,000, got 10,000",
            ],
            id="isolated-margins-above-wallet",
        ),
        pytest.param(
            [("positions.1.margin", 20000), ("modes", ["as_configured"])],
            [
                "account.wallet: must cover the isolated margins (as_configured)",
                "expected >= 20,000, got 10,000",
            ],
            id="isolated-margins-above-wallet-as-configured",
        ),
        pytest.param(
            [("account.wallet", 3000), ("modes", ["cross"])],
            [
                "account.wallet: must cover the initial margin of all positions (mode cross)",
                "expected >= 4,000, got 3,000",
            ],
            id="initial-margin-above-wallet-cross",
        ),
        pytest.param(
            [("positions.1.id", "btc-long")],
            ["positions[1].id: duplicate id 'btc-long' (also positions[0])"],
            id="duplicate-position-id",
        ),
        pytest.param(
            [
                (
                    "exchange.markets.SOL",
                    {"tiers": [{"max_notional": 1e6, "max_leverage": 20, "mmr": 0.01}]},
                )
            ],
            ["exchange.markets.SOL: expected an asset of model.assets (BTC, ETH), got 'SOL'"],
            id="market-for-unknown-asset",
        ),
    ],
)
def test_book_errors(edits, fragments):
    cfg = mutated(*edits)
    stress.load_config(cfg)  # fields only: the book is checked by prepare
    assert_error(cfg, *fragments, prepare=True)


# ---------------------------------------------------------------------------------------------
# Portfolio lists: the path names the portfolio


def test_portfolios_base_is_valid():
    plan = stress.prepare(as_portfolios())
    assert [p.name for p in plan.portfolios] == ["main", "other"]
    assert plan.sweep is None


@pytest.mark.parametrize(
    ("edits", "fragments", "prepare"),
    [
        pytest.param(
            {"leverage": 130},
            ["portfolios[1].positions[0].leverage: must be <= 125 for BTC notional 20,000"],
            True,
            id="leverage",
        ),
        pytest.param(
            {"leverage": "x"},
            ["portfolios[1].positions[0].leverage: expected a number, got 'x' (a string)"],
            False,
            id="type",
        ),
        pytest.param(
            {"asset": "DOGE"},
            ["portfolios[1].positions[0].asset: expected an asset of model.assets"],
            True,
            id="asset",
        ),
        pytest.param(
            {"margin_mode": "isolated", "margin": 50000},
            ["portfolios[1].account.wallet: must cover the isolated margins"],
            True,
            id="wallet",
        ),
        pytest.param(
            {"volatility": 1},
            ["portfolios[1].positions[0].volatility: unknown key"],
            False,
            id="unknown",
        ),
    ],
)
def test_portfolio_errors_name_the_portfolio(edits, fragments, prepare):
    cfg = as_portfolios(edits)
    if prepare:
        stress.load_config(cfg)  # fields only: the book is checked by prepare
    assert_error(cfg, *fragments, prepare=prepare)


def test_portfolio_names_must_differ():
    cfg = as_portfolios()
    cfg["portfolios"][1]["name"] = "main"
    assert_error(cfg, "portfolios[1].name: duplicate portfolio name 'main'", prepare=True)


def test_portfolios_and_account_do_not_mix():
    cfg = as_portfolios()
    cfg["account"] = {"wallet": 1000}
    cfg["positions"] = copy.deepcopy(BASE["positions"])
    assert_error(cfg, "portfolios: expected either account + positions or a portfolios list")
