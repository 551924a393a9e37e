"""Window bounds (``since``/``until``) as nanoseconds: one rule for configs and ``calibrate``."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from stress.errors import ConfigError

NS_PER_DAY = 86400 * 10**9
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_time(value: Any, label: str, end: bool = False) -> int | None:
    """A window bound -> ns since the epoch (UTC); naive times are UTC.

    A bare date as the end of the window (``end=True``) includes that whole day:
    ``until="2023-12-31"`` keeps every bar stamped on 31 December.
    """
    if value is None:
        return None
    import pandas  # only a history window needs it: loading other configs stays light

    whole_day = isinstance(value, date) and not isinstance(value, datetime)
    whole_day |= isinstance(value, str) and bool(_DATE_ONLY.match(value.strip()))
    try:
        stamp = pandas.Timestamp(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError):
        stamp = pandas.NaT
    if stamp is pandas.NaT:
        raise ConfigError(
            f"{label}: expected a date like 2021-01-01 or an ISO time like 2021-01-01T08:00, "
            f"got {value!r}"
        )
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    ns = int(stamp.as_unit("ns").value)
    if end:
        ns += NS_PER_DAY if whole_day else 1  # the window is since <= t < until
    return ns


def check_window(since: Any, until: Any, labels=("since", "until")) -> tuple[int | None, ...]:
    """Both bounds as ns (``since <= t < until``), checked to be in order."""
    start, stop = parse_time(since, labels[0]), parse_time(until, labels[1], end=True)
    if start is not None and stop is not None and start >= stop:
        raise ConfigError(f"{labels[0]}: expected a time before {labels[1]} {until}, got {since}")
    return start, stop
