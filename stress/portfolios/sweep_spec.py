"""The sweep spec: which parameters a sweep names, and the values each one takes.

A parameter is a whole-portfolio name (``leverage``, ``weights``, ...) or a per-position one
(``leverage.<id>``) naming a position of ``sweep.base``. Its values are listed (``grid``) or
drawn from a distribution (``random``), each checked against the parameter's domain. Every
mistake is a `ConfigError` line naming the field path; nothing here builds a portfolio
(`stress.portfolios.sweep_point` does).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import stress.config.limits as L
from stress.config.read import show, show_typed
from stress.config.schema import MAX_PORTFOLIOS, Config
from stress.errors import amount, fail
from stress.portfolios.feasibility import check_positions
from stress.portfolios.resolve import ResolvedPosition

WHOLE = ("leverage", "notional", "weights", "side", "isolated_share", "wallet")
PER_POSITION = ("leverage", "notional", "weight", "side")

# kind -> (lo, hi, lo_open, hi_open): the values a parameter (or one weight) may take
_DOMAINS = {  # (lo, hi, lo open, hi open); upper bounds from stress.config.limits
    "leverage": (0.0, L.MAX_LEVERAGE, True, False),
    "notional": (0.0, L.MAX_AMOUNT, True, False),
    "wallet": (0.0, L.MAX_AMOUNT, True, False),
    "isolated_share": (0.0, 1.0, False, False),
    "weight": (0.0, 1.0, True, True),
    "weights": (0.0, 1e12, True, False),
    "alpha": (0.0, 1e6, True, False),
}
_NUMERIC_DISTRIBUTIONS = ("choice", "loguniform", "uniform")
_DISTRIBUTIONS = {"side": ("choice",), "weights": ("choice", "dirichlet")}


@dataclass(frozen=True)
class Param:
    """One swept parameter: ``name`` as written, ``kind`` the rule, ``target`` its position."""

    name: str
    kind: str
    target: int | None  # index into sweep.base.positions for "<kind>.<id>", else None


@dataclass(frozen=True)
class SweepBase:
    """The resolved template, plus what resolving forgets: which margins were given."""

    wallet: float
    positions: tuple[ResolvedPosition, ...]
    given_margin: tuple[float | None, ...]
    ids: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", tuple(p.id for p in self.positions))


def sweep_base(cfg: Config) -> SweepBase:
    """``cfg.sweep.base`` resolved: the template every point of the sweep changes.

    Its positions are checked as a book's are (field paths under ``sweep.base.``) but without
    the opening limits, which a point's own parameters may still satisfy or break.
    """
    sweep = cfg.sweep
    resolved = check_positions(
        cfg, sweep.base.positions, sweep.base.account.wallet, "sweep.base.", limits=False
    )
    return SweepBase(
        wallet=float(sweep.base.account.wallet),
        positions=tuple(resolved),
        given_margin=tuple(
            None if p.margin is None else float(p.margin) for p in sweep.base.positions
        ),
    )


def _param(name: str, at: str, base: SweepBase) -> Param:
    kind, dot, pid = name.partition(".")
    if not dot and kind in WHOLE:
        return Param(name, kind, None)
    if dot and kind in PER_POSITION:
        if pid not in base.ids:
            fail(at, f"unknown position id {pid!r} (known: {', '.join(base.ids)})")
        return Param(name, kind, base.ids.index(pid))
    allowed = ", ".join([*WHOLE, *(f"{k}.<id>" for k in PER_POSITION)])
    fail(at, f"unknown parameter (allowed: {allowed})")


def _refuse_nested_ids(name: str, value: Any, at: str, base: SweepBase) -> None:
    """TOML reads an unquoted ``side.btc = [...]`` as ``side = {btc = [...]}``: say so."""
    if name in PER_POSITION and isinstance(value, dict) and value and set(value) <= set(base.ids):
        key = f"{name}.{next(iter(value))}"
        fail(
            at,
            f"expected one key per position, like {key!r}, got a mapping by position id "
            f'(in TOML, quote dotted names: "{key}" = ...)',
        )


def _domain_text(kind: str) -> str:
    lo, hi, lo_open, hi_open = _DOMAINS[kind]
    if math.isinf(hi):
        return f"a number {'>' if lo_open else '>='} {amount(lo)}"
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    return f"a number in {left}{amount(lo)}, {amount(hi)}{right}"


def _number(value: Any, at: str, kind: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(at, f"expected a number, got {show_typed(value)}")
    x = float(value)
    lo, hi, lo_open, hi_open = _DOMAINS[kind]
    if not math.isfinite(x):
        fail(at, f"expected a finite number, got {show(value)}")
    below = x < lo or (lo_open and x == lo)
    above = x > hi or (hi_open and x == hi)
    if (below or above) and hi <= 1.0:  # a share: the whole range says it best
        fail(at, f"expected {_domain_text(kind)}, got {show(value)}")
    if below:
        fail(at, f"expected a number {'>' if lo_open else '>='} {amount(lo)}, got {show(value)}")
    if above:
        fail(
            at,
            f"expected a number {'<' if hi_open else '<='} {amount(hi)} (the largest stress "
            f"accepts), got {show(value)}",
        )
    return x


def _value(kind: str, value: Any, at: str, base: SweepBase) -> float | str | tuple[float, ...]:
    """One checked value of a parameter; a weights vector comes back normalised."""
    if kind == "side":
        if value not in ("long", "short") or not isinstance(value, str):
            fail(at, f"expected 'long' or 'short', got {show(value)}")
        return value
    if kind == "weights":
        n = len(base.ids)
        what = f"a list of {n} weights (one per position: {', '.join(base.ids)})"
        if not isinstance(value, list):
            fail(at, f"expected {what}, got {show_typed(value)}")
        if len(value) != n:
            fail(at, f"expected {what}, got {len(value)} weight{'s' * (len(value) != 1)}")
        w = [_number(v, f"{at}[{j}]", "weights") for j, v in enumerate(value)]
        total = math.fsum(w)
        return tuple(x / total for x in w)
    return _number(value, at, kind)


def _check_combination(params: list[Param], base: SweepBase, at: Callable[[Param], str]) -> None:
    """Rules between parameters: each position's size and margin must have one source."""
    kinds = {p.kind for p in params}
    gross = any(p.kind == "notional" and p.target is None for p in params)
    for p in params:
        if p.kind == "notional" and p.target is not None and (gross or "weights" in kinds):
            fail(
                at(p),
                "cannot be combined with notional or weights: size positions either one by one "
                "(notional.<id>) or by a gross notional and its split",
            )
        if p.kind == "notional" and p.target is not None and "weight" in kinds:
            fail(at(p), "cannot be combined with weight.<id>: both would size the position")
        if p.kind == "weight" and "weights" in kinds:
            fail(at(p), "cannot be combined with weights, which sets every position's weight")
        if p.kind == "isolated_share" and all(
            rp.margin_mode != "isolated" for rp in base.positions
        ):
            fail(at(p), "needs a position with margin_mode: isolated in sweep.base, got none")
    named = [p for p in params if p.kind == "weight"]
    if named and len(named) >= len(base.ids):
        fail(
            at(named[-1]),
            f"weight.<id> may name at most {len(base.ids) - 1} of the {len(base.ids)} "
            "positions (the others share what is left); use weights to set them all",
        )


