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

This module runs the expansion and keeps its report; the spec's parameters and values are read
in `stress.portfolios.sweep_spec`, and each point is built in `stress.portfolios.sweep_point`,
then checked by `stress.portfolios.feasibility.portfolio_problem` (the same rules and messages
as for a written-out portfolio).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stress.config.schema import Config
from stress.errors import fail
from stress.portfolios.feasibility import portfolio_problem
from stress.portfolios.resolve import ResolvedPortfolio, market_tables, portfolio_of
from stress.portfolios.sweep_point import build_point, point_params
from stress.portfolios.sweep_spec import Param, SweepBase, grid_axes, random_columns, sweep_base

EXAMPLES = 5
"""Dropped points described in the report: the first one for each rule, up to this many."""


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
    """The feasible portfolios of a sweep, in point order, and how the expansion went."""

    portfolios: tuple[ResolvedPortfolio, ...]
    report: SweepReport


def _rule(reason: str) -> str:
    """The rule a reason names, without its numbers: what dropped points are counted by."""
    path, _, message = reason.partition(": ")
    rule = re.split(r"\d|: expected|, got", message, maxsplit=1)[0].rstrip(" :,(")
    return f"{path}: {rule}"


def _show_params(params: dict[str, float | str]) -> str:
    return ", ".join(
        f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def _points(cfg: Config, base: SweepBase) -> tuple[str, list[Param], int, Iterator[tuple]]:
    """(kind, parameters, number of points, the points' values) of ``cfg.sweep``."""
    sweep = cfg.sweep
    if sweep.grid is not None:
        axes = grid_axes(sweep.grid, base)
        requested = math.prod(len(v) for _, v in axes)
        return "grid", [p for p, _ in axes], requested, itertools.product(*(v for _, v in axes))
    params, columns = random_columns(sweep.random, base)
    return "random", params, sweep.random.n, zip(*columns, strict=True)


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
    base = sweep_base(cfg)
    kind, params, requested, points = _points(cfg, base)
    prefix = cfg.sweep.name or cfg.name
    width = len(str(requested - 1))
    tables = market_tables(cfg)
    modes = list(cfg.modes)
    kept: list[ResolvedPortfolio] = []
    reasons: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    columns_of_params: tuple[str, ...] = ()
    # build_point applies a position's own parameter over the whole portfolio's: those come first
    order = sorted(range(len(params)), key=lambda j: params[j].target is not None)
    build_params = [params[j] for j in order]
    for i, values in enumerate(points):
        name = f"{prefix}-{i:0{width}d}"
        made_of = point_params(params, values, base)
        columns_of_params = tuple(made_of)
        wallet, positions, reason = build_point(base, build_params, tuple(values[j] for j in order))
        if reason is None:
            reason = portfolio_problem(positions, wallet, tables, modes)
        if reason is None:
            kept.append(portfolio_of(name, cfg.sweep.base.account, positions, made_of, wallet))
            continue
        rule = _rule(reason)
        if rule not in reasons and len(examples) < EXAMPLES:
            examples.append({"portfolio": name, "params": made_of, "reason": reason})
        reasons[rule] = reasons.get(rule, 0) + 1
    if not kept:
        first = examples[0]
        fail(
            "sweep",
            f"no feasible portfolio: all {requested:,} point{'s' * (requested != 1)} dropped; "
            f"the first, "
            f"{first['portfolio']} ({_show_params(first['params'])}): {first['reason']}",
        )
    report = SweepReport(kind, columns_of_params, requested, len(kept), reasons, tuple(examples))
    return SweepExpansion(tuple(kept), report)
