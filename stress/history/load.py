"""History models (``bootstrap``, ``replay``, and the conditional-volatility models ``garch``,
``fhs`` and ``ewma`` fitted to their history): their price files, read once and checked.

`resolve_history` runs once per run, in `stress.pipeline.prepare`. It reads the files of
``model.history`` (relative to the config file's folder), names the assets after the files (the
rule of `stress.history.prices.asset_name`, as ``stress calibrate`` does), fills ``model.assets``
with them (price: the configured one, else the last common close) and checks the history against
the simulation: the step must be a whole number of bars or (models that draw their paths) divide
one, the history must be longer than the horizon (bootstrap) or long enough to fit (the
volatility models, `MIN_FIT_RETURNS`). For ``replay`` it also sets ``simulation.paths`` to the
number of windows. After it the config is an ordinary one whose assets are known.

The `History` it returns is handed on in the run's plan: the paths and summary.json read it
from there, so the files are read and aligned once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stress.config.schema import (
    DRAWN_HISTORY_MODELS,
    HISTORY_MODELS,
    VOLATILITY_MODELS,
    Asset,
    Config,
    Model,
)
from stress.config.times import check_window
from stress.errors import ConfigError, fail
from stress.history.prices import (
    NS_PER_HOUR,
    PriceHistory,
    aligned_returns,
    common_times,
    read_prices,
)

DEFAULT_BLOCK_HOURS = 24.0
DEFAULT_STRIDE_HOURS = 24.0
WICK_MARKS = 3
"""Marks a replay with wicks gives each bar: its two extremes, then its close."""
MIN_FIT_RETURNS = 1_000
"""Returns a conditional-volatility model needs to be fitted (a GARCH's persistence is poorly
identified on fewer)."""


@dataclass(frozen=True)
class History:
    """Aligned price history of several assets.

    Attributes
    ----------
    names : list of str
    bar_seconds : float
        The bar: the most common spacing of the common timestamps.
    returns : ndarray, shape (n_returns, n_assets)
        Single-bar log returns; returns spanning an outage (any other spacing) are dropped.
    dropped : int
        Returns dropped that way.
    price_times : ndarray, shape (n_bars,), int64
        A regular grid of price times (ns, UTC), one bar apart. A bar's close is the price at
        the *end* of the bar (its open stamp + one bar), so these are the stamps shifted by a bar.
    closes : ndarray, shape (n_bars, n_assets)
        Closes on that grid; the hours of an outage carry the last close forward, so the move
        across an outage lands in the first bar after it.
    last_close : ndarray, shape (n_assets,)
    lows, highs : ndarray, shape (n_bars, n_assets), or None
        Each bar's lowest and highest price on the same grid, when every file has them (an
        outage's carried bars have low = high = the carried close).
    """

    names: list[str]
    bar_seconds: float
    returns: np.ndarray
    dropped: int
    price_times: np.ndarray
    closes: np.ndarray
    last_close: np.ndarray
    lows: np.ndarray | None = None
    highs: np.ndarray | None = None

    @property
    def bar_hours(self) -> float:
        return self.bar_seconds / 3600.0


def _read(path: Path, at: str) -> PriceHistory:
    try:
        return read_prices(str(path))
    except ConfigError as exc:
        raise ConfigError(f"{at}: {exc}") from None


def _price_grid(
    histories: list[PriceHistory], since: int | None, until: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Closes on a regular grid of price times within ``[since, until)``, forward-filled, and
    the bars' lows and highs on it (None unless every file has them)."""
    common, index = common_times(histories)
    step = np.diff(common)
    values, counts = np.unique(step, return_counts=True)
    bar = int(values[np.argmax(counts)])
    times = common + bar  # a close is the price at the end of its bar
    keep = np.ones(times.shape, dtype=bool)
    if since is not None:
        keep &= times >= since
    if until is not None:
        keep &= times < until
    times = times[keep]
    pairs = list(zip(histories, index, strict=True))
    closes = np.column_stack([h.close[i[keep]] for h, i in pairs])
    ranged = all(h.low is not None for h in histories)
    lows = np.column_stack([h.low[i[keep]] for h, i in pairs]) if ranged else None
    highs = np.column_stack([h.high[i[keep]] for h, i in pairs]) if ranged else None
    if times.size == 0:
        return times, closes, lows, highs
    # integer arithmetic: np.arange(start, stop, bar) sizes itself in floating point
    grid = times[0] + bar * np.arange((times[-1] - times[0]) // bar + 1, dtype=np.int64)
    on_grid = (times - times[0]) % bar == 0  # stray off-bar stamps are not prices of the grid
    slot = np.full(grid.shape, -1, dtype=np.int64)
    slot[(times[on_grid] - times[0]) // bar] = np.flatnonzero(on_grid)
    filled = slot >= 0
    slot = np.maximum.accumulate(slot)  # forward fill: the last close seen
    if not ranged:
        return grid, closes[slot], None, None
    # a carried bar (an outage) did not trade: its range is its carried close
    lows, highs = lows[slot], highs[slot]
    carried = ~filled
    lows[carried], highs[carried] = closes[slot][carried], closes[slot][carried]
    return grid, closes[slot], lows, highs


def load_history(files: tuple[Path, ...], since: int | None, until: int | None) -> History:
    """Read and align the files of a history model.

    ``since``/``until`` (ns, UTC) bound the bars of the returns (by their stamps, as ``stress
    calibrate`` does) and the price times of the replay grid.

    Raises
    ------
    ConfigError
        Unreadable files, duplicate asset names, too little data (field path ``model.history``).
    """
    histories: list[PriceHistory] = []
    seen: dict[str, int] = {}
    for i, path in enumerate(files):
        h = _read(path, f"model.history[{i}]")
        if h.name in seen:
            fail(
                f"model.history[{i}]",
                f"expected one file per asset, got asset {h.name!r} again "
                f"(also model.history[{seen[h.name]}])",
            )
        seen[h.name] = i
        histories.append(h)
    try:
        rets = aligned_returns(histories, since, until)
    except ConfigError as exc:
        raise ConfigError(f"model.history: {exc}") from None
    grid, closes, lows, highs = _price_grid(histories, since, until)
    return History(
        names=rets.names,
        bar_seconds=rets.bar_seconds,
        returns=rets.values,
        dropped=rets.dropped,
        price_times=grid,
        closes=closes,
        last_close=rets.last_close,
        lows=lows,
        highs=highs,
    )


def step_bars(cfg: Config, history: History) -> tuple[int, int]:
    """(bars per step, steps per bar): one of the two is 1.

    Raises
    ------
    ConfigError
        The step is neither a whole number of bars nor (bootstrap only) a whole fraction of one.
    """
    step = 86400.0 / cfg.simulation.steps_per_day
    ratio = step / history.bar_seconds
    per_day = 86400.0 / history.bar_seconds
    if cfg.model.type == "replay" and cfg.model.wicks:
        if math.isclose(ratio * WICK_MARKS, 1.0, rel_tol=1e-9):
            return 1, WICK_MARKS
        fail(
            "simulation.steps_per_day",
            f"expected {WICK_MARKS * per_day:g} with model.wicks (three marks a bar of "
            f"{history.bar_hours:g} h: its two extremes, then its close), "
            f"got {cfg.simulation.steps_per_day}",
        )
    if ratio >= 1 - 1e-9 and math.isclose(ratio, round(ratio), rel_tol=1e-9):
        return int(round(ratio)), 1
    inverse = 1.0 / ratio
    if cfg.model.type in DRAWN_HISTORY_MODELS and math.isclose(
        inverse, round(inverse), rel_tol=1e-9
    ):
        return 1, int(round(inverse))
    bar = f"{history.bar_hours:g} h"
    if cfg.model.type == "replay":
        want = f"a divisor of {per_day:g} (steps of whole bars: it replays the {bar} closes)"
    else:
        want = f"a divisor or a multiple of {per_day:g} (steps of whole bars or of part of one)"
    fail("simulation.steps_per_day", f"expected {want}, got {cfg.simulation.steps_per_day}")


def horizon_bars(n_steps: int, bars_per_step: int, steps_per_bar: int) -> int:
    """History bars a path of ``n_steps`` steps spans."""
    return n_steps * bars_per_step if steps_per_bar == 1 else -(-n_steps // steps_per_bar)


def _files(model: Model, base_dir: Path) -> tuple[Path, ...]:
    files = []
    for i, entry in enumerate(model.history):
        path = Path(entry).expanduser()
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            where = "" if Path(entry).is_absolute() else f" (relative to {base_dir})"
            fail(f"model.history[{i}]", f"no such file: {entry}{where}")
        files.append(path.resolve())
    return tuple(files)


def _assets(model: Model, history: History) -> dict[str, Asset]:
    if model.assets is None:
        return {
            name: Asset.model_construct(price=float(p), vol=None, drift=0.0)
            for name, p in zip(history.names, history.last_close, strict=True)
        }
    if set(model.assets) != set(history.names):
        fail(
            "model.assets",
            f"expected the assets of model.history ({', '.join(history.names)}), "
            f"got {', '.join(model.assets)}",
        )
    return {name: model.assets[name] for name in history.names}  # the files' order


def resolve_history(cfg: Config) -> tuple[Config, History | None]:
    """Read a history model's files: the config with its assets (and, for replay, its paths)
    filled in, and the history. Other models come back as they are, with no history. See the
    module docstring.

    Raises
    ------
    ConfigError
        A field path and what is wrong: a missing or bad file, a bad window, a step that is not
        whole bars, a history shorter than the horizon, a block or stride that does not fit.
    """
    model = cfg.model
    if model.type not in HISTORY_MODELS:
        return cfg, None
    files = _files(model, cfg._base_dir or Path.cwd())
    since, until = check_window(model.since, model.until, ("model.since", "model.until"))
    history = load_history(files, since, until)
    resolved = model.model_copy(update={"assets": _assets(model, history)})
    resolved._history_files = files
    per_step, per_bar = step_bars(cfg, history)
    need = horizon_bars(cfg.simulation.n_steps, per_step, per_bar)
    bar = f"{history.bar_hours:g} h"
    update: dict = {"model": resolved}
    if model.type == "bootstrap":
        have = history.returns.shape[0]
        if have < need:
            fail(
                "model.history",
                f"too short for the horizon: expected at least {need} returns of {bar} "
                f"(simulation.horizon_days), got {have}",
            )
        block = DEFAULT_BLOCK_HOURS if model.block_hours is None else model.block_hours
        if block < history.bar_hours * (1 - 1e-9):
            fail("model.block_hours", f"expected at least one bar ({bar}), got {block:g}")
    elif model.type in VOLATILITY_MODELS:
        have = history.returns.shape[0]
        if have < MIN_FIT_RETURNS:
            fail(
                "model.history",
                f"too short to fit model type {model.type}: expected at least "
                f"{MIN_FIT_RETURNS:,} returns of {bar}, got {have}",
            )
    else:
        if model.wicks and history.lows is None:
            fail(
                "model.wicks",
                "needs files with high and low columns (each bar's extremes), "
                "got a file without them",
            )
        stride = DEFAULT_STRIDE_HOURS if model.stride_hours is None else model.stride_hours
        ratio = stride / history.bar_hours
        if not math.isclose(ratio, round(ratio), rel_tol=1e-9) or round(ratio) < 1:
            fail("model.stride_hours", f"expected a whole number of bars ({bar}), got {stride:g}")
        n_windows = window_starts(history, need, stride).size
        if n_windows == 0:
            have = (history.price_times.size - 1) * history.bar_hours
            fail(
                "model.history",
                f"too short for the horizon: expected a window of {need * history.bar_hours:g} h "
                f"starting on a multiple of stride_hours ({stride:g} h), got {have:g} h of prices",
            )
        update["simulation"] = cfg.simulation.model_copy(update={"paths": int(n_windows)})
    resolved_cfg = cfg.model_copy(update=update)
    return resolved_cfg, history


def window_starts(history: History, horizon_bars: int, stride_hours: float) -> np.ndarray:
    """Grid indices of the windows: price times on the stride whose horizon is in the history."""
    times = history.price_times
    stride = int(round(stride_hours * NS_PER_HOUR))
    last = times.size - 1 - horizon_bars
    if last < 0:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(times[: last + 1] % stride == 0).astype(np.int64)


def replay_starts(cfg: Config, history: History) -> np.ndarray:
    """The windows of a resolved replay config: grid index of each window's first price."""
    model = cfg.model
    stride = DEFAULT_STRIDE_HOURS if model.stride_hours is None else model.stride_hours
    per_step, per_bar = step_bars(cfg, history)
    return window_starts(history, horizon_bars(cfg.simulation.n_steps, per_step, per_bar), stride)


def history_info(cfg: Config, history: History | None) -> dict:
    """``{"history": {...}}`` for summary.json: what a history model drew from (else ``{}``)."""
    model = cfg.model
    if model.type not in HISTORY_MODELS:
        return {}
    info = {
        "files": [str(p) for p in model._history_files],
        "bar_hours": history.bar_hours,
        "returns": int(history.returns.shape[0]),
        "returns_dropped_at_gaps": history.dropped,
    }
    if model.type == "bootstrap":
        info["block_hours"] = (
            DEFAULT_BLOCK_HOURS if model.block_hours is None else model.block_hours
        )
        info["demean"] = True if model.demean is None else model.demean
    elif model.type in VOLATILITY_MODELS:
        info["first_price"] = _iso(history.price_times[0])
        info["last_price"] = _iso(history.price_times[-1])
        if model.type == "ewma":
            info["decay"] = model.decay
            info["half_life_hours"] = model.half_life_hours
        else:
            info["start"] = model.start or "current"
    else:
        starts = replay_starts(cfg, history)
        info["first_price"] = _iso(history.price_times[0])
        info["last_price"] = _iso(history.price_times[-1])
        info["windows"] = int(starts.size)
        info["stride_hours"] = (
            DEFAULT_STRIDE_HOURS if model.stride_hours is None else model.stride_hours
        )
        info["wicks"] = bool(model.wicks)
        info["first_window_start"] = _iso(history.price_times[starts[0]])
        info["last_window_start"] = _iso(history.price_times[starts[-1]])
    return {"history": info}


def _iso(ns: int) -> str:
    return pd.Timestamp(int(ns), tz="UTC").isoformat()
