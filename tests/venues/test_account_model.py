"""`stress import --model`: the user's model block at the positions' marks, or a stated default."""

from __future__ import annotations

import os

import pytest
import yaml
from test_account_import import CCXT, run

from stress.errors import ConfigError
from stress.venues.account import import_account
from stress.venues.account_model import DEFAULT_CORRELATION, DEFAULT_VOLS, OTHER_VOL

CALIBRATED = {
    "model": {
        "type": "merton",
        "assets": {
            "SOL": {"price": 100.0, "vol": 1.2},
            "BTC": {"price": 40000.0, "vol": 0.7, "drift": 0.0},
            "ETH": {"price": 2000.0, "vol": 0.85},
        },
        "correlation": [[1.0, 0.6, 0.65], [0.6, 1.0, 0.84], [0.65, 0.84, 1.0]],
        "jumps": {"intensity": 6.0, "mean": -0.04, "std": 0.06, "common": True},
    }
}
MARKS = {"BTC": 31967.27, "ETH": 1335.18, "SOL": 155.32}


def write_model(folder, data, name="model.yaml"):
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def imported(model=None, **kw) -> dict:
    text = import_account(CCXT["positions"], tiers=CCXT["tiers"], wallet=2e6, model=model, **kw)
    return yaml.safe_load(text.text)


def test_the_model_file_is_kept_with_the_marks_as_prices(tmp_path, capsys, monkeypatch):
    model = write_model(tmp_path, CALIBRATED)
    args = ["import", CCXT["positions"], "--wallet", 2e6, "--model", model]
    code, out, err = run(capsys, monkeypatch, *args)
    assert code == 0 and "warning: no --model" not in err
    got = yaml.safe_load(out)["model"]
    assert list(got["assets"]) == ["SOL", "BTC", "ETH"]  # the correlation's order
    assert {a: v["price"] for a, v in got["assets"].items()} == {a: MARKS[a] for a in got["assets"]}
    assert {a: v["vol"] for a, v in got["assets"].items()} == {"SOL": 1.2, "BTC": 0.7, "ETH": 0.85}
    assert got["jumps"] == CALIBRATED["model"]["jumps"]
    assert got["correlation"] == CALIBRATED["model"]["correlation"]
    assert f"# model: {model}, its prices replaced by the positions' marks" in out


def test_the_default_model_is_stated_and_warned_of(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "import", CCXT["positions"], "--wallet", 2e6)
    assert code == 0
    assert "warning: no --model: the model is a default gbm with assumed volatilities" in err
    model = yaml.safe_load(out)["model"]
    assert model["type"] == "gbm"
    vols = {a: v["vol"] for a, v in model["assets"].items()}
    assert vols == {"BTC": DEFAULT_VOLS["BTC"], "ETH": DEFAULT_VOLS["ETH"], "SOL": OTHER_VOL}
    assert model["correlation"][0] == [1.0, DEFAULT_CORRELATION, DEFAULT_CORRELATION]
    assert "# model: a default, not a fit (no --model)" in out


@pytest.mark.parametrize(
    "data, said",
    [
        (
            {"model": {**CALIBRATED["model"], "assets": {"BTC": {"price": 1.0, "vol": 0.7}}}},
            "model.assets: expected every asset of the positions (BTC, ETH, SOL), got no ETH, SOL",
        ),
        (
            {"simulation": {}},
            "model: expected a mapping (a model: block, as stress calibrate -o "
            "writes), got nothing",
        ),
        (
            [1, 2],
            "(top level): expected a mapping (a model: block, as stress calibrate -o "
            "writes), got [1, 2] (a list)",
        ),
        # a rule of the config, said of the model file
        (
            {"model": {**CALIBRATED["model"], "jumps": None}},
            "model.jumps: required for model type merton: expected a mapping {intensity, mean, "
            "std, common}, got none",
        ),
    ],  # fmt: skip
    ids=["asset", "no-model", "list", "rule"],
)
def test_a_bad_model_file_names_it(data, said, tmp_path):
    model = write_model(tmp_path, data)
    with pytest.raises(ConfigError) as exc:
        imported(model)
    assert str(exc.value) == f"{model}: {said}"


def test_a_history_models_files_are_named_from_the_configs_folder(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    data = {"model": {"type": "bootstrap", "history": ["../data/btc.csv", "/abs/eth.csv"]}}
    model = write_model(models, data)
    out = tmp_path / "configs" / "account.yaml"
    got = imported(model, output=out)
    assert got["model"]["history"] == [os.path.join("..", "data", "btc.csv"), "/abs/eth.csv"]
    assert got["model"]["assets"] == {a: {"price": m} for a, m in MARKS.items()}
    assert got["simulation"]["paths"] == 20_000
