"""`stress import`: an account's own files as a config, and the round trip to the venue's prices.

The fixtures (tests/venues/fixtures/) are in the structures ccxt and Binance document:

* ccxt_*.json: ccxt's ``fetch_positions``, ``fetch_leverage_tiers`` and ``fetch_balance`` of a
  Binance account, as ccxt's binance.ts builds them from ``/fapi/v2/positionRisk``,
  ``/fapi/v1/leverageBracket`` and ``/fapi/v2/account`` (``collateral`` of an isolated position is
  Binance's ``isolatedMargin``, PnL included; ``total`` is the ``marginBalance``). The cross book
  is the worked example of Binance's FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures
  Contracts" (wallet 1,535,443.01; BTCUSDT and ETHUSDT longs; liquidation prices 26,316.89 and
  1,153.26, published to the cent; see tests/margin/test_rules_liquidation.py), with Binance's
  2021 brackets (tests/support/binance_tiers.py); an isolated SOL short is added, its isolated
  wallet 7,500 on top of that cross wallet.
* binance_*.json: Binance's own answers (amounts as text, one empty entry): a cross BTC short /
  ETH long hedge and an isolated DOGE long whose isolated wallet fell below its initial margin;
  liquidation prices to 8 decimals, as ``positionRisk`` gives them.

`test_fixture_prices_are_binances_formula` recomputes every reported price from the files with
the published formula in exact arithmetic, independently of stress, so the round trip compares
stress with the venue's formula and not with itself.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

import stress
from stress.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CCXT = {k: FIXTURES / f"ccxt_{k}.json" for k in ("positions", "tiers", "balance")}
BINANCE = {
    "positions": FIXTURES / "binance_position_risk.json",
    "tiers": FIXTURES / "binance_leverage_bracket.json",
    "balance": FIXTURES / "binance_balance.json",
}


def run(capsys, monkeypatch, *args) -> tuple[int, str, str]:
    """``stress ARGS`` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["stress", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


# --- the fixtures' prices are Binance's formula's -----------------------------------------


def _table(rows, cap, mmr, cum):
    return [(Fraction(str(r[cap])), Fraction(str(r[mmr])), Fraction(str(r[cum]))) for r in rows]


def _tables(files) -> dict[str, list]:
    data = load(files["tiers"])
    if isinstance(data, dict):  # ccxt: symbol -> tiers, the venue's cum under info
        return {
            s.split("/")[0]: [
                (Fraction(str(t["maxNotional"])), Fraction(str(t["maintenanceMarginRate"])),
                 Fraction(str(t["info"]["cum"])))
                for t in rows
            ]
            for s, rows in data.items()
        }  # fmt: skip
    return {
        e["symbol"].removesuffix("USDT"): _table(
            e["brackets"], "notionalCap", "maintMarginRatio", "cum"
        )
        for e in data
    }


def _positions(files) -> list[dict]:
    """(asset, side, q, entry, mark, mode, wallet part, reported price) of each open position."""
    out = []
    for p in load(files["positions"]):
        if "positionAmt" in p:  # Binance: signed size, isolatedWallet is the margin
            amt = Fraction(p["positionAmt"])
            if amt == 0:
                continue
            asset, side, q = p["symbol"].removesuffix("USDT"), 1 if amt > 0 else -1, abs(amt)
            iso, reported = Fraction(p["isolatedWallet"]), p["liquidationPrice"]
        else:  # ccxt: collateral counts the PnL
            asset, side = p["symbol"].split("/")[0], 1 if p["side"] == "long" else -1
            q, reported = Fraction(str(p["contracts"])), repr(p["liquidationPrice"])
            iso = Fraction(str(p["collateral"])) - Fraction(str(p["unrealizedPnl"]))
        mode = p.get("marginMode", p.get("marginType"))
        ep, mark = Fraction(str(p["entryPrice"])), Fraction(str(p["markPrice"]))
        out.append(
            dict(asset=asset, s=side, q=q, ep=ep, mark=mark, mode=mode, iso=iso, lp=reported)
        )
    return out


def _maintenance(table, notional):
    for cap, mmr, cum in table:
        if notional <= cap:
            return notional * mmr - cum
    return notional * table[-1][1] - table[-1][2]


def _formula(p, wb, table, tmm1, upnl1):
    """LP = (WB - TMM1 + UPNL1 + cumB - Side1*Q*EP1) / (Q*MMR_B - Side1*Q), bracket B at LP."""
    floor = 0
    for cap, mmr, cum in table:
        lp = (wb - tmm1 + upnl1 + cum - p["s"] * p["q"] * p["ep"]) / (
            p["q"] * mmr - p["s"] * p["q"]
        )
        if floor < p["q"] * lp <= cap:
            return lp
        floor = cap
    raise AssertionError("no bracket holds the price")


def _venue_prices(files, cross_wallet: Fraction) -> dict[str, Fraction]:
    tables, book = _tables(files), _positions(files)
    out = {}
    for p in book:
        if p["mode"] == "isolated":
            out[p["asset"]] = _formula(p, p["iso"], tables[p["asset"]], 0, 0)
            continue
        others = [o for o in book if o is not p and o["mode"] == "cross"]
        tmm1 = sum(_maintenance(tables[o["asset"]], o["q"] * o["mark"]) for o in others)
        upnl1 = sum(o["s"] * o["q"] * (o["mark"] - o["ep"]) for o in others)
        out[p["asset"]] = _formula(p, cross_wallet, tables[p["asset"]], tmm1, upnl1)
    return out


def _rounded(x: Fraction, like: str) -> str:
    places = len(like.partition(".")[2])
    d = Decimal(x.numerator) / Decimal(x.denominator)
    return str(d.quantize(Decimal(1).scaleb(-places)))


@pytest.mark.parametrize(
    "files, cross_wallet",
    [(CCXT, Fraction("1535443.01")), (BINANCE, Fraction("12000"))],
    ids=["ccxt", "binance"],
)
def test_fixture_prices_are_binances_formula(files, cross_wallet):
    reported = {p["asset"]: p["lp"] for p in _positions(files)}
    for asset, exact in _venue_prices(files, cross_wallet).items():
        assert _rounded(exact, reported[asset]) == reported[asset], asset


def test_the_ccxt_fixture_is_binances_faq_example():
    by_asset = {p["asset"]: p for p in _positions(CCXT)}
    assert by_asset["BTC"]["lp"] == "26316.89" and by_asset["ETH"]["lp"] == "1153.26"
    assert (by_asset["BTC"]["q"], by_asset["ETH"]["q"]) == (
        Fraction("109.488"),
        Fraction("3683.979"),
    )
    # the FAQ's cross wallet is the total wallet less the isolated SOL's, as in the balance
    total = Fraction(load(CCXT["balance"])["info"]["totalWalletBalance"])
    assert total - by_asset["SOL"]["iso"] == Fraction("1535443.01")


# --- the round trip -----------------------------------------------------------------------


def _tolerance(reported: str) -> float:
    """Half a unit of the last digit the venue gave, and float rounding on top."""
    return 0.5 * 10.0 ** -len(reported.partition(".")[2]) * (1 + 1e-9) + 1e-9 * float(reported)


def _ccxt_as_brackets(folder: Path) -> Path:
    """The ccxt fixture's tiers as Binance's leverage brackets (the ``info`` of each tier)."""
    data = [
        {"symbol": s.replace("/", "").split(":")[0], "brackets": [t["info"] for t in rows]}
        for s, rows in load(CCXT["tiers"]).items()
    ]
    path = folder / "brackets.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", ["ccxt", "binance", "binance-preset", "mixed"])
