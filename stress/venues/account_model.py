"""The model block of an imported account: the user's (``--model``) or a stated default.

Either way the assets' prices are the marks of the positions. The default is a gbm whose
volatilities are assumptions chosen above what the shipped Binance history shows (hourly
2018-2023, ``data/``: BTC 74 %, ETH 93 %, SOL 142 % a year), because a stress test should err
towards more movement, and whose correlation, 0.8 between every pair, is near BTC/ETH's 0.85 in
that history (SOL's with either is about 0.6: a hedge across alts is riskier than the default
says). A warning says it is not a fit; ``stress calibrate ... -o model.yaml`` makes one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stress.config.read import read_file, show_typed
from stress.config.schema import HISTORY_MODELS
from stress.errors import ConfigError

DEFAULT_VOLS = {"BTC": 0.9, "ETH": 1.1}
OTHER_VOL = 1.5
DEFAULT_CORRELATION = 0.8
DEFAULT_SIMULATION = {"paths": 20_000, "horizon_days": 7, "steps_per_day": 288}


@dataclass(frozen=True)
class ModelBlock:
    """The model (and simulation) blocks, the file they came from and what to say about them."""

    model: dict[str, Any]
    simulation: dict[str, Any]
    source: str  # the model file, or "" for the default
    comments: list[str]
    warning: str | None


def default_model(marks: dict[str, float]) -> ModelBlock:
    """A gbm at the marks with the assumed volatilities and correlation (module docstring)."""
    assets = {a: {"price": m, "vol": DEFAULT_VOLS.get(a, OTHER_VOL)} for a, m in marks.items()}
    model: dict[str, Any] = {"type": "gbm", "assets": assets}
    n = len(assets)
    if n > 1:
        c = DEFAULT_CORRELATION
        model["correlation"] = [[1.0 if i == j else c for j in range(n)] for i in range(n)]
    vols = ", ".join(f"{a} {v:.0%}" for a, v in DEFAULT_VOLS.items())
    comments = [
        "model: a default, not a fit (no --model): gbm at the positions' marks, volatilities",
        f"assumed above the 2018-2023 Binance history ({vols}, any other asset",
        f"{OTHER_VOL:.0%} a year), correlation {DEFAULT_CORRELATION} between every pair (BTC/ETH's",
        "was 0.85, alts' lower). Fit one: stress calibrate PRICES... -o model.yaml, then --model.",
    ]
    warning = (
        f"no --model: the model is a default gbm with assumed volatilities ({vols}, other "
        f"assets {OTHER_VOL:.0%} a year) and correlation {DEFAULT_CORRELATION}, not a fit; "
        "pass --model (e.g. the output of stress calibrate -o) for one"
    )
    simulation = dict(DEFAULT_SIMULATION)
    return ModelBlock(model, simulation, "", comments, warning)


def _relative(path: str, model_dir: Path, base_dir: Path) -> str:
    """A history file named relative to the model file, renamed relative to the config's."""
    if Path(path).is_absolute():
        return path
    try:
        return os.path.relpath((model_dir / path).absolute(), base_dir)
    except ValueError:  # another drive: no relative name exists
        return str((model_dir / path).absolute())


def _read(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The model block of a ``--model`` file (and its simulation block, if it has one)."""
    data = read_file(path)
    what = "a model: block, as stress calibrate -o writes"
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: (top level): expected a mapping ({what}), got {show_typed(data)}"
        )
    model = data.get("model")
    if not isinstance(model, dict):
        got = "nothing" if "model" not in data else show_typed(model)
        raise ConfigError(f"{path}: model: expected a mapping ({what}), got {got}")
    simulation = data.get("simulation")
    return dict(model), dict(simulation) if isinstance(simulation, dict) else None


def model_block(path: Path | None, marks: dict[str, float], base_dir: Path) -> ModelBlock:
    """The ``--model`` file's model at the marks, or `default_model` without one.

    A parametric model must hold every asset of the book; a history model names its assets
    after its files, so the marks are written as their prices and its relative history files
    renamed relative to ``base_dir`` (the config's folder). The file's ``simulation`` block is
    kept if it has one.

    Raises
    ------
    ConfigError
        ``<model file>: model...: expected ..., got ...``.
    """
    if path is None:
        return default_model(marks)
    model, simulation = _read(path)
    assets = model.get("assets")
    history = model.get("type") in HISTORY_MODELS
    if assets is None and history:
        assets = {}
    if not isinstance(assets, dict):
        raise ConfigError(f"{path}: model.assets: expected a mapping, got {show_typed(assets)}")
    missing = [a for a in marks if a not in assets and not history]
    if missing:
        raise ConfigError(
            f"{path}: model.assets: expected every asset of the positions ({', '.join(marks)}), "
            f"got no {', '.join(missing)}"
        )
    assets = dict(assets)
    for asset, mark in marks.items():
        given = assets.get(asset, {})
        if not isinstance(given, dict):
            raise ConfigError(
                f"{path}: model.assets.{asset}: expected a mapping, got {show_typed(given)}"
            )
        assets[asset] = {**given, "price": mark}
    model["assets"] = assets
    comments = [f"model: {path}, its prices replaced by the positions' marks"]
    if history and isinstance(model.get("history"), list):
        model["history"] = [
            _relative(h, path.parent, base_dir) if isinstance(h, str) else h
            for h in model["history"]
        ]
        comments.append("(its history files named relative to this file's folder)")
    if simulation is None:
        simulation = dict(DEFAULT_SIMULATION)
        if model.get("type") == "replay":
            del simulation["paths"]  # one path per history window
    return ModelBlock(model, simulation, str(path), comments, None)
