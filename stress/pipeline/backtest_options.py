"""The options of `stress backtest`, checked before any work, and the positions they describe.

Every refusal is one `ConfigError` line naming the option as the caller spells it (``labels``:
the Python argument names by default, the command's options for the command line).

The positions: one isolated position per (side, leverage), ``notional`` USDT at the day's entry,
its margin ``notional / leverage``, on the asset's Binance brackets (BTC: those of the
out-of-sample table, `stress.pipeline.out_of_sample.BTC_TIERS`; another asset: the binance
preset's market, else its default market). Its liquidation price is closed form
(`stress.margin.liquidation_bounds.liquidation_price`), fixed over the day (no funding, nothing
else in the bucket); with a notional fixed in USDT it is the same fraction of every entry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stress.config.times import check_window
from stress.errors import ConfigError
from stress.margin.liquidation_bounds import liquidation_price
from stress.pipeline.backtest_models import MODELS
from stress.pipeline.out_of_sample import BTC_FILE, BTC_TIERS
from stress.venues.presets import load_preset
from stress.venues.tiers import TierTable, max_leverage

LABELS = {
    "files": "files",
    "asset": "asset",
    "leverages": "leverages",
    "sides": "sides",
    "train": "train",
    "test": "test",
    "models": "models",
    "paths": "paths",
    "seed": "seed",
    "notional": "notional",
    "refit_days": "refit_days",
    "closes_only": "closes_only",
}
CLI_LABELS = {k: f"--{k.replace('_', '-')}" for k in LABELS} | {"files": "FILES"}

DEFAULT_FILE = BTC_FILE
"""The shipped hourly BTC history, relative to the repository root."""
SIDES = ("long", "short")
MAX_PATHS = 1_000_000
STEPS_PER_HOUR = 12
"""Steps a simulated hour is split into (5 minutes): the model's stand-in for the wicks."""


@dataclass(frozen=True)
class Options:
    """Checked options (see `stress.pipeline.backtest.backtest` for their meaning)."""

    files: tuple[Path, ...]
    asset: str | None
    leverages: tuple[float, ...]
    sides: tuple[str, ...]
    train: tuple[str, str]
    test: tuple[str, str]
    train_ns: tuple[int, int]
    test_ns: tuple[int, int]
    models: tuple[str, ...]
    paths: int
    seed: int
    notional: float
    closes_only: bool
    refit_days: int | None


def _items(value, label: str) -> list[str]:
    """A comma-separated string or a sequence, as stripped strings; empty is refused."""
    items = value.split(",") if isinstance(value, str) else list(value)
    items = [str(v).strip() for v in items if str(v).strip()]
    if not items:
        raise ConfigError(f"{label}: expected at least one value, got none")
    return items


def _leverages(value, label: str) -> tuple[float, ...]:
    out = []
    for item in _items(value, label):
        try:
            lev = float(item.removesuffix("x"))
        except ValueError:
            raise ConfigError(f"{label}: expected numbers like 10,25,50, got {item!r}") from None
        if not (math.isfinite(lev) and lev >= 1.0):
            raise ConfigError(f"{label}: expected leverages of at least 1, got {item}")
        out.append(lev)
    return tuple(dict.fromkeys(out))


def _choices(value, allowed: Sequence[str], label: str) -> tuple[str, ...]:
    items = [v.lower() for v in _items(value, label)]
    for item in items:
        if item not in allowed:
            raise ConfigError(f"{label}: expected some of {', '.join(allowed)}, got {item!r}")
    return tuple(dict.fromkeys(items))


def _window(value, label: str) -> tuple[tuple[str, str], tuple[int, int]]:
    """``"2018-01-01:2021-12-31"`` or a pair: both ends as text and as ns ``[since, until)``."""
    if isinstance(value, str):
        parts = value.split(":") if value.count(":") == 1 else value.split("..")
    else:
        parts = list(value)
    if len(parts) != 2 or not all(str(p).strip() for p in parts):
        raise ConfigError(
            f"{label}: expected FIRST:LAST dates like 2022-01-01:2023-12-31, got {value!r}"
        )
    text = (str(parts[0]).strip(), str(parts[1]).strip())
    since, until = check_window(*text, labels=(f"{label} (first day)", f"{label} (last day)"))
    return text, (int(since), int(until))


