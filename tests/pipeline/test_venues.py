"""``stress compare --venues``: one book on several venues, on the same paths, paired."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import run_stress, write

import stress
from stress.pipeline.venues import compare_venues, on_venue, parse_venues

BOOK = {
    "name": "venues",
    "seed": 11,
    "simulation": {"paths": 512, "horizon_days": 2, "steps_per_day": 48},
    "model": {
        "type": "gbm",
        "assets": {"BTC": {"price": 60000, "vol": 0.7}, "ETH": {"price": 3000, "vol": 0.9}},
        "correlation": [[1.0, 0.8], [0.8, 1.0]],
    },
    "exchange": {"liquidation_fee": 0.004},  # replaced by each venue's preset
    "account": {"wallet": 8000},
    "positions": [
        {"id": "eth", "asset": "ETH", "side": "long", "notional": 30000, "leverage": 10},
        {"id": "btc", "asset": "BTC", "side": "short", "notional": 30000, "leverage": 10},
    ],
}


@pytest.fixture(scope="module")
def table():
    return compare_venues(stress.load_config(BOOK), ["binance", "bybit", "dydx"])


def test_each_venue_is_the_run_of_its_preset(table):
    cfg = stress.load_config(BOOK)
    for venue in ("bybit", "dydx"):
        alone = stress.run(on_venue(cfg, venue))
        assert alone.config.exchange.preset == venue
        for k, book in enumerate(alone.layout.books):
            row = table["portfolios"][0]["modes"][book.mode][venue]
            assert row["p_liquidation"] == alone.metrics[k]["p_liquidation"]
            assert row["es_99"] == alone.metrics[k]["es_99"]


def test_differences_are_paired_against_the_first_venue(table):
    assert table["reference"] == "binance" and table["venues"] == ["binance", "bybit", "dydx"]
    for rows in table["portfolios"][0]["modes"].values():
        assert "versus_binance" not in rows["binance"]
        for venue in ("bybit", "dydx"):
            d = rows[venue]["versus_binance"]["p_liquidation"]
            want = rows[venue]["p_liquidation"] - rows["binance"]["p_liquidation"]
            assert d["difference"] == pytest.approx(want, abs=1e-15)
            lo, hi = d["ci"]
            assert lo <= d["difference"] <= hi


def test_the_config_exchange_block_is_replaced_not_merged():
    cfg = on_venue(stress.load_config(BOOK), "okx")
    assert cfg.exchange.model_fields_set == {"preset"}
    assert stress.prepare(cfg).config.exchange.liquidation_fee == 0.005  # okx's, not 0.004


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("binance", "--venues: expected two or more different presets, got 'binance'"),
        ("binance,binance", "--venues: expected two or more different presets"),
        ("binance,ftx", "--venues: expected presets among binance, bybit, okx, hyperliquid, dydx"),
    ],
)
def test_bad_venue_lists(text, message):
    with pytest.raises(stress.ConfigError, match=message.replace("(", r"\(")):
        parse_venues(text)


def test_a_venue_that_cannot_open_the_book_is_reported_not_run():
    book = copy.deepcopy(BOOK)
    book["positions"][0]["leverage"] = 22  # above dYdX's 20x, within Binance's ETH tier
    book["account"]["wallet"] = 20000
    table = compare_venues(stress.load_config(book), ["binance", "dydx"])
    reason = (
        "<config>: positions[0].leverage: must be <= 20 for ETH notional 30,000 (tier 1), got 22"
    )
    assert table["refused"] == {"dydx": reason}
    for rows in table["portfolios"][0]["modes"].values():
        assert rows["dydx"] == {"feasible": False, "reason": reason}
        assert rows["binance"]["p_liquidation"] >= 0
    # the reference venue must open it
    with pytest.raises(stress.ConfigError, match=r"^venue dydx: <config>: positions\[0\]"):
        compare_venues(stress.load_config(book), ["dydx", "binance"])


def test_the_command_line(tmp_path):
    path = write(tmp_path, json.dumps(BOOK), "book.yaml")
    done = run_stress("compare", path, "--venues", "binance,hyperliquid", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["venues"] == ["binance", "hyperliquid"] and data["paths"] == 512
    listed = run_stress("venues", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    presets = json.loads(listed.stdout)["presets"]
    assert [p["name"] for p in presets] == ["binance", "bybit", "okx", "hyperliquid", "dydx"]
    assert all(p["snapshot"] and p["sources"] and p["process"] for p in presets)
    bad = run_stress("compare", path, "--venues", "binance", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --venues:")


def test_sweep_points_a_venue_cannot_open_are_marked_not_compared():
    book = copy.deepcopy(BOOK)
    base = {"account": book.pop("account"), "positions": book.pop("positions")}
    base["account"]["wallet"] = 20000
    book["sweep"] = {"base": base, "grid": {"leverage": [10, 30]}}  # dYdX allows 20x at most
    book["simulation"]["paths"] = 256
    table = compare_venues(stress.load_config(book), ["binance", "dydx"])
    feasible = {
        port["name"]: rows["dydx"].get("feasible", True)
        for port in table["portfolios"]
        for rows in port["modes"].values()
    }
    assert sorted(feasible.values()) == [False, True]
    opened = next(p for p in table["portfolios"] if feasible[p["name"]])
    assert "versus_binance" in opened["modes"]["cross"]["dydx"]
