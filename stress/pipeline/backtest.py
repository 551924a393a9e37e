"""`stress backtest`: a rolling evaluation of one-day liquidation forecasts against what happened.

For one asset's price file, a training window (default 2018-2021) and a test window (default
2022-2023), and one isolated position per side and leverage (`backtest_options`), every whole UTC
day of the test window (`stress.history.days`) gets:

- **realised**: was the position liquidated within the day? Entered at the price at midnight, a
  long is liquidated when the day's lowest bar *low* reaches its liquidation price, a short when
  the highest bar *high* does (the wicks, default), or, with ``closes_only``, the lowest/highest
  hourly close. Both are always reported; the statistics use the one chosen.
- **forecasts**, from the data strictly before the day (`backtest_models`, `backtest_paths`):
  garch, fhs and ewma fitted once to the training window and filtered forward to the day's
  midnight (refitted every ``refit_days`` days if asked), gbm with the training window's
  variance, each simulated over the day on 5-minute steps (hourly closes with ``closes_only``);
  and climatology, the training days' realised frequency (the reference of the Brier skill).
- **checks** per position and model (`stress.analysis.forecast_checks`): mean forecast against
  the realised frequency and its interval, their ratio, the Brier score and its skill against
  climatology, the coverage test of the count, the reliability table, and per position
  Christoffersen's independence test of the events.

No look-ahead: a day's forecast reads the fit (training window only, or data before the day
when refitting), the returns stamped before its midnight, and its own random stream; the tests
corrupt every price from a day on and check that no forecast up to that day moves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stress.analysis.forecast_checks import christoffersen_independence, forecast_checks, frequency
from stress.config.times import NS_PER_DAY
from stress.errors import ConfigError
from stress.history.days import Days, daily_extremes
from stress.history.prices import PriceHistory, read_prices
from stress.pipeline.backtest_models import (
    MODELS,
    SIMULATED,
    Forecaster,
    conditional_forecaster,
    gbm_forecaster,
)
from stress.pipeline.backtest_options import (
    DEFAULT_FILE,
    LABELS,
    STEPS_PER_HOUR,
    Options,
    asset_tiers,
    check_options,
    check_positions,
    liquidated,
    liquidation_prices,
    log_thresholds,
    position_names,
    side_signs,
)
from stress.pipeline.backtest_paths import model_probabilities
from stress.pipeline.out_of_sample import LEVERAGES, NOTIONAL, TEST, TRAIN

DEFAULT_MODELS = ("garch", "fhs", "ewma", "gbm")
DEFAULT_PATHS = 2_000
DEFAULT_SEED = 13


@dataclass(frozen=True)
class BacktestResult:
    """What `backtest` returns.

    Attributes
    ----------
    data : the ``--json`` structure (`to_dict`)
    daily : one row per (day, position): ``day``, ``position``, ``liquidated`` (the events the
        statistics use), ``liquidated_wicks``, ``liquidated_closes``, and one column of
        forecasts per model
    """

    data: dict
    daily: pd.DataFrame

    def to_dict(self) -> dict:
        return self.data


def _history(opts: Options, lab: dict[str, str]) -> PriceHistory:
    """The file of the asset asked for (or the only file)."""
    if opts.files == (DEFAULT_FILE,) and not DEFAULT_FILE.is_file():
        raise ConfigError(
            f"{lab['files']}: none given, and the shipped {DEFAULT_FILE} is not here (run from "
            "the repository root, or name the price files)"
        )
    histories = [read_prices(f) for f in opts.files]
    names = [h.name.upper() for h in histories]
    if opts.asset is None:
        if len(histories) > 1:
            raise ConfigError(
                f"{lab['asset']}: expected one of {', '.join(names)} (several files), got none"
            )
        history = histories[0]
    elif opts.asset in names:
        history = histories[names.index(opts.asset)]
    else:
        raise ConfigError(
            f"{lab['asset']}: expected one of {', '.join(names)} (the files' assets), "
            f"got {opts.asset!r}"
        )
    if not opts.closes_only and history.low is None:
        raise ConfigError(
            f"{history.source}: expected high and low columns (the wicks), got none; "
            f"use {lab['closes_only']} to judge by closes"
        )
    return history


def _days(history: PriceHistory, window: tuple[int, int], label: str, text) -> Days:
    days = daily_extremes(history, *window)
    if days.n < 2:
        raise ConfigError(
            f"{label}: expected whole days of prices in {text[0]}..{text[1]}, got {days.n} in "
            f"{history.source}"
        )
    return days


def _forecasters(
    opts: Options, history: PriceHistory, test: Days, steps_per_bar: int
) -> list[Forecaster]:
    shared: dict = {}
    out = []
    for kind in (m for m in SIMULATED if m in opts.models):
        if kind == "gbm":
            out.append(gbm_forecaster(history, opts.train_ns, test.n, steps_per_bar))
        else:
            out.append(
                conditional_forecaster(
                    kind, history, opts.train_ns, test.start, steps_per_bar, opts.refit_days, shared
                )
            )
    return out


def _events(days: Days, prices: np.ndarray, signs: np.ndarray) -> dict[str, np.ndarray]:
    out = {"closes": liquidated(prices, *days.extremes(wicks=False), signs)}
    if days.has_wicks:
        out["wicks"] = liquidated(prices, *days.extremes(wicks=True), signs)
    return out


def _realised(name: str, j: int, events: dict[str, np.ndarray], used: str) -> dict:
    y = events[used][:, j]
    entry = {**frequency(y), "from": used}
    for kind, e in events.items():
        entry[f"frequency_{kind}"] = float(e[:, j].mean())
    entry["independence"] = christoffersen_independence(y)
    return entry


def _positions(opts, prices, entry, events, used, forecasts, clim) -> list[dict]:
    """The output's entry of each position (module docstring)."""
    out = []
    signs = side_signs(opts)
    for j, name in enumerate(position_names(opts)):
        y = events[used][:, j].astype(np.float64)
        reference = np.full(y.shape, clim[j])
        models = {m: forecast_checks(p[:, j], y, reference) for m, p in forecasts.items()}
        move = np.nanmedian(prices[:, j] / entry - 1.0) if np.isfinite(prices[:, j]).any() else None
        out.append(
            {
                "name": name,
                "side": "long" if signs[j] > 0 else "short",
                "leverage": opts.leverages[j % len(opts.leverages)],
                "liquidation_move": move,
                "realised": _realised(name, j, events, used),
                "climatology": float(clim[j]),
                "forecasts": models,
            }
        )
    return out


