"""What a config file may cost: its size, its nesting depth and its number of values.

A config is a few hundred values nested a few levels deep; the limits here are far above that and
far below what hurts. Each is checked before the work it protects, so hostile input (a
billion-laughs alias bomb, a 50 MB file, ``/dev/zero``, a FIFO, a list nested thousands deep, an
integer of thousands of digits) fails fast with one `ConfigError` line naming the file, instead
of a hang, a multi-gigabyte allocation or a traceback.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError

from stress.errors import ConfigError

MAX_CONFIG_BYTES = 5_000_000
"""Largest config file read. The shipped configs are a few kB; a calibrated 300-asset
correlation matrix is under 1 MB. PyYAML (pure Python) parses 5 MB in about 3 seconds."""

MAX_DEPTH = 100
"""Deepest nesting of mappings and lists; real configs nest 6 levels. 100 levels stay well
inside Python's recursion limit in the parser, pydantic and the error messages."""

MAX_VALUES = 100_000
"""Most values (mappings, lists and scalars, with YAML aliases expanded) in a config. It admits a
300 x 300 correlation matrix; PyYAML holds about 650 bytes per value while composing, so the
cap also bounds the parser's memory (about 65 MB) and time (about 2 seconds)."""

_KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISFIFO: "a named pipe (FIFO)",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


def _refuse_non_regular(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS.items() if test(mode)), "not a regular file")
        raise ConfigError(f"{path}: cannot read: expected a regular file, got {kind}")


def _too_large(path: Path, size: str) -> ConfigError:
    return ConfigError(
        f"{path}: too large: expected at most {MAX_CONFIG_BYTES:,} bytes, got {size}"
    )


def read_config_text(path: Path) -> str:
    """The text of a config file: a regular UTF-8 file of at most `MAX_CONFIG_BYTES`.

    The file is inspected with `os.stat` before it is opened, so a FIFO (whose ``open`` blocks
    until a writer comes) or a device is never opened; at most ``MAX_CONFIG_BYTES + 1`` bytes are
    read, whatever the file claims its size is. Newlines are translated as text mode would.

    Raises
    ------
    ConfigError
        No such file, not readable, not a regular file, too large, or not UTF-8.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        raise ConfigError(f"{path}: cannot read: {_reason(exc)}") from None
    _refuse_non_regular(path, info.st_mode)
    if info.st_size > MAX_CONFIG_BYTES:
        raise _too_large(path, f"{info.st_size:,}")
    try:
        # O_NONBLOCK: should the file have been swapped for a FIFO since the stat, opening it
        # returns at once, and the fstat below refuses it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as file:
            _refuse_non_regular(path, os.fstat(file.fileno()).st_mode)
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {_reason(exc)}") from None
    if len(data) > MAX_CONFIG_BYTES:  # it grew since the stat, or does not know its size
        raise _too_large(path, "more")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _reason(exc: Exception) -> str:
    """An OS error without the path Python appends (the message names the file already)."""
    return getattr(exc, "strerror", None) or str(exc)


def digits_limit() -> int:
    """Python's limit on the digits of an int converted from text (0: none)."""
    return sys.get_int_max_str_digits()


def too_many_digits(value: int) -> bool:
    """Whether `value` has more decimal digits than Python converts to or from text."""
    limit = digits_limit()
    # 2**(3.33 * limit) > 10**limit: only numbers that large need the exact (costly) test
    return bool(limit) and value.bit_length() > 3 * limit and abs(value) >= 10**limit


# ---------------------------------------------------------------------------------------------
# YAML


class LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing while it composes what would exhaust time or memory.

    Composition is recursive in PyYAML (three frames per level), so the depth is checked as each
    collection opens, long before Python's recursion limit; the values are counted as they are
    composed, so a huge flat document stops at `MAX_VALUES`. A value a scalar constructor cannot
    build (an integer past Python's digit limit, a 30th of February) becomes a `ConfigError`
    naming its line.
    """

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self.source = source
        self._depth = 0
        self._values = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):  # counted by `check_expansion`
            return super().compose_node(parent, index)
        event = self.peek_event()
        self._values += 1
        if self._values > MAX_VALUES:
            raise ConfigError(_too_many(self.source, event.start_mark.line + 1))
        if not isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, _too_deep(), event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except ConfigError:
            raise
        except (ValueError, OverflowError) as exc:
            line = node.start_mark.line + 1
            if isinstance(node.value, str) and node.tag.endswith(":int"):
                problem = f"a number with more than {digits_limit()} digits"
            else:
                text = node.value if isinstance(node.value, str) else ""
                problem = f"cannot read {text[:40]!r}: {exc}"
            raise ConfigError(f"{self.source}: line {line}: {problem}") from None


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def check_expansion(root: yaml.Node, source: str) -> None:
    """Refuse a composed document whose aliases expand too far.

    An alias is the node of its anchor, so a document of a few lines can stand for 10**9
    values (each level of anchors multiplying the last), nest far deeper than it is written
    (each anchor holding the previous one) or without end (an anchor holding its own alias).
    The expanded size and depth of each node are computed once and memoised by node, so the
    walk costs as much as the document's text, not as its expansion; it is iterative and its
    stack stops at `MAX_DEPTH` levels, so it does not recurse either.
    """
    if isinstance(root, yaml.ScalarNode):
        return
    sizes: dict[int, tuple[int, int]] = {}  # id -> (values, levels) with aliases expanded
    on_path: set[int] = {id(root)}
    stack: list[tuple[yaml.Node, Iterator[yaml.Node]]] = [(root, _children(root))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.discard(id(node))
            below = [sizes.get(id(c), (1, 0)) for c in _children(node)]
            size = (1 + sum(n for n, _ in below), 1 + max((d for _, d in below), default=0))
            if size[0] > MAX_VALUES:
                raise ConfigError(_too_many(source, node.start_mark.line + 1))
            if size[1] > MAX_DEPTH:
                raise ComposerError(None, None, _too_deep(" (aliases expanded)"), node.start_mark)
            sizes[id(node)] = size
        elif isinstance(child, yaml.ScalarNode) or id(child) in sizes:
            continue
        elif id(child) in on_path:
            line = child.start_mark.line + 1
            raise ConfigError(f"{source}: line {line}: an alias inside its own anchor (a loop)")
        elif len(stack) >= MAX_DEPTH:
            raise ComposerError(None, None, _too_deep(" (aliases expanded)"), child.start_mark)
        else:
            stack.append((child, _children(child)))
            on_path.add(id(child))


def _too_many(source: str, line: int) -> str:
    return (
        f"{source}: line {line}: too many values: expected at most {MAX_VALUES:,} "
        "(YAML aliases expanded), got more"
    )


def _too_deep(how: str = "") -> str:
    return f"nested deeper than {MAX_DEPTH} levels{how}"


# ---------------------------------------------------------------------------------------------
# TOML


def load_toml(text: str, source: str) -> Any:
    """Parse TOML, turning the standard library's uncaught failures into one line.

    `tomllib` recurses into nested arrays and inline tables and converts integers with `int`,
    so deep nesting raises RecursionError and a 5,000-digit integer Python's digit-limit
    ValueError; neither carries a position, so the line is found in the text afterwards. The
    depth of what does parse is checked with the other inputs' (`config_read.plain_data`).
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    except RecursionError:
        line = _deep_toml_line(text)
        at = "" if line is None else f" at line {line}"
        raise ConfigError(f"{source}: invalid TOML{at}: {_too_deep()}") from None
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise ConfigError(f"{source}: invalid TOML: {exc}") from None
        line = _long_number_line(text)
        at = "" if line is None else f"line {line}: "
        raise ConfigError(
            f"{source}: {at}a number with more than {digits_limit()} digits"
        ) from None


def _deep_toml_line(text: str) -> int | None:
    """The line where arrays and inline tables first nest deeper than `MAX_DEPTH`, if any."""
    depth, line, i = 0, 1, 0
    while i < len(text):
        char = text[i]
        if char == "#":  # a comment runs to the end of the line
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if char in "\"'":
            delimiter = char * 3 if text.startswith(char * 3, i) else char
            end = _string_end(text, i + len(delimiter), delimiter)
            line += text.count("\n", i, end)
            i = end
            continue
        if char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif char in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _string_end(text: str, start: int, delimiter: str) -> int:
    """Index just past the string opened before `start` (basic strings have escapes)."""
    i = start
    while i < len(text):
        if delimiter[0] == '"' and text[i] == "\\":
            i += 2
        elif text.startswith(delimiter, i):
            return i + len(delimiter)
        else:
            i += 1
    return len(text)


def _long_number_line(text: str) -> int | None:
    """The line of the first integer with more digits than Python converts."""
    for match in re.finditer(r"[0-9][0-9_]*", text):
        digits = match.group()
        if len(digits) - digits.count("_") > digits_limit():
            return text.count("\n", 0, match.start()) + 1
    return None
