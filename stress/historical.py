"""History models (``bootstrap``, ``replay``): their price files, read once and checked.

`resolve_history` runs when a config is loaded. It reads the files of ``model.history``
(relative to the config file's folder), names the assets after the files (the rule of
`stress.history.asset_name`, as ``stress calibrate`` does), fills ``model.assets`` with them
(price: the configured one, else the last common close) and checks the history against the
simulation: the step must be a whole number of bars or (bootstrap only) divide one, the history
must be longer than the horizon. For ``replay`` it also sets ``simulation.paths`` to the number
of windows. After it the config is an ordinary one whose assets are known.

Files are cached by (path, size, mtime), so a run does not read them a second time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from stress.calibrate import check_window
from stress.config import HISTORY_MODELS, Asset, Config, Model
from stress.errors import ConfigError
from stress.history import NS_PER_SECOND, PriceHistory, _common_times, aligned_returns, read_prices
from stress.paths.spec import ModelSpec, TimeGrid

DEFAULT_BLOCK_HOURS = 24.0
DEFAULT_STRIDE_HOURS = 24.0
NS_PER_HOUR = 3600 * NS_PER_SECOND


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
    """

    names: list[str]
    bar_seconds: float
    returns: np.ndarray
    dropped: int
    price_times: np.ndarray
    closes: np.ndarray
    last_close: np.ndarray

    @property
    def bar_hours(self) -> float:
        return self.bar_seconds / 3600.0


def _fail(path: str, message: str) -> None:
    raise ConfigError(f"{path}: {message}")


@lru_cache(maxsize=16)
def _read_cached(path: str, size: int, mtime_ns: int) -> PriceHistory:
    return read_prices(path)


def _read(path: Path, at: str) -> PriceHistory:
    stat = path.stat()
    try:
        return _read_cached(str(path), stat.st_size, stat.st_mtime_ns)
    except ConfigError as exc:
        raise ConfigError(f"{at}: {exc}") from None


