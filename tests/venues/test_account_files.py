"""`stress import` on bad input: one line naming the file, the entry and the field, exit 2, and
nothing written; the wallet options; the model; where the output goes.

Each bad file is a fixture of tests/venues/fixtures/ with one field broken.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml
from test_account_import import BINANCE, CCXT, load, run

from stress.errors import ConfigError
from stress.venues.account import import_account


def broken(folder: Path, source: Path, change) -> Path:
    """``source`` with ``change(data)`` applied, written to ``folder`` under the same name."""
    data = copy.deepcopy(load(source))
    change(data)
    path = folder / source.name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def setter(*keys, value=None, delete=False):
    def change(data):
        for key in keys[:-1]:
            data = data[key]
        if delete:
            del data[keys[-1]]
        else:
            data[keys[-1]] = value

    return change


# (files, which file, change, the message after "<file>: ")
CASES = {
    "ccxt-contracts": (CCXT, "positions", setter(1, "contracts", value="abc"),
                       "[1]: contracts: expected a number (the size in contracts), "
                       "got 'abc' (a string)"),
    "ccxt-side": (CCXT, "positions", setter(1, "side", delete=True),
                  "[1]: side: expected long or short, got nothing (no such field)"),
    "ccxt-inverse": (CCXT, "positions", setter(0, "symbol", value="BTC/USD:BTC"),
                     "[0]: symbol: expected a linear perpetual's symbol BASE/QUOTE:QUOTE such as "
                     "BTC/USDT:USDT, got 'BTC/USD:BTC' (a string)"),
    "ccxt-mode": (CCXT, "positions", setter(2, "marginMode", value="portfolio"),
                  "[2]: marginMode: expected cross or isolated, got 'portfolio' (a string)"),
    "ccxt-entry": (CCXT, "positions", setter(0, "entryPrice", value=-5),
                   "[0]: entryPrice: expected a price between 1e-09 and 1e+09, "
                   "got -5 (an integer)"),
    "ccxt-leverage": (CCXT, "positions", setter(0, "leverage", value=None),
                      "[0]: leverage: expected a leverage above 0 and at most 1000, got null"),
    "ccxt-collateral": (CCXT, "positions", setter(2, "collateral", value=-3000),
                        "[2]: collateral: expected a margin that stays above 0 once the unrealised "
                        "PnL -2,128 is taken out, got -3000 (an integer)"),
    "ccxt-entry-type": (CCXT, "positions", setter(1, value="x"),
                        "[1]: expected a mapping (a position), got 'x' (a string)"),
    "ccxt-mark": (CCXT, "positions", lambda d: d.append({**d[0], "markPrice": 32000.0}),
                  "[3]: markPrice: expected the mark of BTC that [0] gives, 31,967.27, got 32,000"),
    "ccxt-settle": (CCXT, "positions", setter(1, "symbol", value="ETH/USDC:USDC"),
                    "[1]: symbol: expected a market margined in USDT like [0]'s, "
                    "got 'ETH/USDC:USDC'"),
    "binance-amount": (BINANCE, "positions", setter(3, "positionAmt", value="1.2.3"),
                       "[3]: positionAmt: expected a number (the size, negative for a short), "
                       "got '1.2.3' (a string)"),
    "binance-dated": (BINANCE, "positions", setter(1, "symbol", value="BTCUSDT_240329"),
                      "[1]: symbol: expected a perpetual symbol such as BTCUSDT (margined in USDT "
                      "or USDC), got 'BTCUSDT_240329' (a string)"),
    "binance-margin": (BINANCE, "positions",
                       lambda d: [d[3].pop(k) for k in ("isolatedWallet", "isolatedMargin")],
                       "[3]: isolatedMargin: expected a number: an isolated position's margin "
                       "(isolatedWallet or isolatedMargin), got nothing (no such field)"),
    "binance-all-empty": (BINANCE, "positions", lambda d: d.__delitem__(slice(1, None)),
                          "(top level): expected at least one open position, got 1 empty one"),
    "ccxt-tier-rate": (CCXT, "tiers",
                       setter("BTC/USDT:USDT", 2, "maintenanceMarginRate", value=1.5),
                       "BTC/USDT:USDT: [2].maintenanceMarginRate: expected a rate above 0 and "
                       "below 1, got 1.5 (a decimal number)"),
    "ccxt-tier-gap": (CCXT, "tiers", setter("ETH/USDT:USDT", 3, "minNotional", value=600_000),
                      "ETH/USDT:USDT: [3].minNotional: expected 500,000, the previous tier's "
                      "maxNotional, got 600000 (an integer)"),
    "ccxt-tier-cum": (CCXT, "tiers", setter("SOL/USDT:USDT", 1, "info", "cum", value="x"),
                      "SOL/USDT:USDT: [1].info.cum: expected an amount >= 0, got 'x' (a string)"),
    # a rule of the config (mmr below 1 / max leverage), said of the file's fields
    "ccxt-tier-rule": (CCXT, "tiers", setter("BTC/USDT:USDT", 1, "maxLeverage", value=300),
                       "BTC/USDT:USDT: [1].maintenanceMarginRate: must be below the initial margin "
                       "rate 1/max_leverage = 0.00333333, got 0.005"),
    "binance-bracket": (BINANCE, "tiers", setter(1, "brackets", 1, "notionalCap", value="a lot"),
                        "BTCUSDT: brackets[1].notionalCap: expected a cap above 50,000, "
                        "got 'a lot' (a string)"),
    "ccxt-total": (CCXT, "balance", setter("USDT", "total", value=None),
                   "USDT: total: expected a number (the balance), got null"),
    "ccxt-total-low": (CCXT, "balance", setter("USDT", "total", value=-600_000),
                       "USDT: total: expected a total that leaves a wallet above 0 and at most "
                       "1e+12 once the positions' unrealised PnL -506,675.45362 is taken out, "
                       "got -600000 (an integer)"),
    "binance-balance": (BINANCE, "balance", setter(0, "balance", value="-1"),
                        "[0]: balance: expected a wallet above 0 and at most 1e+12, "
                        "got '-1' (a string)"),
    "binance-no-usdt": (BINANCE, "balance", lambda d: d.pop(0),
                        "USDT: balance: expected the USDT balance (the positions are margined in "
                        "USDT), got nothing (no USDT in the file)"),
}  # fmt: skip


def _import(files: dict, **changed) -> str:
    files = {**files, **changed}
    return import_account(files["positions"], tiers=files["tiers"], balance=files["balance"]).text


@pytest.mark.parametrize("case", CASES)
def test_a_bad_field_is_one_line_naming_file_entry_and_field(case, tmp_path):
    files, which, change, said = CASES[case]
    path = broken(tmp_path, files[which], change)
    with pytest.raises(ConfigError) as exc:
        _import(files, **{which: path})
    assert str(exc.value) == f"{path}: {said}"


@pytest.mark.parametrize(
    "text, said",
    [
        ("[1, ", "invalid JSON at line 1 column 5: Expecting value"),
        ('[{"contracts": NaN}]', "invalid JSON: NaN is not a number JSON allows"),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deeply"),
        (
            "{}",
            "(top level): expected a list of positions (ccxt fetch_positions or Binance "
            "/fapi/v2/positionRisk), got {} (a mapping)",
        ),
        (
            "[]",
            "(top level): expected a list of positions (ccxt fetch_positions or Binance "
            "/fapi/v2/positionRisk), got an empty list",
        ),
        (
            '[{"symbol": "BTCUSDT"}]',
            "[0]: contracts: expected a ccxt position (contracts) or a "
            "Binance one (positionAmt), got nothing (no such field)",
        ),
    ],  # fmt: skip
    ids=["json", "nan", "deep", "mapping", "empty", "neither"],
)
def test_a_file_that_is_not_a_positions_list(text, said, tmp_path):
    path = tmp_path / "positions.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        _import(CCXT, positions=path)
    assert str(exc.value) == f"{path}: {said}"


def test_the_cli_says_one_line_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch):
    bad = broken(tmp_path, CCXT["positions"], setter(1, "contracts", value="abc"))
    kept = tmp_path / "kept.yaml"
    kept.write_text("old: config\n", encoding="utf-8")
    before = sorted(os.listdir(tmp_path))
    for target in (kept, tmp_path / "new.yaml"):
        args = ["import", bad, "--tiers", CCXT["tiers"], "--wallet", 1000, "-o", target]
        code, out, err = run(capsys, monkeypatch, *args)
        assert code == 2 and out == ""
        said = "[1]: contracts: expected a number (the size in contracts), got 'abc' (a string)"
        assert err == f"error: {bad}: {said}\n"
    assert kept.read_text(encoding="utf-8") == "old: config\n"
    assert sorted(os.listdir(tmp_path)) == before  # no new file, no temporary one left


def test_an_unwritable_target_is_refused_before_reading(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "no-such.json"
    code, _, err = run(capsys, monkeypatch, "import", missing, "--wallet", 1, "-o", tmp_path)
    assert code == 2
    assert err == f"error: -o: expected a file in an existing folder, got {tmp_path}\n"


@pytest.mark.parametrize(
    "args, said",
    [
        (
            ["--balance", "b.json", "--wallet", "1"],
            "--balance, --wallet: expected one of them, got both",
        ),
        (
            [],
            "--balance, --wallet: expected one of them (the account's wallet: a balance file, "
            "or the amount), got neither",
        ),
        (["--wallet", "-5"], "--wallet: expected an amount above 0 and at most 1e+12, got -5"),
        (["--wallet", "nan"], "--wallet: expected an amount above 0 and at most 1e+12, got nan"),
        (
            ["--wallet", "1", "--venue", "ftx"],
            "--venue: expected one of binance, bybit, okx, hyperliquid, dydx, got 'ftx'",
        ),
    ],  # fmt: skip
    ids=["both", "neither", "negative", "nan", "venue"],
)
def test_wallet_and_venue_options(args, said, capsys, monkeypatch):
    # checked before any file is read: the positions file does not exist
    code, _, err = run(capsys, monkeypatch, "import", "no-such.json", *args)
    assert (code, err) == (2, f"error: {said}\n")


def test_wallet_option_instead_of_a_balance(capsys, monkeypatch):
    args = ["import", CCXT["positions"], "--tiers", CCXT["tiers"], "--wallet", "1542943.01"]
    code, out, err = run(capsys, monkeypatch, *args)
    assert code == 0, err
    assert yaml.safe_load(out)["account"]["wallet"] == 1_542_943.01
    assert "# wallet: --wallet: 1,542,943.01 as given" in out
    assert "#   wallet:    --wallet" in out


@pytest.mark.parametrize(
    "balance",
    [
        [{"asset": "BNB", "balance": "1"}, {"asset": "USDT", "balance": "1542943.01"}],
        {
            "totalWalletBalance": "1542943.01",
            "assets": [{"asset": "USDT", "walletBalance": "1542943.01", "marginBalance": "1"}],
        },
    ],  # fmt: skip
    ids=["fapi-v2-balance", "fapi-v2-account"],
)
def test_binances_balance_answers_give_the_wallet_itself(balance, tmp_path):
    path = tmp_path / "balance.json"
    path.write_text(json.dumps(balance), encoding="utf-8")
    cfg = yaml.safe_load(_import(CCXT, balance=path))
    assert cfg["account"]["wallet"] == 1_542_943.01


def test_a_missing_market_or_tiers_file_is_a_warning(tmp_path, capsys, monkeypatch):
    tiers = broken(tmp_path, CCXT["tiers"], lambda d: d.pop("SOL/USDT:USDT"))
    args = ["import", CCXT["positions"], "--tiers", tiers, "--balance", CCXT["balance"]]
    code, out, err = run(capsys, monkeypatch, *args)
    assert code == 0
    assert f"warning: {tiers}: no tiers for SOL/USDT:USDT: SOL uses the preset's or stress's" in err
    assert sorted(yaml.safe_load(out)["exchange"]["markets"]) == ["BTC", "ETH"]
    code, out, err = run(capsys, monkeypatch, "import", CCXT["positions"], "--wallet", 2e6)
    assert code == 0 and "warning: no --tiers" in err
    assert "exchange" not in yaml.safe_load(out)


def test_a_config_stress_cannot_run_is_written_with_a_warning(tmp_path, capsys, monkeypatch):
    target = tmp_path / "small.yaml"
    args = ["import", BINANCE["positions"], "--tiers", BINANCE["tiers"], "--wallet", 5000]
    code, _, err = run(capsys, monkeypatch, *args, "-o", target)
    assert code == 0 and target.exists()
    assert (
        f"warning: {target}: account.wallet: must cover the isolated margins of all positions "
        "(mode isolated): expected >= 14,871.2, got 5,000 (stress runs the config once that "
        "changes)"
    ) in err


def test_okx_tiers_get_no_deduction(tmp_path):
    def strip_cum(data):
        for rows in data.values():
            for t in rows:
                del t["info"]["cum"]

    tiers = broken(tmp_path, CCXT["tiers"], strip_cum)
    files = {**CCXT, "tiers": tiers}
    derived = yaml.safe_load(_import(files))["exchange"]["markets"]["BTC"]["tiers"]
    assert all("maintenance_amount" not in t for t in derived)  # stress derives them
    okx = import_account(files["positions"], tiers=tiers, wallet=2e6, venue="okx").text
    assert all(
        t["maintenance_amount"] == 0
        for t in yaml.safe_load(okx)["exchange"]["markets"]["BTC"]["tiers"]
    )
    assert "maintenance_amount 0 (okx: no deduction)" in okx


def test_empty_entries_are_left_out_whatever_their_symbol(tmp_path):
    def add_empty(data):
        data.insert(0, {**data[0], "symbol": "币安人生USDT_260101", "positionAmt": "0"})

    positions = broken(tmp_path, BINANCE["positions"], add_empty)
    text = import_account(positions, tiers=BINANCE["tiers"], balance=BINANCE["balance"]).text
    assert "(2 empty entries left out)" in text
    assert [p["asset"] for p in yaml.safe_load(text)["positions"]] == ["BTC", "ETH", "DOGE"]
