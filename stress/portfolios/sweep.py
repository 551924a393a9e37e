"""Generated portfolio sets: a `sweep:` block becomes many portfolios, each with its parameters.

A sweep is a base portfolio (``sweep.base``: an ``account`` and ``positions``, as in a single
book) and parameters that change it: every combination of listed values (``grid``) or ``n``
draws from distributions (``random``). Each point becomes a `ResolvedPortfolio` named
``<prefix>-<index>`` that carries the values that made it (``params``), so results can be
tabulated against them.

Spec errors (an unknown parameter or position id, a value of the wrong type or outside its
domain, ...) are `ConfigError` lines naming the field path. A point that is well specified but
cannot be opened (a leverage above its tier's limit, an isolated margin below the initial margin,
a wallet that cannot fund a mode) is dropped and counted in the `SweepReport` instead, so one
corner of a grid does not sink the whole sweep; if no point survives, that is a `ConfigError`.

Points are built from the resolved base with plain floats, not through pydantic: the schema
has already checked everything a point shares with the base, and the rules a point can still
break are the ones `stress.portfolios.feasibility.portfolio_problem` applies to resolved
positions (the same
rules and messages as for a written-out portfolio).
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import stress.config.limits as L
from stress.config.read import show, show_typed
from stress.config.schema import MAX_PORTFOLIOS, Config
from stress.errors import amount as _fmt
from stress.errors import fail as _fail
from stress.portfolios.feasibility import check_positions, portfolio_problem
from stress.portfolios.resolve import ResolvedPortfolio, ResolvedPosition, market_tables

EXAMPLES = 5
"""Dropped points described in the report: the first one for each rule, up to this many."""

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
class SweepReport:
    """How many points a sweep asked for, how many were kept, and why some were dropped."""

    kind: str  # "grid" | "random"
    parameters: tuple[str, ...]  # the keys of every generated portfolio's params
    requested: int
    kept: int
    reasons: dict[str, int]  # rule broken ("positions[0].margin: must be >=") -> points dropped
    examples: tuple[dict[str, Any], ...]  # first dropped point per rule: portfolio, params, reason

    @property
    def dropped(self) -> int:
        return self.requested - self.kept

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "parameters": list(self.parameters),
            "requested": self.requested,
            "kept": self.kept,
            "dropped": self.dropped,
            "reasons": dict(self.reasons),
            "examples": [dict(e) for e in self.examples],
        }


@dataclass(frozen=True)
class SweepExpansion:
    portfolios: tuple[ResolvedPortfolio, ...]
    report: SweepReport


@dataclass(frozen=True)
class _Base:
    """The resolved template, plus what resolving forgets: which margins were given."""

    wallet: float
    positions: tuple[ResolvedPosition, ...]
    given_margin: tuple[float | None, ...]
    ids: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", tuple(p.id for p in self.positions))


# ---------------------------------------------------------------------------------------------
# The spec: parameter names, values and distributions


def _param(name: str, at: str, base: _Base) -> Param:
    kind, dot, pid = name.partition(".")
    if not dot and kind in WHOLE:
        return Param(name, kind, None)
    if dot and kind in PER_POSITION:
        if pid not in base.ids:
            _fail(at, f"unknown position id {pid!r} (known: {', '.join(base.ids)})")
        return Param(name, kind, base.ids.index(pid))
    allowed = ", ".join([*WHOLE, *(f"{k}.<id>" for k in PER_POSITION)])
    _fail(at, f"unknown parameter (allowed: {allowed})")


def _refuse_nested_ids(name: str, value: Any, at: str, base: _Base) -> None:
    """TOML reads an unquoted ``side.btc = [...]`` as ``side = {btc = [...]}``: say so."""
    if name in PER_POSITION and isinstance(value, dict) and value and set(value) <= set(base.ids):
        key = f"{name}.{next(iter(value))}"
        _fail(
            at,
            f"expected one key per position, like {key!r}, got a mapping by position id "
            f'(in TOML, quote dotted names: "{key}" = ...)',
        )


def _domain_text(kind: str) -> str:
    lo, hi, lo_open, hi_open = _DOMAINS[kind]
    if math.isinf(hi):
        return f"a number {'>' if lo_open else '>='} {_fmt(lo)}"
    return f"a number in {'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"


def _number(value: Any, at: str, kind: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(at, f"expected a number, got {show_typed(value)}")
    x = float(value)
    lo, hi, lo_open, hi_open = _DOMAINS[kind]
    if not math.isfinite(x):
        _fail(at, f"expected a finite number, got {show(value)}")
    below = x < lo or (lo_open and x == lo)
    above = x > hi or (hi_open and x == hi)
    if (below or above) and hi <= 1.0:  # a share: the whole range says it best
        _fail(at, f"expected {_domain_text(kind)}, got {show(value)}")
    if below:
        _fail(at, f"expected a number {'>' if lo_open else '>='} {_fmt(lo)}, got {show(value)}")
    if above:
        _fail(
            at,
            f"expected a number {'<' if hi_open else '<='} {_fmt(hi)} (the largest stress "
            f"accepts), got {show(value)}",
        )
    return x


def _value(kind: str, value: Any, at: str, base: _Base) -> float | str | tuple[float, ...]:
    """One checked value of a parameter; a weights vector comes back normalised."""
    if kind == "side":
        if value not in ("long", "short") or not isinstance(value, str):
            _fail(at, f"expected 'long' or 'short', got {show(value)}")
        return value
    if kind == "weights":
        n = len(base.ids)
        what = f"a list of {n} weights (one per position: {', '.join(base.ids)})"
        if not isinstance(value, list):
            _fail(at, f"expected {what}, got {show_typed(value)}")
        if len(value) != n:
            _fail(at, f"expected {what}, got {len(value)} weight{'s' * (len(value) != 1)}")
        w = [_number(v, f"{at}[{j}]", "weights") for j, v in enumerate(value)]
        total = math.fsum(w)
        return tuple(x / total for x in w)
    return _number(value, at, kind)


def _check_combination(params: list[Param], base: _Base, at: Callable[[Param], str]) -> None:
    """Rules between parameters: each position's size and margin must have one source."""
    kinds = {p.kind for p in params}
    gross = any(p.kind == "notional" and p.target is None for p in params)
    for p in params:
        if p.kind == "notional" and p.target is not None and (gross or "weights" in kinds):
            _fail(
                at(p),
                "cannot be combined with notional or weights: size positions either one by one "
                "(notional.<id>) or by a gross notional and its split",
            )
        if p.kind == "notional" and p.target is not None and "weight" in kinds:
            _fail(at(p), "cannot be combined with weight.<id>: both would size the position")
        if p.kind == "weight" and "weights" in kinds:
            _fail(at(p), "cannot be combined with weights, which sets every position's weight")
        if p.kind == "isolated_share" and all(
            rp.margin_mode != "isolated" for rp in base.positions
        ):
            _fail(at(p), "needs a position with margin_mode: isolated in sweep.base, got none")
    named = [p for p in params if p.kind == "weight"]
    if named and len(named) >= len(base.ids):
        _fail(
            at(named[-1]),
            f"weight.<id> may name at most {len(base.ids) - 1} of the {len(base.ids)} "
            "positions (the others share what is left); use weights to set them all",
        )


