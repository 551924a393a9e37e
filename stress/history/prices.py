"""Price histories: OHLCV CSV files as exchanges and ccxt export them, aligned into log returns.

A file needs a header with a timestamp column and a ``close`` column (names are matched without
regard to case or surrounding spaces). ``open``, and ``high`` with ``low``, are kept when the file
has them (the wicks of a bar: where a backtest looks for liquidations) and checked to hold the
bar's close (``low <= open, close <= high``); any other columns are ignored. Timestamps are either
ISO 8601 text (``2021-01-01 00:00:00``, ``2021-01-01T00:00:00Z``; naive times are UTC) or epoch
numbers in seconds, milliseconds (ccxt, Binance klines), microseconds or nanoseconds, told apart by
their size. ``.csv.gz`` files are read as they are.

Every problem is one `ConfigError` line naming the file, the line and the column.

Gaps. Exchanges miss bars during outages. A return is kept only if it spans exactly one bar (the
most common spacing of the aligned timestamps); returns across a gap are dropped, not rescaled.
Dropping is exact for every model: what remains are single-bar increments, i.i.d. under the model.
Rescaling a multi-bar return by ``sqrt(gap / bar)`` is exact for GBM only: the sum of several
Student-t innovations is not a scaled t, and a Merton jump within an outage would be shrunk, so
either would bias the tail parameters. The cost is small (27 returns of 52,000 in the shipped
Binance files) and is reported by `calibrate` as ``dropped_returns``.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stress.errors import ConfigError

TIME_COLUMNS = ("open_time_utc", "open_time", "timestamp", "time", "datetime", "date", "unix")
"""Timestamp column names, in order of preference (compared in lower case)."""

CLOSE_COLUMN = "close"
RANGE_COLUMNS = ("open", "high", "low")
"""Optional columns, kept when present (``high`` and ``low`` only together)."""
QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "TUSD", "EUR")
"""Quote-currency suffixes stripped from a file name to name its asset (BTCUSDT -> BTC)."""

MIN_CLOSES = 31  # at least 30 returns
MAX_FILE_BYTES = 256 * 2**20
"""Largest price file, uncompressed: about 2.5 million OHLCV rows (five years of 1-minute
bars). A small .csv.gz can expand to gigabytes; it is read only this far."""
NS_PER_SECOND = 10**9
NS_PER_HOUR = 3600 * NS_PER_SECOND


@dataclass(frozen=True)
class PriceHistory:
    """One asset's closes.

    Attributes
    ----------
    name : str
        Asset name (see :func:`asset_name`).
    source : str
        The file it was read from, as given.
    times : ndarray, shape (n_bars,), int64
        Bar timestamps in nanoseconds since the epoch (UTC), strictly increasing.
    close : ndarray, shape (n_bars,), float64
        Close prices, all > 0.
    open, high, low : ndarray, shape (n_bars,), float64, or None
        The bar's open, highest and lowest price, when the file has them (``high`` and ``low``
        come together): ``low <= open, close <= high``.
    """

    name: str
    source: str
    times: np.ndarray
    close: np.ndarray
    open: np.ndarray | None = None
    high: np.ndarray | None = None
    low: np.ndarray | None = None


@dataclass(frozen=True)
class Returns:
    """Aligned single-bar log returns of several assets.

    Attributes
    ----------
    names : list of str
    times : ndarray, shape (n_returns,), int64
        End time of each return (ns since the epoch, UTC).
    values : ndarray, shape (n_returns, n_assets), float64
        ``log(close[t] / close[t - 1])`` over returns that span exactly one bar.
    last_close : ndarray, shape (n_assets,)
        Close of the last common bar.
    bar_seconds : float
        The bar: the most common spacing of the aligned timestamps.
    first_time, last_time : int
        First and last common bar (ns), the span the returns come from.
    dropped : int
        Returns dropped because they span a gap (or any spacing other than one bar).
    dropped_seconds : float
        Time covered by the dropped returns.
    """

    names: list[str]
    times: np.ndarray
    values: np.ndarray
    last_close: np.ndarray
    bar_seconds: float
    first_time: int
    last_time: int
    dropped: int
    dropped_seconds: float

    @property
    def bar_years(self) -> float:
        """Length of a bar in 365-day years (the simulation's time unit)."""
        return self.bar_seconds / (365.0 * 86400.0)


def asset_name(path: str | Path) -> str:
    """The asset a price file is named after.

    The file name without ``.gz``/``.csv`` is cut at ``_``, ``-``, ``.`` and spaces. A token that is
    a quote currency (``USDT``, ``USD``, ...) names the token before it (``BTC-USDT_1h.csv`` ->
    ``BTC``); otherwise the first token ending in a quote currency loses it
    (``binance_spot_BTCUSDT_1h.csv`` -> ``BTC``); otherwise the whole name is the asset
    (``btc.csv`` -> ``btc``).
    """
    stem = Path(path).name
    for suffix in (".gz", ".csv", ".txt"):
        stem = stem.removesuffix(suffix).removesuffix(suffix.upper())
    tokens = [t for t in re.split(r"[_\-. ]+", stem) if t]
    for i, tok in enumerate(tokens):
        if i > 0 and tok.upper() in QUOTES:
            return tokens[i - 1].upper()
    for tok in tokens:
        for quote in QUOTES:
            base = tok.upper().removesuffix(quote)
            if base != tok.upper() and base.isalnum() and not base.isdigit():
                return base
    return stem


def _line(row: int) -> int:
    """File line of data row ``row`` (0-based): the header is line 1."""
    return row + 2


def _find_column(columns: list[str], wanted: tuple[str, ...], source: str, what: str) -> str:
    lowered = {str(c).strip().lower(): c for c in columns}
    for name in wanted:
        if name in lowered:
            return lowered[name]
    shown = ", ".join(repr(str(c).strip()) for c in columns[:8]) if columns else "no columns"
    shown += ", ..." if len(columns) > 8 else ""
    raise ConfigError(
        f"{source}: line 1: missing {what} column: expected one of {', '.join(wanted)}, got {shown}"
    )


def _epoch_unit(values: np.ndarray) -> str:
    """Epoch numbers are s, ms, us or ns: tell them apart by size (after 1973, before 5138)."""
    biggest = float(np.nanmax(np.abs(values))) if values.size else 0.0
    for unit, limit in (("s", 1e11), ("ms", 1e14), ("us", 1e17)):
        if biggest < limit:
            return unit
    return "ns"


def _parse_times(raw: pd.Series, source: str, column: str) -> np.ndarray:
    """Timestamps (ISO text or epoch numbers) -> int64 ns since the epoch, UTC."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise ConfigError(
                f"{source}: line {_line(row)}: {column}: expected a timestamp, got an empty field"
            )
        parsed = pd.to_datetime(raw, unit=_epoch_unit(values), utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")
    missing = parsed.isna().to_numpy()
    if missing.any():
        row = int(np.argmax(missing))
        found = raw.iloc[row]
        found = "an empty field" if pd.isna(found) else repr(str(found))
        raise ConfigError(
            f"{source}: line {_line(row)}: {column}: expected an ISO 8601 time or epoch "
            f"milliseconds, got {found}"
        )
    return parsed.dt.as_unit("ns").astype("int64").to_numpy()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_close(raw: pd.Series, source: str, column: str) -> np.ndarray:
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        row = int(np.argmax(bad))
        text = raw.iloc[row]
        if pd.isna(text):
            found = "an empty field"
        else:  # a number as written (0, -5.5, nan), anything else quoted
            found = (
                str(text).strip() if np.isfinite(values[row]) or _is_number(text) else repr(text)
            )
        raise ConfigError(
            f"{source}: line {_line(row)}: {column}: expected a positive price, got {found}"
        )
    return values


def _check_increasing(times: np.ndarray, source: str, column: str) -> None:
    step = np.diff(times)
    bad = step <= 0
    if bad.any():
        row = int(np.argmax(bad)) + 1
        this, prev = (pd.Timestamp(times[row], tz="UTC"), pd.Timestamp(times[row - 1], tz="UTC"))
        what = "duplicate timestamp" if step[row - 1] == 0 else "timestamps out of order"
        raise ConfigError(
            f"{source}: line {_line(row)}: {column}: {what}: expected a time after "
            f"{prev:%Y-%m-%d %H:%M:%S}, got {this:%Y-%m-%d %H:%M:%S}"
        )


def _bar_range(
    frame: pd.DataFrame, columns: dict[str, str], close: np.ndarray, source: str
) -> dict[str, np.ndarray]:
    """The optional ``open``, ``high``, ``low`` columns, parsed and checked against each other."""
    found = {
        k: _parse_close(frame[c].replace("", np.nan), source, c.strip()) for k, c in columns.items()
    }
    inner = [close] + ([found["open"]] if "open" in found else [])
    checks = [
        ("low", np.minimum.reduce(inner), "at most"),
        ("high", np.maximum.reduce(inner), "at least"),
    ]
    for key, bound, what in checks:
        if key not in found:
            continue
        bad = found[key] > bound if key == "low" else found[key] < bound
        if bad.any():
            row = int(np.argmax(bad))
            raise ConfigError(
                f"{source}: line {_line(row)}: {columns[key].strip()}: expected {what} the bar's "
                f"open and close ({bound[row]:g}), got {found[key][row]:g}"
            )
    return found


def _read_capped(path: Path, source: str) -> bytes:
    """The file's bytes, gunzipped if it is gzip (by its magic number), at most MAX_FILE_BYTES."""
    too_big = (
        f"{source}: expected a price file of at most {MAX_FILE_BYTES // 2**20} MB uncompressed, "
        "got a larger one"
    )
    try:
        with path.open("rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
            fh.seek(0)
            if gzipped:
                with gzip.GzipFile(fileobj=fh) as gz:
                    data = gz.read(MAX_FILE_BYTES + 1)
            else:
                data = fh.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{source}: cannot read: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(too_big)
    return data


def read_prices(path: str | Path, name: str | None = None) -> PriceHistory:
    """Read one price file (``.csv`` or ``.csv.gz``).

    Parameters
    ----------
    path : str or Path
    name : str, optional
        Asset name; default :func:`asset_name` of the file.

    Returns
    -------
    PriceHistory

    Raises
    ------
    ConfigError
        Missing file or columns, an unparseable timestamp or close, a close <= 0, timestamps not
        strictly increasing, or fewer than 31 bars; one line naming the file, line and column.
    """
    source = str(path)
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{source}: no such file")
    data = _read_capped(path, source)
    try:
        # Blank lines are kept (as empty rows) so that row numbers stay file line numbers.
        columns = list(pd.read_csv(io.BytesIO(data), nrows=0).columns)
        time_col = _find_column(columns, TIME_COLUMNS, source, "timestamp")
        close_col = _find_column(columns, (CLOSE_COLUMN,), source, "close")
        lowered = {str(c).strip().lower(): c for c in columns}
        extra = {k: lowered[k] for k in RANGE_COLUMNS if k in lowered}
        if not ("high" in extra and "low" in extra):
            extra = {k: c for k, c in extra.items() if k == "open"}
        frame = pd.read_csv(
            io.BytesIO(data),
            usecols=[time_col, close_col, *extra.values()],
            skip_blank_lines=False,
            dtype=str,
            keep_default_na=False,
        )
    except pd.errors.EmptyDataError:
        raise ConfigError(
            f"{source}: line 1: expected a header with timestamp and close, got an empty file"
        ) from None
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{source}: cannot read as CSV: {reason}") from None
    # Trailing empty lines are an editor's habit, not data.
    filled = (frame != "").any(axis=1).to_numpy()
    last = len(filled) - int(np.argmax(filled[::-1])) if filled.any() else 0
    frame = frame.iloc[:last]
    times_raw = frame[time_col].replace("", np.nan)
    numeric = pd.to_numeric(times_raw, errors="coerce")
    if len(frame) and numeric.notna().sum() == times_raw.notna().sum():
        times_raw = numeric  # epoch numbers, not text
    times = _parse_times(times_raw, source, str(time_col).strip())
    close = _parse_close(frame[close_col].replace("", np.nan), source, str(close_col).strip())
    _check_increasing(times, source, str(time_col).strip())
    if len(close) < MIN_CLOSES:
        raise ConfigError(
            f"{source}: too little data: expected at least {MIN_CLOSES} bars (30 returns), "
            f"got {len(close)}"
        )
    bars = _bar_range(frame, {k: str(c) for k, c in extra.items()}, close, source)
    return PriceHistory(name or asset_name(path), source, times, close, **bars)


def common_times(histories: list[PriceHistory]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Inner join on timestamps: the common times and each history's indices of them."""
    common = histories[0].times
    for h in histories[1:]:
        common = np.intersect1d(common, h.times, assume_unique=True)
    return common, [np.searchsorted(h.times, common) for h in histories]


def _bar(step: np.ndarray) -> int:
    values, counts = np.unique(step, return_counts=True)
    return int(values[np.argmax(counts)])


def aligned_returns(
    histories: list[PriceHistory], since: int | None = None, until: int | None = None
) -> Returns:
    """Single-bar log returns of several assets over their common timestamps.

    Parameters
    ----------
    histories : list of PriceHistory
        One per asset, distinct names.
    since, until : int, optional
        Keep bars with ``since <= time < until`` (ns since the epoch).

    Returns
    -------
    Returns

    Raises
    ------
    ConfigError
        Fewer than ``MIN_CLOSES - 1`` single-bar returns remain after the join and the window.
    """
    common, index = common_times(histories)
    keep = np.ones(common.shape, dtype=bool)
    if since is not None:
        keep &= common >= since
    if until is not None:
        keep &= common < until
    times = common[keep]
    closes = np.column_stack([h.close[i[keep]] for h, i in zip(histories, index, strict=True)])
    step = np.diff(times)
    bar = _bar(step) if step.size else 0
    one_bar = step == bar
    n_returns = int(one_bar.sum())
    if n_returns < MIN_CLOSES - 1:
        sources = ", ".join(h.source for h in histories)
        where = "on common timestamps" if len(histories) > 1 else "in the file"
        window = " within --since/--until" if since is not None or until is not None else ""
        raise ConfigError(
            f"{sources}: too little data: expected at least {MIN_CLOSES - 1} single-bar returns "
            f"{where}{window}, got {n_returns}"
        )
    return Returns(
        names=[h.name for h in histories],
        times=times[1:][one_bar],
        values=np.diff(np.log(closes), axis=0)[one_bar],
        last_close=closes[-1].copy(),
        bar_seconds=bar / NS_PER_SECOND,
        first_time=int(times[0]),
        last_time=int(times[-1]),
        dropped=int((~one_bar).sum()),
        dropped_seconds=float(step[~one_bar].sum()) / NS_PER_SECOND,
    )
