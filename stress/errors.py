"""The one exception users see for bad input, and the rule that keeps it to one line."""

from __future__ import annotations

import re
from typing import NoReturn

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Everything a terminal or `str.splitlines` may treat as a line break or a control sequence:
# C0 controls, DEL, C1 controls (NEL U+0085 among them) and the Unicode line and paragraph
# separators. Backslashes are left alone, so escaping twice changes nothing.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str) -> str:
    r"""`text` with control characters escaped as ``\n``, ``\r``, ``\t``, ``\xNN``, ``\uNNNN``.

    User text (asset names, position ids, file names) lands in messages, and a newline in it
    would split the message or forge a second ``error:`` line.
    """
    return _CONTROL.sub(_escape, text)


class ConfigError(ValueError):
    """Bad input: the message is one line naming the source, the field path and the problem.

    The message is made one line here, whatever text it was built from, so that every message
    is: the CLI prints ``error: <message>`` and nothing a config contains can add a line.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(str(message)))


def fail(path: str, message: str) -> NoReturn:
    """Raise the one-line error ``<field path>: <message>`` (the caller's source is added above)."""
    raise ConfigError(f"{path}: {message}")


def amount(x: float) -> str:
    """Amounts people read in messages: 12,500 or 0.004 (rounded so that a notional of
    2,000,000.0000001 reads 2,000,000)."""
    if abs(x) >= 1e15:
        return f"{x:.6g}"
    if abs(x) >= 1:
        return f"{x:,.6f}".rstrip("0").rstrip(".")
    return f"{x:.6g}"