def _grid_axes(grid: dict[str, Any], base: _Base) -> list[tuple[Param, list]]:
    axes = []
    for name, values in grid.items():
        at = f"sweep.grid.{name}"
        _refuse_nested_ids(name, values, at, base)
        p = _param(name, at, base)
        if not isinstance(values, list):
            hint = " (a list of weight vectors)" if p.kind == "weights" else ""
            _fail(at, f"expected a list of values{hint}, got {show_typed(values)}")
        if not values:
            _fail(at, "expected at least 1 item, got []")
        axes.append((p, [_value(p.kind, v, f"{at}[{j}]", base) for j, v in enumerate(values)]))
    _check_combination([p for p, _ in axes], base, lambda p: f"sweep.grid.{p.name}")
    size = math.prod(len(v) for _, v in axes)
    if size > MAX_PORTFOLIOS:
        shape = " x ".join(str(len(v)) for _, v in axes)
        _fail(
            "sweep.grid",
            f"expected at most {MAX_PORTFOLIOS:,} portfolios, got {size:,} ({shape})",
        )
    return axes


Sampler = Callable[[np.random.Generator, int], list]


def _distribution(p: Param, spec: Any, at: str, base: _Base) -> Sampler:
    allowed = _DISTRIBUTIONS.get(p.kind, _NUMERIC_DISTRIBUTIONS)
    forms = {
        "choice": "{choice: [...]}",
        "dirichlet": "{dirichlet: alpha}",
        "loguniform": "{loguniform: [lo, hi]}",
        "uniform": "{uniform: [lo, hi]}",
    }
    if not isinstance(spec, dict) or len(spec) != 1:
        expected = " or ".join(forms[d] for d in allowed)
        _fail(at, f"expected one distribution, {expected}, got {show_typed(spec)}")
    ((dist, arg),) = spec.items()
    at = f"{at}.{dist}"
    if dist not in allowed:
        _fail(at, f"unknown distribution for {p.kind} (allowed: {', '.join(allowed)})")
    if dist == "choice":
        if not isinstance(arg, list) or not arg:
            _fail(at, f"expected a non-empty list of values, got {show_typed(arg)}")
        values = [_value(p.kind, v, f"{at}[{j}]", base) for j, v in enumerate(arg)]
        return lambda rng, n: [values[i] for i in rng.integers(0, len(values), n)]
    if dist == "dirichlet":
        k = len(base.ids)
        if isinstance(arg, list):
            if len(arg) != k:
                _fail(at, f"expected one alpha or {k} (one per position), got {len(arg)}")
            alpha = [_number(a, f"{at}[{j}]", "alpha") for j, a in enumerate(arg)]
        else:
            alpha = [_number(arg, at, "alpha")] * k
        return lambda rng, n: [tuple((row / row.sum()).tolist()) for row in rng.dirichlet(alpha, n)]
    if not isinstance(arg, list) or len(arg) != 2:
        _fail(at, f"expected [lo, hi], got {show_typed(arg)}")
    lo, hi = (_number(v, f"{at}[{j}]", p.kind) for j, v in enumerate(arg))
    if lo > hi:
        _fail(at, f"expected lo <= hi, got [{_fmt(lo)}, {_fmt(hi)}]")
    if dist == "uniform":
        return lambda rng, n: rng.uniform(lo, hi, n).tolist()
    if lo <= 0:
        _fail(f"{at}[0]", f"expected a number > 0 (a log scale starts above 0), got {_fmt(lo)}")
    log_lo, log_hi = math.log(lo), math.log(hi)
    # clipped: exp(log(x)) may land an ulp outside [lo, hi], e.g. above a share of 1
    return lambda rng, n: np.clip(np.exp(rng.uniform(log_lo, log_hi, n)), lo, hi).tolist()