def _price_grid(
    histories: list[PriceHistory], since: int | None, until: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Closes on a regular grid of price times within ``[since, until)``, forward-filled."""
    common, index = _common_times(histories)
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
    closes = np.column_stack([h.close[i[keep]] for h, i in zip(histories, index, strict=True)])
    if times.size == 0:
        return times, closes
    # integer arithmetic: np.arange(start, stop, bar) sizes itself in floating point
    grid = times[0] + bar * np.arange((times[-1] - times[0]) // bar + 1, dtype=np.int64)
    on_grid = (times - times[0]) % bar == 0  # stray off-bar stamps are not prices of the grid
    slot = np.full(grid.shape, -1, dtype=np.int64)
    slot[(times[on_grid] - times[0]) // bar] = np.flatnonzero(on_grid)
    slot = np.maximum.accumulate(slot)  # forward fill: the last close seen
    return grid, closes[slot]


def load_history(files: tuple[Path, ...], since: int | None, until: int | None) -> History:
    """Read and align the files of a history model (cached; see the module docstring).

    ``since``/``until`` (ns, UTC) bound the bars of the returns (by their stamps, as ``stress
    calibrate`` does) and the price times of the replay grid.

    Raises
    ------
    ConfigError
        Unreadable files, duplicate asset names, too little data (field path ``model.history``).
    """
    stamps = tuple((p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None for p in files)
    return _load_history(files, stamps, since, until)


@lru_cache(maxsize=8)
def _load_history(
    files: tuple[Path, ...], stamps: tuple, since: int | None, until: int | None
) -> History:
    histories: list[PriceHistory] = []
    seen: dict[str, int] = {}
    for i, path in enumerate(files):
        h = _read(path, f"model.history[{i}]")
        if h.name in seen:
            _fail(
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
    grid, closes = _price_grid(histories, since, until)
    return History(
        names=rets.names,
        bar_seconds=rets.bar_seconds,
        returns=rets.values,
        dropped=rets.dropped,
        price_times=grid,
        closes=closes,
        last_close=rets.last_close,
    )


def history_of(model: Model) -> History:
    """The history of a loaded (resolved) history model."""
    since, until = check_window(model.since, model.until, ("model.since", "model.until"))
    return load_history(model._history_files, since, until)


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
    if ratio >= 1 - 1e-9 and math.isclose(ratio, round(ratio), rel_tol=1e-9):
        return int(round(ratio)), 1
    inverse = 1.0 / ratio
    if cfg.model.type == "bootstrap" and math.isclose(inverse, round(inverse), rel_tol=1e-9):
        return 1, int(round(inverse))
    bar = f"{history.bar_hours:g} h"
    if cfg.model.type == "replay":
        want = f"a divisor of {per_day:g} (steps of whole bars: it replays the {bar} closes)"
    else:
        want = f"a divisor or a multiple of {per_day:g} (steps of whole bars or of part of one)"
    _fail("simulation.steps_per_day", f"expected {want}, got {cfg.simulation.steps_per_day}")


def horizon_bars(grid: TimeGrid, bars_per_step: int, steps_per_bar: int) -> int:
    """History bars a path of the horizon spans."""
    return grid.n_steps * bars_per_step if steps_per_bar == 1 else -(-grid.n_steps // steps_per_bar)


def _files(model: Model, base_dir: Path) -> tuple[Path, ...]:
    files = []
    for i, entry in enumerate(model.history):
        path = Path(entry).expanduser()
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            where = "" if Path(entry).is_absolute() else f" (relative to {base_dir})"
            _fail(f"model.history[{i}]", f"no such file: {entry}{where}")
        files.append(path.resolve())
    return tuple(files)


def _assets(model: Model, history: History) -> dict[str, Asset]:
    if model.assets is None:
        return {
            name: Asset.model_construct(price=float(p), vol=None, drift=0.0)
            for name, p in zip(history.names, history.last_close, strict=True)
        }
    if set(model.assets) != set(history.names):
        _fail(
            "model.assets",
            f"expected the assets of model.history ({', '.join(history.names)}), "
            f"got {', '.join(model.assets)}",
        )
    return {name: model.assets[name] for name in history.names}  # the files' order


def resolve_history(cfg: Config, base_dir: Path) -> Config:
    """Read a history model's files and return the config with its assets filled in.

    Other models are returned as they are. See the module docstring.

    Raises
    ------
    ConfigError
        A field path and what is wrong: a missing or bad file, a bad window, a step that is not
        whole bars, a history shorter than the horizon, a block or stride that does not fit.
    """
    from stress.checks import check_model_fields  # checks imports the config types too

    check_model_fields(cfg)
    model = cfg.model
    if model.type not in HISTORY_MODELS:
        return cfg
    files = _files(model, base_dir)
    since, until = check_window(model.since, model.until, ("model.since", "model.until"))
    history = load_history(files, since, until)
    resolved = model.model_copy(update={"assets": _assets(model, history)})
    resolved._history_files = files
    grid = TimeGrid.from_days(cfg.simulation.horizon_days, cfg.simulation.steps_per_day)
    per_step, per_bar = step_bars(cfg, history)
    need = horizon_bars(grid, per_step, per_bar)
    bar = f"{history.bar_hours:g} h"
    update: dict = {"model": resolved}
    if model.type == "bootstrap":
        have = history.returns.shape[0]
        if have < need:
            _fail(
                "model.history",
                f"too short for the horizon: expected at least {need} returns of {bar} "
                f"(simulation.horizon_days), got {have}",
            )
        block = DEFAULT_BLOCK_HOURS if model.block_hours is None else model.block_hours
        if block < history.bar_hours * (1 - 1e-9):
            _fail("model.block_hours", f"expected at least one bar ({bar}), got {block:g}")
    else:
        from stress.replay import window_starts  # replay needs this module's History

        stride = DEFAULT_STRIDE_HOURS if model.stride_hours is None else model.stride_hours
        ratio = stride / history.bar_hours
        if not math.isclose(ratio, round(ratio), rel_tol=1e-9) or round(ratio) < 1:
            _fail("model.stride_hours", f"expected a whole number of bars ({bar}), got {stride:g}")
        n_windows = window_starts(history, need, stride).size
        if n_windows == 0:
            have = (history.price_times.size - 1) * history.bar_hours
            _fail(
                "model.history",
                f"too short for the horizon: expected a window of {need * history.bar_hours:g} h "
                f"starting on a multiple of stride_hours ({stride:g} h), got {have:g} h of prices",
            )
        update["simulation"] = cfg.simulation.model_copy(update={"paths": int(n_windows)})
    return cfg.model_copy(update=update)


def history_spec(cfg: Config) -> ModelSpec:
    """The `ModelSpec` of a loaded bootstrap or replay config."""
    from stress.paths.bootstrap import BootstrapSpec, centred_returns
    from stress.replay import ReplaySpec, window_starts

    model = cfg.model
    history = history_of(model)
    assets = list(model.assets.values())
    n = len(assets)
    grid = TimeGrid.from_days(cfg.simulation.horizon_days, cfg.simulation.steps_per_day)
    per_step, per_bar = step_bars(cfg, history)
    if model.type == "bootstrap":
        drift = np.array([a.drift for a in assets], dtype=float)
        bar_years = history.bar_seconds / (365.0 * 86400.0)
        demean = True if model.demean is None else model.demean
        block = DEFAULT_BLOCK_HOURS if model.block_hours is None else model.block_hours
        source = BootstrapSpec(
            returns=centred_returns(history.returns, bar_years, drift, demean),
            block_bars=block / history.bar_hours,
            bars_per_step=per_step,
            steps_per_bar=per_bar,
        )
    else:
        stride = DEFAULT_STRIDE_HOURS if model.stride_hours is None else model.stride_hours
        need = horizon_bars(grid, per_step, per_bar)
        source = ReplaySpec(
            closes=history.closes,
            price_times=history.price_times,
            starts=window_starts(history, need, stride),
            bars_per_step=per_step,
            n_steps=grid.n_steps,
        )
    return ModelSpec(
        kind=model.type,
        s0=np.array([a.price for a in assets], dtype=float),
        vol=np.zeros(n),
        drift=np.zeros(n),
        corr=np.eye(n),
        source=source,
    )


def history_info(cfg: Config) -> dict:
    """``{"history": {...}}`` for summary.json: what a history model drew from (else ``{}``)."""
    model = cfg.model
    if model.type not in HISTORY_MODELS:
        return {}
    history = history_of(model)
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
    else:
        source = history_spec(cfg).source
        info["first_price"] = _iso(history.price_times[0])
        info["last_price"] = _iso(history.price_times[-1])
        info["windows"] = source.n_windows
        info["stride_hours"] = (
            DEFAULT_STRIDE_HOURS if model.stride_hours is None else model.stride_hours
        )
        info["first_window_start"] = _iso(source.price_times[source.starts[0]])
        info["last_window_start"] = _iso(source.price_times[source.starts[-1]])
    return {"history": info}


def _iso(ns: int) -> str:
    return pd.Timestamp(int(ns), tz="UTC").isoformat()