def _day_text(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[D]"))


def _window_info(opts: Options, days: Days, which: str) -> dict:
    text = opts.train if which == "train" else opts.test
    return {
        "since": text[0],
        "until": text[1],
        "days": days.n,
        "first_day": _day_text(days.start[0]),
        "last_day": _day_text(days.start[-1]),
        "outage_days": days.outage_days,
    }


def _daily(opts, test: Days, events, used, forecasts) -> pd.DataFrame:
    names = position_names(opts)
    n_days, n_pos = test.n, len(names)
    frame = pd.DataFrame(
        {
            "day": np.repeat(pd.to_datetime(test.start, utc=True), n_pos),
            "position": np.tile(names, n_days),
            "liquidated": events[used].reshape(-1),
            **{f"liquidated_{k}": e.reshape(-1) for k, e in events.items()},
            **{m: p.reshape(-1) for m, p in forecasts.items()},
        }
    )
    return frame


def _simulate(
    opts: Options,
    forecasters: list[Forecaster],
    thr: np.ndarray,
    test: Days,
    steps: tuple[int, int],
    progress: Callable[[int], None] | None,
    on_model: Callable[[str, int], None] | None,
) -> dict[str, np.ndarray]:
    keys = test.start // NS_PER_DAY
    out = {}
    for f in forecasters:
        if on_model is not None:
            on_model(f.name, test.n)
        out[f.name] = model_probabilities(
            f, thr, side_signs(opts), keys, opts.paths, opts.seed, steps[0], progress
        )
    return out


def backtest(
    files: Sequence | None = None,
    asset: str | None = None,
    leverages: Sequence[float] | str = LEVERAGES,
    sides: Sequence[str] | str = ("long", "short"),
    train: Sequence[str] | str = TRAIN,
    test: Sequence[str] | str = TEST,
    models: Sequence[str] | str = DEFAULT_MODELS,
    paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    notional: float = NOTIONAL,
    closes_only: bool = False,
    refit_days: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_model: Callable[[str, int], None] | None = None,
    labels: dict[str, str] | None = None,
) -> BacktestResult:
    """Rolling one-day liquidation forecasts against the realised days (module docstring).

    Parameters
    ----------
    files : price files (default: the shipped BTC history, from the repository root)
    asset : the file's asset to use (default: the only file's)
    leverages, sides : the positions, one per (side, leverage); lists or ``"10,25,50"``
    train, test : ``(first day, last day)`` or ``"FIRST:LAST"``, whole days, UTC
    models : some of garch, fhs, ewma, gbm (climatology is always there: the reference)
    paths : simulated paths per day and model
    seed : the random streams (one per day, shared by the models)
    notional : USDT per position
    closes_only : judge (and simulate) by hourly closes instead of the bars' wicks
    refit_days : refit the conditional models every this many days (default: fit once, filter)
    progress : called with 1 after each simulated (model, day)
    on_model : called with (model, days) before a model's days are simulated
    labels : how errors name the options (default: these argument names)

    Raises
    ------
    ConfigError
        One line naming the option or the file.
    """
    began = time.perf_counter()
    lab = LABELS if labels is None else labels
    opts = check_options(
        files, asset, leverages, sides, train, test, models, paths, seed, notional, closes_only,
        refit_days, lab,
    )  # fmt: skip
    history = _history(opts, lab)
    table, tier_source = asset_tiers(history.name.upper())
    check_positions(opts, table, history.name.upper(), lab)
    train_days = _days(history, opts.train_ns, lab["train"], opts.train)
    test_days = _days(history, opts.test_ns, lab["test"], opts.test)
    bars = test_days.bars_per_day
    per_bar = 1 if opts.closes_only else max(1, round(STEPS_PER_HOUR * 24 / bars))
    used = "closes" if opts.closes_only else "wicks"
    signs = side_signs(opts)
    prices = liquidation_prices(opts, table, test_days.entry)
    events = _events(test_days, prices, signs)
    train_prices = liquidation_prices(opts, table, train_days.entry)
    clim = _events(train_days, train_prices, signs)[used].mean(axis=0)
    forecasters = _forecasters(opts, history, test_days, per_bar)
    thr = log_thresholds(prices, test_days.entry, signs)
    forecasts = _simulate(opts, forecasters, thr, test_days, (bars, per_bar), progress, on_model)
    forecasts["climatology"] = np.broadcast_to(clim, thr.shape).copy()
    data = {
        "asset": history.name.upper(),
        "file": history.source,
        "notional": opts.notional,
        "brackets": tier_source,
        "train": _window_info(opts, train_days, "train"),
        "test": _window_info(opts, test_days, "test"),
        "realised_from": used,
        "has_wicks": test_days.has_wicks,
        "paths": opts.paths,
        "seed": opts.seed,
        "steps_per_bar": per_bar,
        "bar_hours": 24 / bars,
        "refit_days": opts.refit_days,
        "models": [m for m in MODELS if m in forecasts],
        "fits": {f.name: list(f.fits) for f in forecasters},
        "positions": _positions(opts, prices, test_days.entry, events, used, forecasts, clim),
        "elapsed_seconds": time.perf_counter() - began,
    }
    return BacktestResult(data, _daily(opts, test_days, events, used, forecasts))
