"""Reading an account's JSON files, and the one-line messages about their fields.

`stress import` reads what a venue (or ccxt) returned: positions, tier tables, balances. A bad
file is refused with one line naming the file, the entry and the field,
``positions.json: [2]: contracts: expected a number >= 0, got 'abc' (a string)``, where the entry
is a list index (``[2]``) or a mapping key (``BTC/USDT:USDT``). Numbers may be JSON numbers or
decimal text: Binance sends every amount as text (``"positionAmt": "0.001"``), ccxt as numbers.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from stress.config.read import show_typed
from stress.config.read_limits import read_config_text
from stress.errors import ConfigError

MISSING: Any = object()
"""A field the entry does not have (as opposed to one that is ``null``)."""

_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: Path) -> Any:
    """The data of a JSON file, within the limits of a config file (a regular file, 5 MB).

    Raises
    ------
    ConfigError
        ``<file>: ...``: unreadable, too large, or not JSON (``NaN`` and ``Infinity``, which
        Python's reader would accept, included).
    """
    text = read_config_text(path)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid JSON: nested too deeply") from None
    except ValueError as exc:  # NaN, or an integer of more digits than Python converts
        raise ConfigError(f"{path}: invalid JSON: {exc}") from None


def as_number(value: Any) -> float | None:
    """A finite number from a JSON number or decimal text; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value.strip()):
            return None
        value = value.strip()
    elif not isinstance(value, int | float):
        return None
    try:
        x = float(value)
    except (OverflowError, ValueError):
        return None
    return x if math.isfinite(x) else None


def found(value: Any) -> str:
    """A found value for a message: ``nothing`` for a missing field, else value and type."""
    return "nothing (no such field)" if value is MISSING else show_typed(value)


@dataclass(frozen=True)
class Entry:
    """One entry of an input file, and how messages name it.

    Attributes
    ----------
    source : str
        The file, as the user named it.
    where : str
        The entry: ``[2]`` in a list, ``BTC/USDT:USDT`` in a mapping.
    data : dict
        Its fields.
    prefix : str
        Put before each field's name (``brackets[2].`` for a bracket of a Binance symbol).
    """

    source: str
    where: str
    data: dict
    prefix: str = ""

    @classmethod
    def of(cls, source: str, where: str, value: Any, what: str, prefix: str = "") -> Entry:
        """The entry ``value``, refused unless a mapping (``what`` says what it should be)."""
        if not isinstance(value, dict):
            field = prefix.rstrip(".")
            at = f"{where}: {field}" if field else where
            raise ConfigError(f"{source}: {at}: expected a mapping ({what}), got {found(value)}")
        return cls(source, where, value, prefix)

    def fail(self, field: str, expected: str, value: Any = MISSING) -> NoReturn:
        """Raise ``<file>: <entry>: <field>: expected <expected>, got <value>``."""
        raise ConfigError(
            f"{self.source}: {self.where}: {self.prefix}{field}: expected {expected}, "
            f"got {found(value)}"
        )

    def get(self, field: str) -> Any:
        """The raw value of ``field``: `MISSING` if absent, None if null."""
        return self.data.get(field, MISSING)

    def given(self, field: str) -> bool:
        """Whether ``field`` is there and not null."""
        return self.data.get(field) is not None

    def number(
        self,
        field: str,
        expected: str,
        low: float | None = None,
        high: float | None = None,
        *,
        above: bool = False,
    ) -> float:
        """A number in ``[low, high]`` (``(low, high]`` with ``above``), else a message."""
        raw = self.get(field)
        x = as_number(raw)
        if (
            x is None
            or (low is not None and (x <= low if above else x < low))
            or (high is not None and x > high)
        ):
            self.fail(field, expected, raw)
        return x

    def choice(self, field: str, choices: dict[str, str]) -> str:
        """One of ``choices`` (keys compared without case), as its value."""
        raw = self.get(field)
        if isinstance(raw, str) and raw.strip().lower() in choices:
            return choices[raw.strip().lower()]
        names = " or ".join(sorted(set(choices.values())))
        self.fail(field, names, raw)

    def text(self, field: str, expected: str) -> str:
        """A non-empty string."""
        raw = self.get(field)
        if not isinstance(raw, str) or not raw.strip():
            self.fail(field, expected, raw)
        return raw.strip()
