"""The arrangements `stress optimise` tries, round by round: how each position is held.

An arrangement gives every position of the book a `Hold`: cross, or isolated with a margin of
``multiple`` x its initial margin at ``leverage``. Positions outside ``optimise.positions`` keep
the config's hold. The search space is small enough to write down, so it is walked as a grid
rather than handed to a general optimiser: every candidate of a round is one portfolio of one
run, so they are all judged on the same paths.

* The coarse round: each searched position cross, or isolated at each of ``steps`` multiples in
  ``[margin.min, margin.max]`` (times ``steps`` leverages in ``[leverage.min, leverage.max]``
  when the leverage is searched), every combination. Past the round's cap, the isolated
  positions of a candidate share one multiple (and leverage): every subset of the searched
  positions isolated, times the grid; past the cap again, an evenly spread sample of those.
* A finer round: around a few centres (the leaders of the best families: the candidates that
  isolate the same positions), each isolated searched position's multiple (and leverage) moves
  by half the previous spacing either way, within the bounds: every combination, or past the
  cap one position at a time and all of them together. Refining several families, not only
  the best candidate's, keeps a family whose coarse points straddle the risk capital in play.
* The references, in every round: pure cross, pure isolated (every position at its initial
  margin and configured leverage, as a venue opens it) and the config as written.

A searched cross position keeps its configured leverage (moved into the leverage bounds when
outside them): a cross bucket's liquidation depends on maintenance, not leverage, which only
sets the initial margin the wallet must post.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from stress.portfolios.resolve import ResolvedPosition


@dataclass(frozen=True)
class Hold:
    """How one position is held: ``mode`` "isolated" or "cross"; ``multiple`` (isolated only)
    its margin over its initial margin at ``leverage``."""

    mode: str
    multiple: float | None
    leverage: float

    def margin(self, position: ResolvedPosition) -> float | None:
        """The isolated margin in USDT (None in cross)."""
        if self.multiple is None:
            return None
        return self.multiple * position.entry_notional / self.leverage


Arrangement = tuple[Hold, ...]
"""One `Hold` per position, in config order."""


@dataclass(frozen=True)
class Space:
    """What is searched: the positions (indices), their configured holds and the bounds."""

    searched: tuple[int, ...]
    configured: Arrangement
    margin: tuple[float, float]
    leverage: tuple[float, float] | None
    steps: int


def tidy(x: float) -> float:
    """A multiple or leverage to 10 significant digits: a value reached two ways (a grid point,
    a half step from another) is the same value, and prints short."""
    return float(f"{x:.10g}")


def grid(lo: float, hi: float, steps: int) -> list[float]:
    """``steps`` evenly spaced values from lo to hi (one when they are equal)."""
    if lo == hi:
        return [tidy(lo)]
    return [tidy(v) for v in np.linspace(lo, hi, steps)]


def spacing(lo: float, hi: float, steps: int) -> float:
    """The coarse grid's spacing; a finer round r moves by ``spacing / 2**r``."""
    return (hi - lo) / (steps - 1)


def configured_hold(position: ResolvedPosition) -> Hold:
    """The hold the config writes (its multiple not rounded: the config's margin, to the ulp)."""
    if position.margin_mode == "isolated":
        return Hold("isolated", position.margin / position.initial_margin, position.leverage)
    return Hold("cross", None, position.leverage)


def cross_hold(space: Space, i: int) -> Hold:
    """A searched position in cross: its configured leverage, within the leverage bounds."""
    lev = space.configured[i].leverage
    if space.leverage is not None:
        lev = min(max(lev, space.leverage[0]), space.leverage[1])
    return Hold("cross", None, tidy(lev))


def isolated_holds(space: Space, i: int) -> list[Hold]:
    """The coarse grid of isolated holds of searched position i."""
    leverages = (
        [space.configured[i].leverage]
        if space.leverage is None
        else grid(*space.leverage, space.steps)
    )
    multiples = grid(*space.margin, space.steps)
    return [Hold("isolated", m, lev) for lev in leverages for m in multiples]


def references(space: Space) -> dict[str, Arrangement]:
    """Pure cross, pure isolated at the initial margins, and the config as written."""
    conf = space.configured
    return {
        "cross": tuple(Hold("cross", None, h.leverage) for h in conf),
        "isolated": tuple(Hold("isolated", 1.0, h.leverage) for h in conf),
        "as_configured": conf,
    }