def _random_columns(random: Any, base: _Base) -> tuple[list[Param], list[list]]:
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


# ---------------------------------------------------------------------------------------------
# Building one point


def _point_params(params: list[Param], values: tuple, base: _Base) -> dict[str, float | str]:
    """The values that made a point, one scalar per column (a weights vector per position)."""
    out: dict[str, float | str] = {}
    for p, v in zip(params, values, strict=True):
        if p.kind == "weights":
            out.update({f"weight.{pid}": w for pid, w in zip(base.ids, v, strict=True)})
        else:
            out[p.name] = v
    return out


def _build(
    base: _Base, params: list[Param], values: tuple
) -> tuple[float, tuple[ResolvedPosition, ...] | None, str | None]:
    """(wallet, positions, None) of one point, or (wallet, None, reason) if it cannot exist.

    Order of application: wallet; sides and leverages (a position's own parameter over the
    whole-portfolio one); sizes (each position's own notional, or the gross notional split by
    the weights); margins (the isolated share, else a margin given in the base, else the
    initial margin).
    """
    n = len(base.positions)
    wallet = base.wallet
    side = [p.side for p in base.positions]
    lev = [p.leverage for p in base.positions]
    qty = [p.quantity for p in base.positions]
    gross = weights = share = None
    fixed: dict[int, float] = {}
    own_notional: dict[int, float] = {}
    for p, v in zip(params, values, strict=True):  # whole-portfolio parameters come first
        t = p.target
        if p.kind == "wallet":
            wallet = v
        elif p.kind == "side":
            if t is None:
                side = [v] * n
            else:
                side[t] = v
        elif p.kind == "leverage":
            if t is None:
                lev = [v] * n
            else:
                lev[t] = v
        elif p.kind == "notional":
            if t is None:
                gross = v
            else:
                own_notional[t] = v
        elif p.kind == "weights":
            weights = list(v)
        elif p.kind == "weight":
            fixed[t] = v
        else:
            share = v
    entry = [p.entry_price for p in base.positions]
    notional = [q * e for q, e in zip(qty, entry, strict=True)]
    if own_notional:
        for t, v in own_notional.items():
            notional[t] = v
            qty[t] = v / entry[t]
    elif gross is not None or weights is not None or fixed:
        total = math.fsum(notional)
        w = weights if weights is not None else [x / total for x in notional]
        if fixed:
            rest = 1.0 - math.fsum(fixed.values())
            others = [j for j in range(n) if j not in fixed]
            if rest <= 0.0:
                named = ", ".join(f"weight.{base.ids[j]}" for j in fixed)
                left = ", ".join(base.ids[j] for j in others)
                reason = f"{named}: the shares sum to {_fmt(1.0 - rest)}, leaving none for {left}"
                return wallet, None, reason
            w_others = math.fsum(w[j] for j in others)
            w = [fixed[j] if j in fixed else w[j] * rest / w_others for j in range(n)]
        g = gross if gross is not None else total
        notional = [g * x for x in w]
        qty = [x / e for x, e in zip(notional, entry, strict=True)]
        for j in range(n):
            if qty[j] <= 0.0:  # a Dirichlet draw can underflow to an exact zero
                return wallet, None, f"positions[{j}].notional: expected > 0, got 0"
    mode = [p.margin_mode for p in base.positions]
    margin = list(base.given_margin)
    if share is not None:
        iso = [j for j in range(n) if mode[j] == "isolated"]
        iso_notional = math.fsum(notional[j] for j in iso)
        for j in iso:
            if share == 0.0:
                mode[j], margin[j] = "cross", None
            else:
                margin[j] = share * wallet * notional[j] / iso_notional
    positions = tuple(
        ResolvedPosition(
            id=b.id,
            asset=b.asset,
            asset_index=b.asset_index,
            side=side[j],
            quantity=qty[j],
            entry_price=b.entry_price,
            leverage=lev[j],
            margin_mode=mode[j],
            # the default, as resolve_position computes it: exactly the initial margin
            margin=margin[j] if margin[j] is not None else qty[j] * b.entry_price / lev[j],
        )
        for j, b in enumerate(base.positions)
    )
    return wallet, positions, None