def _whole(value, label: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{label}: expected a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        top = "" if high is None else f" and at most {high:,}"
        raise ConfigError(f"{label}: expected at least {low}{top}, got {value}")
    return int(value)


def check_options(
    files, asset, leverages, sides, train, test, models, paths, seed, notional, closes_only,
    refit_days, labels: dict[str, str] | None = None,
) -> Options:  # fmt: skip
    """Every option checked (module docstring); nothing is read yet."""
    lab = LABELS if labels is None else labels
    if isinstance(files, str | Path):
        files = [files]
    files = (DEFAULT_FILE,) if not files else tuple(Path(f) for f in files)
    train_text, train_ns = _window(train, lab["train"])
    test_text, test_ns = _window(test, lab["test"])
    if test_ns[0] < train_ns[1]:
        raise ConfigError(
            f"{lab['test']}: expected a window after {lab['train']} (which ends {train_text[1]}): "
            f"a forecast may only use what came before it, got {test_text[0]}"
        )
    if (
        isinstance(notional, bool)
        or not isinstance(notional, int | float)
        or not (math.isfinite(notional) and notional > 0)
    ):
        raise ConfigError(
            f"{lab['notional']}: expected a positive number of USDT, got {notional!r}"
        )
    return Options(
        files=files,
        asset=None if asset is None else str(asset).strip().upper(),
        leverages=_leverages(leverages, lab["leverages"]),
        sides=_choices(sides, SIDES, lab["sides"]),
        train=train_text,
        test=test_text,
        train_ns=train_ns,
        test_ns=test_ns,
        models=_choices(models, MODELS, lab["models"]),
        paths=_whole(paths, lab["paths"], 1, MAX_PATHS),
        seed=_whole(seed, lab["seed"], 0),
        notional=float(notional),
        closes_only=bool(closes_only),
        refit_days=None if refit_days is None else _whole(refit_days, lab["refit_days"], 1),
    )


def asset_tiers(asset: str) -> tuple[TierTable, str]:
    """The asset's Binance brackets (module docstring) and where they come from."""
    if asset == "BTC":
        rows, source = BTC_TIERS, "Binance BTCUSDT brackets (as the out-of-sample table)"
    else:
        exchange = load_preset("binance").exchange
        market = exchange["markets"].get(asset)
        if market is None:
            dm = exchange["default_market"]
            table = TierTable.flat(dm["mmr"], dm["max_leverage"])
            return table, f"the binance preset's default market (mmr {dm['mmr']:g})"
        rows, source = market["tiers"], f"the binance preset's {asset} brackets"
    table = TierTable.build(
        caps=[r["max_notional"] for r in rows],
        mmrs=[r["mmr"] for r in rows],
        max_leverages=[r["max_leverage"] for r in rows],
    )
    return table, source


def check_positions(opts: Options, table: TierTable, asset: str, labels=None) -> None:
    """Refuse a notional beyond the brackets or a leverage they do not allow."""
    lab = LABELS if labels is None else labels
    cap = float(table.cap[-1])
    if opts.notional > cap:
        raise ConfigError(
            f"{lab['notional']}: expected at most {cap:,.0f} USDT (the largest {asset} bracket), "
            f"got {opts.notional:,.0f}"
        )
    top = max_leverage(table, opts.notional)
    for lev in opts.leverages:
        if lev > top:
            raise ConfigError(
                f"{lab['leverages']}: {asset} allows at most {top:g}x for {opts.notional:,.0f} "
                f"USDT, got {lev:g}x"
            )


def position_names(opts: Options) -> list[str]:
    """``long-10x``, ``long-25x``, ..., ``short-50x``: sides, then leverages."""
    return [f"{side}-{lev:g}x" for side in opts.sides for lev in opts.leverages]


def liquidation_prices(opts: Options, table: TierTable, entry: np.ndarray) -> np.ndarray:
    """The liquidation price of every (day, position) entered at the day's ``entry``, shape
    (n_days, n_pos); NaN where no positive price liquidates the position."""
    pairs = [(side, lev) for side in opts.sides for lev in opts.leverages]
    out = np.full((entry.shape[0], len(pairs)), np.nan)
    for d, price in enumerate(entry.tolist()):
        qty = opts.notional / price
        for j, (side, lev) in enumerate(pairs):
            lp = liquidation_price(side, qty, price, opts.notional / lev, table)
            if lp is not None:
                out[d, j] = lp
    return out


def side_signs(opts: Options) -> np.ndarray:
    """+1 (long) or -1 (short) per position, in `position_names` order."""
    return np.array([1 if side == "long" else -1 for side in opts.sides for _ in opts.leverages])


def log_thresholds(prices: np.ndarray, entry: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """``log(liquidation price / entry)``; -inf (long) or +inf (short) where there is none."""
    with np.errstate(invalid="ignore"):
        out = np.log(prices / entry[:, None])
    never = np.broadcast_to(np.where(signs > 0, -np.inf, np.inf), out.shape)
    return np.where(np.isnan(prices), never, out)


def liquidated(
    prices: np.ndarray, low: np.ndarray, high: np.ndarray, signs: np.ndarray
) -> np.ndarray:
    """Per (day, position): did the day's low (long) or high (short) reach the liquidation
    price? Shape of ``prices``, bool."""
    with np.errstate(invalid="ignore"):  # NaN prices: never
        down = low[:, None] <= prices
        up = high[:, None] >= prices
    return np.where(signs > 0, down, up)