def grid_axes(grid: dict[str, Any], base: SweepBase) -> list[tuple[Param, list]]:
    """Every parameter of ``sweep.grid`` with its checked values, in the order written."""
    axes = []
    for name, values in grid.items():
        at = f"sweep.grid.{name}"
        _refuse_nested_ids(name, values, at, base)
        p = _param(name, at, base)
        if not isinstance(values, list):
            hint = " (a list of weight vectors)" if p.kind == "weights" else ""
            fail(at, f"expected a list of values{hint}, got {show_typed(values)}")
        if not values:
            fail(at, "expected at least 1 item, got []")
        axes.append((p, [_value(p.kind, v, f"{at}[{j}]", base) for j, v in enumerate(values)]))
    _check_combination([p for p, _ in axes], base, lambda p: f"sweep.grid.{p.name}")
    size = math.prod(len(v) for _, v in axes)
    if size > MAX_PORTFOLIOS:
        shape = " x ".join(str(len(v)) for _, v in axes)
        fail(
            "sweep.grid",
            f"expected at most {MAX_PORTFOLIOS:,} portfolios, got {size:,} ({shape})",
        )
    return axes


Sampler = Callable[[np.random.Generator, int], list]


def _distribution(p: Param, spec: Any, at: str, base: SweepBase) -> Sampler:
    allowed = _DISTRIBUTIONS.get(p.kind, _NUMERIC_DISTRIBUTIONS)
    forms = {
        "choice": "{choice: [...]}",
        "dirichlet": "{dirichlet: alpha}",
        "loguniform": "{loguniform: [lo, hi]}",
        "uniform": "{uniform: [lo, hi]}",
    }
    if not isinstance(spec, dict) or len(spec) != 1:
        expected = " or ".join(forms[d] for d in allowed)
        fail(at, f"expected one distribution, {expected}, got {show_typed(spec)}")
    ((dist, arg),) = spec.items()
    at = f"{at}.{dist}"
    if dist not in allowed:
        fail(at, f"unknown distribution for {p.kind} (allowed: {', '.join(allowed)})")
    if dist == "choice":
        if not isinstance(arg, list) or not arg:
            fail(at, f"expected a non-empty list of values, got {show_typed(arg)}")
        values = [_value(p.kind, v, f"{at}[{j}]", base) for j, v in enumerate(arg)]
        return lambda rng, n: [values[i] for i in rng.integers(0, len(values), n)]
    if dist == "dirichlet":
        k = len(base.ids)
        if isinstance(arg, list):
            if len(arg) != k:
                fail(at, f"expected one alpha or {k} (one per position), got {len(arg)}")
            alpha = [_number(a, f"{at}[{j}]", "alpha") for j, a in enumerate(arg)]
        else:
            alpha = [_number(arg, at, "alpha")] * k
        return lambda rng, n: [tuple((row / row.sum()).tolist()) for row in rng.dirichlet(alpha, n)]
    if not isinstance(arg, list) or len(arg) != 2:
        fail(at, f"expected [lo, hi], got {show_typed(arg)}")
    lo, hi = (_number(v, f"{at}[{j}]", p.kind) for j, v in enumerate(arg))
    if lo > hi:
        fail(at, f"expected lo <= hi, got [{amount(lo)}, {amount(hi)}]")
    if dist == "uniform":
        return lambda rng, n: rng.uniform(lo, hi, n).tolist()
    if lo <= 0:
        fail(f"{at}[0]", f"expected a number > 0 (a log scale starts above 0), got {amount(lo)}")
    log_lo, log_hi = math.log(lo), math.log(hi)
    # clipped: exp(log(x)) may land an ulp outside [lo, hi], e.g. above a share of 1
    return lambda rng, n: np.clip(np.exp(rng.uniform(log_lo, log_hi, n)), lo, hi).tolist()


def random_columns(random: Any, base: SweepBase) -> tuple[list[Param], list[list]]:
    """n draws of every parameter; each parameter has its own stream, keyed by its name,
    so adding, removing or reordering parameters leaves the other parameters' draws alone."""
    params, columns = [], []
    for name, spec in random.params.items():
        at = f"sweep.random.params.{name}"
        _refuse_nested_ids(name, spec, at, base)
        p = _param(name, at, base)
        sampler = _distribution(p, spec, at, base)
        key = zlib.crc32(name.encode("utf-8"))
        rng = np.random.default_rng(np.random.SeedSequence(random.seed, spawn_key=(key,)))
        params.append(p)
        columns.append(sampler(rng, random.n))
    _check_combination(params, base, lambda p: f"sweep.random.params.{p.name}")
    return params, columns
