"""Reading config files and turning pydantic's errors into one line a person can act on.

YAML is read with duplicate keys refused (PyYAML silently keeps the last one); TOML with the
standard library; both within the limits of `stress.config.read_limits` (size, depth, number of
values). `plain_data` applies the same limits to a mapping given in Python and turns its tuples
and numpy values into the lists and numbers the strict schema expects. `message` renders a
validation error as ``<field path>: <expected>, got <found>``, naming the allowed keys when a
key is unknown; values are shown abridged, so a huge one costs nothing to show.
"""

from __future__ import annotations

import builtins
import math
import reprlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import numpy as np
import yaml
from pydantic import BaseModel

from stress.config.read_limits import (
    MAX_DEPTH,
    MAX_VALUES,
    LimitedLoader,
    check_expansion,
    digits_limit,
    load_toml,
    read_config_text,
    too_many_digits,
)
from stress.errors import ConfigError, one_line


def _load_yaml(text: str, source: str) -> Any:
    """Parse YAML within the limits, refusing duplicate keys (PyYAML keeps the last one)."""
    loader = LimitedLoader(text, source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_expansion(node, source)
        _refuse_duplicate_keys(loader, node, (), source, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_duplicate_keys(
    loader: yaml.SafeLoader, node: yaml.Node, loc: tuple, source: str, seen_nodes: set
) -> None:
    if id(node) in seen_nodes:  # an alias: checked where its anchor was
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(loader, item, (*loc, i), source, seen_nodes)
    elif isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = None
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                continue
            if isinstance(key_node, yaml.ScalarNode):
                key = loader.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    where = (
                        f"twice on line {line}"
                        if line == first_line[key]
                        else f"on lines {first_line[key]} and {line}"
                    )
                    raise ConfigError(
                        f"{source}: {field_path((*loc, str(key)))}: duplicate key: "
                        f"expected each key once, got it {where}"
                    )
                first_line[key] = line
            sub = loc if key is None else (*loc, str(key))
            _refuse_duplicate_keys(loader, value_node, sub, source, seen_nodes)


def read_file(path: Path) -> Any:
    """The data of a YAML or TOML (by suffix) config file.

    Raises
    ------
    ConfigError
        One line naming the file: unreadable, beyond a limit of `stress.config.read_limits`, or
        not valid YAML/TOML.
    """
    text = read_config_text(path)
    if path.suffix.lower() == ".toml":
        return load_toml(text, str(path))
    try:
        return _load_yaml(text, str(path))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        if context and problem.startswith("but "):  # "expected a single document ... but found"
            problem = f"{context} {problem}"
        raise ConfigError(f"{path}: invalid YAML{at}: {problem}") from None


SHOW_CHARS = 60
"""Longest rendering of a found value or of one key of a field path in a message."""


def _cut(text: str) -> str:
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 3] + "..."


def field_path(loc: tuple) -> str:
    """('positions', 1, 'leverage') -> 'positions[1].leverage'.

    Keys are cut to `SHOW_CHARS` and a path deeper than 12 parts keeps its ends, so a hostile
    key or nesting cannot make the message long.
    """
    parts = list(loc) if len(loc) <= 12 else [*loc[:6], ..., *loc[-5:]]
    out = ""
    for part in parts:
        if part is ...:
            out += "..."
        elif isinstance(part, int):
            out += f"[{_SHORT_REPR.repr(part)}]"  # a dict given in Python may have any int key
        else:
            out += f".{_cut(str(part))}" if out else _cut(str(part))
    return out or "(top level)"


class _ShortRepr(reprlib.Repr):
    """repr() that builds no more of a value than a message shows.

    A plain repr() of a billion-value list or of a 5,000-digit integer costs gigabytes or
    raises; this one stops at a few items, three levels and `SHOW_CHARS` characters.
    """

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxdict = 4
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 8
        self.maxdeque = self.maxarray = 8
        self.maxstring = self.maxlong = self.maxother = SHOW_CHARS + 1

    def repr_str(self, x: str, level: int) -> str:
        # the head of the text, like `_cut` (reprlib would keep both ends)
        return builtins.repr(x[: self.maxstring])

    def repr_int(self, x: int, level: int) -> str:
        if too_many_digits(x):
            return f"<a number with more than {digits_limit()} digits>"
        return _cut(builtins.repr(x))


_SHORT_REPR = _ShortRepr()


def short_repr(value: Any) -> str:
    """repr(value), abridged to one line of at most `SHOW_CHARS` characters."""
    return _cut(one_line(_SHORT_REPR.repr(value)))


def show(value: Any) -> str:
    """A found value as the user wrote it (YAML spellings for null and booleans)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return short_repr(value)


_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a decimal number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}


def show_typed(value: Any) -> str:
    """A found value with its type, for errors about the type."""
    name = _TYPE_NAMES.get(type(value))
    return show(value) if name is None else f"{show(value)} ({name})"


def _bound(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _allowed_keys(model_cls: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the schema allows at `loc`'s parent, for 'unknown key' messages."""
    node: Any = model_cls
    for part in loc[:-1]:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            node = field.annotation
        elif get_origin(node) in (list, dict):
            node = get_args(node)[-1]  # a list item, or a mapping's value under a user key
        else:
            return []
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return sorted(node.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` -> X."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


# What pydantic's type errors expect, in the words of a YAML file
_EXPECTED = {
    "float_type": "a number",
    "int_type": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping (key: value pairs)",
    "model_type": "a mapping (key: value pairs)",
    "finite_number": "a finite number",
}
_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _expected(kind: str, msg: str, ctx: dict, value: Any) -> str:
    """'expected ...' for one pydantic error: what was expected, before ', got <found>'."""
    if kind in _EXPECTED:
        text = f"expected {_EXPECTED[kind]}"
        if kind in ("float_type", "int_type") and isinstance(value, str) and _numeric(value):
            low = value.strip().lower()
            if "e" in low and "." not in low:  # YAML 1.1 reads 6e4 as text, 6.0e+4 as a number
                return text + " (YAML reads an exponent without a '.' as text: write 6.0e+4)"
            text += " (write numbers without quotes)"
        return text
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return f"expected a number {_BOUNDS[kind]} {_bound(bound)}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"expected at least {n} item{'s' * (n != 1)}"
    if kind == "string_too_short":
        return "expected a non-empty string"
    if kind == "string_too_long":
        return f"expected at most {ctx.get('max_length')} characters"
    if kind == "multiple_of":
        return f"expected a multiple of {ctx.get('multiple_of')}"
    if kind == "string_pattern_mismatch":
        return f"expected only letters, digits, '_', '.' and '-' (pattern {ctx.get('pattern')})"
    msg = msg.replace("Input should be", "expected").replace("input should be", "expected")
    return msg if msg.startswith("expected") else f"expected: {msg}"


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _found(kind: str, value: Any) -> str:
    return show_typed(value) if kind in _EXPECTED and kind != "finite_number" else show(value)


def message(err: dict, model_cls: type[BaseModel]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    # pydantic adds the union member or a literal's type name to the location; drop those
    loc = tuple(p for p in loc if p not in ("list[float]", "float", "int", "str", "bool"))
    kind = err["type"]
    value = err.get("input")
    if loc and loc[-1] == "[key]":  # a bad mapping key, e.g. an asset named 1
        where = field_path(loc[:-2])
        expected = _expected(kind, err["msg"], err.get("ctx", {}), value)
        return f"{where}: bad key: {expected}, got {_found(kind, value)}"
    where = field_path(loc)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model_cls, loc)
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"{where}: unknown key{hint}"
    if kind == "missing":
        return f"{where}: required field is missing"
    if kind == "value_error":
        msg = err["msg"].removeprefix("Value error, ")
        # model-level rules name their own field path
        return msg if not loc and ": " in msg else f"{where}: {msg}"
    expected = _expected(kind, err["msg"], err.get("ctx", {}), value)
    return f"{where}: {expected}, got {_found(kind, value)}"


def plain_data(data: Any, source: str, *, convert: bool) -> Any:
    """A copy of raw config data, checked against the limits of `stress.config.read_limits`.

    Walks iteratively (no recursion however deep the data), refusing nesting deeper than
    `MAX_DEPTH`, more than `MAX_VALUES` values and integers past Python's digit limit, each
    with the field path. With ``convert`` (data given in Python) any mapping becomes a dict,
    any other sequence but text (a tuple, a numpy array) a list and a numpy scalar a Python
    one, so the strict schema sees what a YAML file would give; types are not converted
    otherwise ("1" stays text). Without it (data read from YAML/TOML) only dicts and lists are
    walked and nothing is changed.
    """
    root, items = _open(data, convert)
    stack: list[tuple[Any, Iterator[tuple[Any, Any]], tuple]] = []
    if items is not None:
        stack.append((root, items, ()))
    count = 1
    while stack:
        out, items, loc = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
            continue
        key, value = item
        count += 1
        if count > MAX_VALUES:
            raise ConfigError(
                f"{source}: {field_path((*loc, key))}: too many values: "
                f"expected at most {MAX_VALUES:,} in a config, got more"
            )
        value, children = _open(value, convert)
        if isinstance(out, dict):
            key = _scalar(key) if convert else key
            out[key] = value
        else:
            out.append(value)
        if isinstance(value, int) and too_many_digits(value):
            raise ConfigError(
                f"{source}: {field_path((*loc, key))}: "
                f"a number with more than {digits_limit()} digits"
            )
        if children is not None:
            if len(stack) >= MAX_DEPTH:
                raise ConfigError(
                    f"{source}: {field_path((*loc, key))}: nested deeper than {MAX_DEPTH} levels"
                )
            stack.append((value, children, (*loc, key)))
    return root


def _open(value: Any, convert: bool) -> tuple[Any, Iterator[tuple[Any, Any]] | None]:
    """(an empty copy, its items) for a container; (the value, None) for anything else."""
    if isinstance(value, dict) or (convert and isinstance(value, Mapping)):
        return {}, iter(value.items())
    if isinstance(value, list):
        return [], enumerate(value)
    if convert and (
        (isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray))
        or (isinstance(value, np.ndarray) and value.ndim > 0)  # iterated row by row
    ):
        return [], enumerate(value)
    return (_scalar(value) if convert else value), None


def _scalar(value: Any) -> Any:
    """A numpy number, boolean or string as the Python one; anything else unchanged."""
    if isinstance(value, np.bool_ | np.number | np.str_) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    ):
        return value.item()
    return value
