"""Venue presets: every shipped file is a valid exchange block; a config's fields override it."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import ROOT, error_of

import stress
from stress.config.schema import PRESETS, Exchange
from stress.venues.presets import apply_preset, load_preset, presets

BASE = {
    "name": "presets",
    "seed": 3,
    "simulation": {"paths": 256, "horizon_days": 1, "steps_per_day": 24},
    "model": {
        "type": "gbm",
        "assets": {
            "BTC": {"price": 60000, "vol": 0.6},
            "ETH": {"price": 3000, "vol": 0.8},
            "SOL": {"price": 150, "vol": 1.0},
            "DOGE": {"price": 0.1, "vol": 1.2},
        },
        "correlation": [
            [1.0, 0.8, 0.7, 0.6],
            [0.8, 1.0, 0.7, 0.6],
            [0.7, 0.7, 1.0, 0.6],
            [0.6, 0.6, 0.6, 1.0],
        ],
    },
    "account": {"wallet": 10000},
    "positions": [
        {"id": "btc", "asset": "BTC", "side": "long", "notional": 20000, "leverage": 5},
        {"id": "doge", "asset": "DOGE", "side": "short", "notional": 5000, "leverage": 4},
    ],
}


def config(**exchange) -> dict:
    cfg = copy.deepcopy(BASE)
    cfg["exchange"] = exchange
    return cfg


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_is_a_valid_exchange_with_its_sources_and_date(name):
    preset = load_preset(name)
    assert preset.name == name
    assert preset.snapshot and preset.sources and preset.models
    assert set(preset.exchange["markets"]) == {"BTC", "ETH", "SOL"}
    Exchange.model_validate(preset.exchange)  # strict schema, no unknown keys
    plan = stress.prepare(config(preset=name))  # every rule of a config, tiers included
    ex = plan.config.exchange
    assert ex.preset == name
    assert sorted(ex.markets) == ["BTC", "ETH", "SOL"]  # DOGE: the preset's default market
    assert ex.liquidation.process == preset.exchange["liquidation"]["process"]


def test_the_listing_names_every_preset_once():
    assert [p.name for p in presets()] == list(PRESETS)


def test_a_written_field_overrides_the_preset_key_by_key():
    plan = stress.prepare(config(preset="bybit", funding={"rate": 0.0003}))
    funding = plan.config.exchange.funding
    bybit = load_preset("bybit").exchange["funding"]
    assert funding.rate == 0.0003
    assert (funding.interval_hours, funding.cap) == (bybit["interval_hours"], bybit["cap"])
    assert plan.config.exchange.liquidation_fee == load_preset("bybit").exchange["liquidation_fee"]


def test_a_written_market_replaces_the_presets_tiers_and_keeps_its_book():
    mine = {"tiers": [{"max_notional": 1e6, "max_leverage": 50, "mmr": 0.01}]}
    plan = stress.prepare(config(preset="binance", markets={"BTC": mine}))
    ex = plan.config.exchange
    book = load_preset("binance").exchange["markets"]["BTC"]["liquidity"]
    assert len(ex.markets["BTC"].tiers) == 1
    assert ex.markets["BTC"].liquidity.depth_usd == book["depth_usd"]  # not the alts' default
    assert ex.markets["ETH"].liquidity is not None  # the others stay the preset's
    gone = {**mine, "liquidity": None}
    ex = stress.prepare(config(preset="binance", markets={"BTC": gone})).config.exchange
    assert ex.markets["BTC"].liquidity is None


def test_a_written_process_replaces_the_presets_liquidation_block():
    ex = stress.prepare(config(preset="hyperliquid", liquidation={"process": "full_close"}))
    liq = ex.config.exchange.liquidation
    assert liq.process == "full_close" and "slice_fraction" not in liq.model_fields_set


def test_without_a_preset_the_config_is_left_alone():
    cfg = stress.load_config(config(liquidation_fee=0.004))
    assert apply_preset(cfg) is cfg


def test_preset_markets_only_for_the_models_assets():
    cfg = copy.deepcopy(BASE)
    cfg["model"]["assets"] = {"BTC": BASE["model"]["assets"]["BTC"]}
    cfg["model"].pop("correlation")
    cfg["positions"] = cfg["positions"][:1]
    cfg["exchange"] = {"preset": "okx"}
    assert list(stress.prepare(cfg).config.exchange.markets) == ["BTC"]


def test_a_leverage_the_venue_refuses_names_the_field():
    cfg = config(preset="dydx")  # dYdX: BTC at most 20x
    cfg["positions"][0]["leverage"] = 25
    assert error_of(cfg, prepare=True) == (
        "<config>: positions[0].leverage: must be <= 20 for BTC notional 20,000 (tier 1), got 25"
    )


def test_an_unknown_preset_is_refused_when_loading():
    assert error_of(config(preset="ftx")) == (
        "<config>: exchange.preset: expected 'binance', 'bybit', 'okx', 'hyperliquid' or 'dydx', "
        "got 'ftx'"
    )


def test_a_parameter_of_another_process_is_refused():
    message = error_of(config(liquidation={"process": "full_close", "slice_fraction": 0.5}))
    assert message == (
        "<config>: exchange.liquidation.slice_fraction: only used by process slices, "
        "got process full_close"
    )


def test_a_written_tier_that_breaks_the_rules_names_the_preset():
    bad = {"tiers": [{"max_notional": 1e6, "max_leverage": 50, "mmr": 0.03}]}
    message = error_of(config(preset="bybit", markets={"ETH": bad}))
    assert message.startswith("<config>: exchange.markets.ETH.tiers[0].mmr: must be below")


def test_the_shipped_files_are_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"stress.venues" = ["presets/*.yaml"]' in pyproject
    for name in PRESETS:
        text = (ROOT / "stress" / "venues" / "presets" / f"{name}.yaml").read_text()
        assert yaml.safe_load(text)["name"] == name


def test_binance_without_books_and_with_the_residual_to_the_trader_is_todays_engine():
    """The Binance preset differs from a plain config only by what the venue documents: its
    order books and the residual margin going to the insurance fund. Without those two, it is
    the engine of a config that writes the same tables, bit for bit."""
    binance = load_preset("binance").exchange
    plain_markets = {
        a: {"tiers": binance["markets"][a]["tiers"], "liquidity": None}
        for a in ("BTC", "ETH", "SOL")
    }
    plain = config(
        liquidation_fee=binance["liquidation_fee"],
        funding={k: v for k, v in binance["funding"].items() if k != "cap"},
        markets={a: {"tiers": m["tiers"]} for a, m in plain_markets.items()},
        default_market={"mmr": 0.01, "max_leverage": 75},
    )
    preset = config(
        preset="binance",
        liquidation={"process": "full_close", "residual": "trader"},
        markets=plain_markets,
        default_market={"liquidity": None},
    )
    a, b = stress.run(plain, paths=512), stress.run(preset, paths=512)
    assert a.metrics == b.metrics
    assert b.config.exchange.funding.cap == binance["funding"]["cap"]  # above the rate: no effect
    residual = stress.run(config(preset="binance", markets=plain_markets), paths=512)
    isolated = [k for k, book in enumerate(a.layout.books) if book.mode == "isolated"]
    assert all(residual.metrics[k]["es_99"] >= a.metrics[k]["es_99"] for k in isolated)