def _with(base: Arrangement, changes: dict[int, Hold]) -> Arrangement:
    return tuple(changes.get(i, h) for i, h in enumerate(base))


def coarse(space: Space, cap: int) -> list[Arrangement]:
    """The coarse round (module docstring), at most `cap` arrangements."""
    options = {i: [cross_hold(space, i), *isolated_holds(space, i)] for i in space.searched}
    full = int(np.prod([len(o) for o in options.values()], dtype=float))
    if full <= cap:
        return [
            _with(space.configured, dict(zip(space.searched, holds, strict=True)))
            for holds in itertools.product(*options.values())
        ]
    return shared(space, cap)


def shared(space: Space, cap: int) -> list[Arrangement]:
    """Every subset of the searched positions isolated, all at one grid point, the others
    cross (and all cross); an evenly spread sample of at most `cap` when they are more."""
    n = len(space.searched)
    points = len(isolated_holds(space, space.searched[0]))
    total = (2**n - 1) * points
    chosen = (
        range(total)
        if total + 1 <= cap
        else sorted({int(round(x)) for x in np.linspace(0, total - 1, cap - 1)})
    )
    crossed = {i: cross_hold(space, i) for i in space.searched}
    out = [_with(space.configured, crossed)]
    for index in chosen:
        subset, point = divmod(index, points)
        changes = dict(crossed)
        for bit, i in enumerate(space.searched):
            if (subset + 1) >> bit & 1:
                changes[i] = isolated_holds(space, i)[point]
        out.append(_with(space.configured, changes))
    return out


def _steps_around(value: float, step: float, bounds: tuple[float, float]) -> list[float]:
    """value and value +- step, within the bounds."""
    lo, hi = bounds
    near = [value - step, value, value + step]
    return sorted({tidy(min(max(v, lo), hi)) for v in near})


def _near(space: Space, hold: Hold, round_no: int) -> list[Hold]:
    """An isolated hold and its neighbours at the spacing of round `round_no` (>= 1)."""
    step = spacing(*space.margin, space.steps) / 2**round_no
    multiples = _steps_around(hold.multiple, step, space.margin)
    leverages = [hold.leverage]
    if space.leverage is not None:
        lev_step = spacing(*space.leverage, space.steps) / 2**round_no
        leverages = _steps_around(hold.leverage, lev_step, space.leverage)
    return [Hold("isolated", m, lev) for lev in leverages for m in multiples]


def finer(space: Space, centre: Arrangement, round_no: int, cap: int) -> list[Arrangement]:
    """A finer round around `centre` (module docstring), at most `cap` arrangements; empty when
    no searched position of the centre is isolated (nothing to refine)."""
    moving = [i for i in space.searched if centre[i].mode == "isolated"]
    if not moving:
        return []
    options = {i: _near(space, centre[i], round_no) for i in moving}
    full = int(np.prod([len(o) for o in options.values()], dtype=float))
    if full <= cap:
        return [
            _with(centre, dict(zip(moving, holds, strict=True)))
            for holds in itertools.product(*options.values())
        ]
    out = [centre]
    for i in moving:  # one position at a time
        out += [_with(centre, {i: h}) for h in options[i]]
    for k in range(len(options[moving[0]])):  # all together, by the same index of each grid
        out.append(_with(centre, {i: options[i][min(k, len(options[i]) - 1)] for i in moving}))
    return unique(out)[:cap]


def pattern(space: Space, arrangement: Arrangement) -> tuple[str, ...]:
    """Which searched positions an arrangement isolates: the family a finer round refines."""
    return tuple(arrangement[i].mode for i in space.searched)


def around(space: Space, centres: list[Arrangement], round_no: int, cap: int) -> list:
    """A finer round around each of `centres` (the leaders of their families, best first),
    the cap shared between them."""
    share = max(1, cap // max(1, len(centres)))
    out: list[Arrangement] = []
    for centre in centres:
        out += finer(space, centre, round_no, share)
    return unique(out)[:cap]


def unique(arrangements: list[Arrangement]) -> list[Arrangement]:
    """Without repeats, in first-seen order."""
    return list(dict.fromkeys(arrangements))