def test_round_trip_reproduces_the_venues_liquidation_prices(case, tmp_path, capsys, monkeypatch):
    files = dict(BINANCE if case.startswith("binance") else CCXT)
    if case == "mixed":  # ccxt's positions with Binance's own brackets
        files["tiers"] = _ccxt_as_brackets(tmp_path)
    extra = ["--venue", "binance"] if case == "binance-preset" else []
    target = tmp_path / "account.yaml"
    args = [files["positions"], "--tiers", files["tiers"], "--balance", files["balance"]]
    code, out, err = run(capsys, monkeypatch, "import", *args, *extra, "-o", target)
    assert code == 0, err
    assert out == "" and f"wrote {target}" in err
    assert "warning: no --model" in err and err.count("warning:") == 1  # nothing else to say
    prices = stress.liquidation_prices(target)
    rows = prices[prices["mode"] == "as_configured"].set_index("asset")
    reported = {p["asset"]: p["lp"] for p in _positions(files)}
    assert sorted(rows.index) == sorted(reported)
    for asset, lp in reported.items():
        got = rows.loc[asset, "liquidation_price"]
        assert abs(got - float(lp)) <= _tolerance(lp), (asset, got, lp)


def test_the_config_holds_the_venues_numbers(tmp_path, capsys, monkeypatch):
    target = tmp_path / "faq.yaml"
    args = ["--tiers", CCXT["tiers"], "--balance", CCXT["balance"], "-o", target]
    assert run(capsys, monkeypatch, "import", CCXT["positions"], *args)[0] == 0
    cfg = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert cfg["name"] == "faq"
    # the wallet without PnL: ccxt's total (the margin balance) less the unrealised PnL
    assert cfg["account"]["wallet"] == pytest.approx(1_542_943.01, abs=1e-6)
    sol = next(p for p in cfg["positions"] if p["asset"] == "SOL")
    # collateral 5,372 (isolatedMargin, PnL included) less the PnL -2,128: the isolated wallet
    assert sol["margin"] == pytest.approx(7_500, abs=1e-9)
    assert sol == {**sol, "side": "short", "quantity": 400, "margin_mode": "isolated"}
    assert {a: v["price"] for a, v in cfg["model"]["assets"].items()} == {
        "BTC": 31967.27, "ETH": 1335.18, "SOL": 155.32,
    }  # fmt: skip
    btc = cfg["exchange"]["markets"]["BTC"]["tiers"]
    assert btc[3] == {"max_notional": 10_000_000, "max_leverage": 20, "mmr": 0.025,
                      "maintenance_amount": 16_300}  # fmt: skip
    text = target.read_text(encoding="utf-8")
    for said in (
        "ccxt fetch_positions", "ccxt fetch_leverage_tiers", "ccxt fetch_balance",
        "the venue's liquidation price: 26316.89", "maintenance_amount the venue's",
        "minus the positions' unrealised PnL", "model: a default, not a fit",
    ):  # fmt: skip
        assert said in text


def test_binance_files_skip_empty_entries_and_fit_the_leverage_to_the_margin(
    tmp_path, capsys, monkeypatch
):
    args = ["--tiers", BINANCE["tiers"], "--balance", BINANCE["balance"]]
    code, out, _ = run(capsys, monkeypatch, "import", BINANCE["positions"], *args)
    assert code == 0
    assert "(1 empty entry left out)" in out
    cfg = yaml.safe_load(out)
    assert cfg["account"]["wallet"] == 15_991.2
    doge = next(p for p in cfg["positions"] if p["asset"] == "DOGE")
    # isolatedWallet 3,991.2 is below 80,000 / 20: the leverage the margin gives is written
    assert doge["margin"] == 3_991.2
    assert doge["leverage"] == pytest.approx(80_000 / 3_991.2)
    assert "the venue's 20x asks more margin" in out