def _rule(reason: str) -> str:
    """The rule a reason names, without its numbers: what dropped points are counted by."""
    path, _, message = reason.partition(": ")
    rule = re.split(r"\d|: expected|, got", message, maxsplit=1)[0].rstrip(" :,(")
    return f"{path}: {rule}"


def _show_params(params: dict[str, float | str]) -> str:
    return ", ".join(
        f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


# ---------------------------------------------------------------------------------------------
# The expansion


def expand(cfg: Config) -> SweepExpansion:
    """Every feasible portfolio of ``cfg.sweep`` with its parameters, and the sweep's report.

    Grid points come in the order of `itertools.product` over the parameters as written (the
    first varies slowest); random points in draw order. Names are ``<prefix>-<index>``, the
    index counting requested points (dropped ones leave a gap), zero-padded to one width.

    Raises
    ------
    ConfigError
        A bad base or sweep spec (naming its field path), or no feasible point at all.
    """
    sweep = cfg.sweep
    resolved = check_positions(
        cfg, sweep.base.positions, sweep.base.account.wallet, "sweep.base.", limits=False
    )
    base = _Base(
        wallet=float(sweep.base.account.wallet),
        positions=tuple(resolved),
        given_margin=tuple(
            None if p.margin is None else float(p.margin) for p in sweep.base.positions
        ),
    )
    points: Iterator[tuple]
    if sweep.grid is not None:
        axes = _grid_axes(sweep.grid, base)
        params = [p for p, _ in axes]
        requested = math.prod(len(v) for _, v in axes)
        points = itertools.product(*(v for _, v in axes))
        kind = "grid"
    else:
        params, columns = _random_columns(sweep.random, base)
        requested = sweep.random.n
        points = zip(*columns, strict=True)
        kind = "random"
    prefix = sweep.name or cfg.name
    width = len(str(requested - 1))
    tables = market_tables(cfg)
    modes = list(cfg.modes)
    kept: list[ResolvedPortfolio] = []
    reasons: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    columns_of_params: tuple[str, ...] = ()
    # _build applies a position's own parameter over the whole portfolio's: those come first
    order = sorted(range(len(params)), key=lambda j: params[j].target is not None)
    build_params = [params[j] for j in order]
    for i, values in enumerate(points):
        name = f"{prefix}-{i:0{width}d}"
        point_params = _point_params(params, values, base)
        columns_of_params = tuple(point_params)
        wallet, positions, reason = _build(base, build_params, tuple(values[j] for j in order))
        if reason is None:
            reason = portfolio_problem(positions, wallet, tables, modes)
        if reason is None:
            kept.append(ResolvedPortfolio(name, float(wallet), positions, point_params))
            continue
        rule = _rule(reason)
        if rule not in reasons and len(examples) < EXAMPLES:
            examples.append({"portfolio": name, "params": point_params, "reason": reason})
        reasons[rule] = reasons.get(rule, 0) + 1
    if not kept:
        first = examples[0]
        _fail(
            "sweep",
            f"no feasible portfolio: all {requested:,} point{'s' * (requested != 1)} dropped; "
            f"the first, "
            f"{first['portfolio']} ({_show_params(first['params'])}): {first['reason']}",
        )
    report = SweepReport(kind, columns_of_params, requested, len(kept), reasons, tuple(examples))
    return SweepExpansion(tuple(kept), report)
