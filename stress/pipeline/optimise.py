"""`stress optimise`: which positions to isolate, and with how much margin, so that liquidation
is least likely while the tail loss stays within what the trader can afford.

The rule is `stress.analysis.risk_capital`'s, the one the verdict applies to modes: among the
arrangements whose ES99 is within the risk capital (and P(ruin) within ``max_p_ruin``), the
lowest P(liq), ties within noise going to the lowest expected loss. Every arrangement of a round
is one portfolio of ONE run (``modes: [as_configured]``, the config's seed and path blocks), so
all are judged on the same paths and their paired differences are valid; every round uses the
same seed, so an arrangement met again has the same numbers. The arrangements are
`stress.pipeline.optimise_candidates`'s: a coarse grid, then finer rounds around the leaders of
the best few families (`centres`).

Left out, and said in the notes: the config's scenarios (candidates run the base paths) and its
modes (each candidate is its own as_configured book). A sweep is refused.
"""

from __future__ import annotations

import numbers
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from stress.analysis.risk_capital import fits_risk_capital, pick_within_risk_capital
from stress.config.checks import check_optimise, optimised_book
from stress.config.limits import MAX_AMOUNT
from stress.config.load import load_config
from stress.config.optimise import Optimise
from stress.config.schema import Config, Portfolio, Position
from stress.errors import ConfigError, amount
from stress.pipeline.budget import KEEP_BYTES
from stress.pipeline.optimise_candidates import (
    Arrangement,
    Hold,
    Space,
    around,
    coarse,
    configured_hold,
    pattern,
    references,
    spacing,
    unique,
)
from stress.pipeline.optimise_result import KEPT, Candidate, OptimiseResult
from stress.pipeline.prepare import API_NAMES, ConfigLike, Plan, check_overrides, prepare
from stress.pipeline.result import RunResult
from stress.pipeline.simulate import keep_paths_for, simulate
from stress.portfolios.feasibility import portfolio_problem
from stress.portfolios.resolve import ResolvedPosition

Progress = Callable[[int], None] | None
RoundStart = Callable[[int, int, int, int], None] | None
"""Told (round, rounds, candidates, paths) as each round starts."""

CARRY = 4
"""A finer round carries at most ``max_candidates // CARRY`` of the previous round's tied."""

CENTRES = 4
"""Families a finer round refines at most (`centres`)."""

MAX_RETRIES = 50
"""Candidates one round may drop for a reason only the whole run's preparation finds."""

_AT_PORTFOLIO = re.compile(r"portfolios\[(\d+)\]\.")


@dataclass(frozen=True)
class Search:
    """What every round needs: the config, its settings, the book as prepared, the space."""

    config: Config  # as loaded
    settings: Optimise
    risk_capital: float
    plan: Plan  # the config as written (no scenarios), prepared: tier tables, resolved book
    space: Space
    paths: int | None
    seed: int | None
    names: dict[str, str]


@dataclass(frozen=True)
class Round:
    """One round's run: its candidates, its pick (indices into them) and what it dropped."""

    candidates: list[Candidate]
    best: int | None
    tied: list[int]
    reasons: dict[str, int]


def check_risk_capital(value: object, names: dict[str, str]) -> None:
    """A risk capital given as an override: a number of USDT like ``account.risk_capital``."""
    label = "risk_capital" if names is API_NAMES else "--risk-capital"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if value is not None and not (ok and 0 < value <= MAX_AMOUNT):
        raise ConfigError(
            f"{label}: expected an amount of USDT above 0 and at most {amount(MAX_AMOUNT)}, "
            f"got {value!r}"
        )


def setup(
    cfg: ConfigLike,
    paths: int | None,
    seed: int | None,
    risk_capital: float | None,
    names: dict[str, str],
) -> Search:
    """Check the overrides and the config for a search, and prepare the book as written."""
    check_overrides(paths, seed, names=names)
    check_risk_capital(risk_capital, names)
    cfg = load_config(cfg)
    if cfg.simulation.importance != "off":  # its candidates are not weighted by one shift
        raise ConfigError(
            f"{cfg._source}: simulation.importance: stress optimise runs plain Monte Carlo "
            "only; set it to off, got auto"
        )
    opt = cfg.optimise or Optimise()
    try:
        check_optimise(cfg, opt, risk_capital, searching=True)
    except ConfigError as exc:
        raise ConfigError(f"{cfg._source}: {exc}") from None
    written = cfg.model_copy(update={"scenarios": [], "optimise": None})
    plan = prepare(written, paths, seed, names=names, check_cost=False)
    port = plan.portfolios[0]
    ids = [p.id for p in port.positions]
    searched = (
        tuple(ids.index(i) for i in opt.positions) if opt.positions else tuple(range(len(ids)))
    )
    space = Space(
        searched=searched,
        configured=tuple(configured_hold(p) for p in port.positions),
        margin=(opt.margin.min, opt.margin.max),
        leverage=None if opt.leverage is None else (opt.leverage.min, opt.leverage.max),
        steps=opt.steps,
    )
    rc = float(risk_capital if risk_capital is not None else port.risk_capital)
    return Search(cfg, opt, rc, plan, space, paths, seed, names)


def held(position: ResolvedPosition, hold: Hold) -> ResolvedPosition:
    """The resolved position held as `hold` (a cross position posts its initial margin)."""
    margin = hold.margin(position)
    if margin is None:
        margin = position.entry_notional / hold.leverage
    return replace(position, margin_mode=hold.mode, margin=margin, leverage=hold.leverage)


def reason_rule(reason: str, ids: list[str]) -> str:
    """A reason without its numbers, the position named by id: what drops are counted by."""
    path, _, message = reason.partition(": ")
    path = re.sub(r"positions\[(\d+)\]", lambda m: ids[int(m[1])], path)
    rule = re.split(r"\d|: expected|, got", message, maxsplit=1)[0].rstrip(" :,(")
    return f"{path}: {rule}"


def openable(search: Search, arrangements: list[Arrangement]) -> tuple[list, dict[str, int]]:
    """The arrangements the wallet and tiers can open (as_configured), and why others cannot."""
    port = search.plan.portfolios[0]
    ids = [p.id for p in port.positions]
    kept, reasons = [], {}
    for arr in arrangements:
        positions = tuple(held(p, h) for p, h in zip(port.positions, arr, strict=True))
        problem = portfolio_problem(positions, port.wallet, search.plan.tables, ["as_configured"])
        if problem is None:
            kept.append(arr)
        else:
            rule = reason_rule(problem, ids)
            reasons[rule] = reasons.get(rule, 0) + 1
    return kept, reasons


def candidate_config(search: Search, named: list[tuple[str, Arrangement]]) -> Config:
    """One config of every candidate as a portfolio, run as_configured on the base paths.

    The accounts carry no risk capital: the pick is made over all candidates at once, not per
    portfolio (and a run's own search for what would fit is not wanted here)."""
    account, positions, _ = optimised_book(search.config, "stress optimise")
    account = account.model_copy(update={"risk_capital": None})
    resolved = search.plan.portfolios[0].positions

    def position(pos: Position, rp: ResolvedPosition, hold: Hold) -> Position:
        update = {"margin_mode": hold.mode, "margin": hold.margin(rp), "leverage": hold.leverage}
        return pos.model_copy(update=update)

    ports = [
        Portfolio(
            name=name,
            account=account,
            positions=[position(*x) for x in zip(positions, resolved, arr, strict=True)],
        )
        for name, arr in named
    ]
    return search.config.model_copy(
        update={
            "account": None,
            "positions": None,
            "portfolios": ports,
            "modes": ["as_configured"],
            "scenarios": [],
            "optimise": None,
        }
    )


def _prepare_round(search: Search, named: list, reasons: dict[str, int]) -> Plan:
    """The round's plan; a candidate the whole run's preparation refuses (a rule checked only
    there) is dropped with its reason, and the rest prepared again."""
    ids = [p.id for p in search.plan.portfolios[0].positions]
    for _ in range(MAX_RETRIES):
        try:
            cfg = candidate_config(search, named)
            return prepare(
                cfg, search.paths, search.seed, objective="p_liquidation", names=search.names
            )
        except ConfigError as exc:
            found = _AT_PORTFOLIO.search(str(exc))
            if found is None or len(named) == 1:
                raise
            rule = reason_rule(str(exc)[found.end() :], ids)
            reasons[rule] = reasons.get(rule, 0) + 1
            del named[int(found[1])]
    raise ConfigError(f"stress optimise: more than {MAX_RETRIES} candidates of a round refused")


def _fit_memory(search: Search, named: list, keep: int, reasons: dict[str, int]) -> Plan:
    """The round's plan, with fewer candidates (the first `keep` always stay) if their per-path
    results would not all fit the memory budget: the pick's paired intervals need every path."""
    plan = _prepare_round(search, named, reasons)
    rule = "memory: candidates past the per-path results budget"
    while True:
        kept = keep_paths_for(plan.layout, plan.paths, KEEP_BYTES, plan.rules.partial)
        if kept >= plan.paths:
            return plan
        room = min(int(len(named) * kept / plan.paths * 0.9), len(named) - 1)
        if room < keep + 1:
            raise ConfigError(
                f"{search.names['paths']}: expected fewer paths: stress optimise keeps every "
                f"candidate's per-path results, and {plan.paths:,} paths leave room for "
                f"{max(room, 0)} candidates"
            )
        reasons[rule] = reasons.get(rule, 0) + len(named) - room
        del named[room:]
        plan = _prepare_round(search, named, reasons)


def run_round(
    search: Search, round_no: int, arrangements: list[Arrangement], keep: int, progress: Progress
) -> Round:
    """Run one round's arrangements on the base paths and pick among them."""
    fine, reasons = openable(search, arrangements)
    named = [(f"r{round_no}-{i:04d}", arr) for i, arr in enumerate(fine)]
    if not named:
        raise ConfigError(
            f"{search.config._source}: optimise: no candidate of round {round_no} can be opened "
            f"({'; '.join(reasons)})"
        )
    plan = _fit_memory(search, named, min(keep, len(named) - 1), reasons)
    result: RunResult = simulate(plan, progress)
    books = [result.books_of(k)[0] for k in range(len(named))]
    rc, ruin = search.risk_capital, search.settings.max_p_ruin
    candidates = [
        Candidate(
            name=name,
            round=round_no,
            holds=arr,
            metrics={key: result.metrics[k][key] for key in KEPT},
            fits=fits_risk_capital(result, k, rc, ruin),
        )
        for (name, arr), k in zip(named, books, strict=True)
    ]
    pick = pick_within_risk_capital(result, books, rc, ruin)
    where = {k: i for i, k in enumerate(books)}
    best = None if pick.best is None else where[pick.best]
    return Round(candidates, best, [where[k] for k in pick.tied], reasons)


def centres(space: Space, rnd: Round) -> list[Arrangement]:
    """Where the next round looks: the leader of each family (the candidates isolating the same
    searched positions), its lowest P(liq) among its fits; the `CENTRES` families with the
    lowest such P(liq) first. While nothing fits, the families with the lowest ES99 instead."""
    leaders: dict[tuple[str, ...], tuple[tuple, Candidate]] = {}
    for c in rnd.candidates:
        m = c.metrics
        rank = (0, m["p_liquidation"], m["expected_loss"]) if c.fits else (1, m["es_99"], 0.0)
        key = pattern(space, c.holds)
        if key not in leaders or rank < leaders[key][0]:
            leaders[key] = (rank, c)
    ordered = sorted(leaders.values(), key=lambda x: x[0])
    if ordered and ordered[0][0][0] == 0:
        ordered = [x for x in ordered if x[0][0] == 0]
    return [c.holds for _, c in ordered[:CENTRES]]


def _round_info(search: Search, round_no: int, rnd: Round, seconds: float) -> dict:
    step = spacing(*search.space.margin, search.space.steps) / 2 ** (round_no - 1)
    return {
        "round": round_no,
        "kind": "coarse" if round_no == 1 else "finer",
        "margin_spacing": step,
        "candidates": len(rnd.candidates),
        "dropped": sum(rnd.reasons.values()),
        "reasons": dict(rnd.reasons),
        "best": None if rnd.best is None else rnd.candidates[rnd.best].name,
        "seconds": seconds,
    }


def optimise(
    cfg: ConfigLike,
    paths: int | None = None,
    seed: int | None = None,
    risk_capital: float | None = None,
    *,
    progress: Progress = None,
    on_round: RoundStart = None,
    names: dict[str, str] = API_NAMES,
) -> OptimiseResult:
    """Search the config's hybrid split (module docstring) and return what was found.

    Parameters
    ----------
    cfg : a config path, mapping or `Config`; its ``optimise:`` block (defaults without one)
    paths, seed : override the config's simulation.paths and seed
    risk_capital : override ``account.risk_capital`` (USDT)
    progress : called with the number of paths finished after each chunk of each round
    on_round : called with (round, rounds, candidates, paths) as each round starts

    Raises
    ------
    ConfigError
        One line naming the field: a bad override, a config that cannot be searched.
    """
    t0 = time.perf_counter()
    search = setup(cfg, paths, seed, risk_capital, names)
    opt, space = search.settings, search.space
    refs = references(space)
    seen: dict[Arrangement, Candidate] = {}
    rounds, notes, carried = [], _notes(search), []
    rnd: Round | None = None
    for round_no in range(1, opt.rounds + 1):
        fixed = unique([*refs.values(), *carried])
        cap = opt.max_candidates - len(fixed)
        if rnd is None:
            new = coarse(space, cap)
        else:
            new = around(space, centres(space, rnd), round_no - 1, cap)
            if not new:
                notes.append(f"round {round_no} skipped: the leading candidates isolate nothing")
                break
        arrangements = unique([*fixed, *new])
        if on_round is not None:
            on_round(round_no, opt.rounds, len(arrangements), search.plan.paths)
        started = time.perf_counter()
        rnd = run_round(search, round_no, arrangements, len(fixed), progress)
        rounds.append(_round_info(search, round_no, rnd, time.perf_counter() - started))
        for c in rnd.candidates:
            seen.setdefault(c.holds, c)
        carried = [rnd.candidates[i].holds for i in rnd.tied][: opt.max_candidates // CARRY]
    return _result(search, rnd, seen, rounds, notes, time.perf_counter() - t0)


def _notes(search: Search) -> list[str]:
    notes = []
    n = len(search.config.scenarios)
    if n:
        notes.append(
            f"the config's {n} scenario(s) are left out: every candidate runs on the base paths "
            "(stress run on the chosen config runs them)"
        )
    return notes


def _result(
    search: Search,
    rnd: Round,
    seen: dict[Arrangement, Candidate],
    rounds: list[dict],
    notes: list[str],
    seconds: float,
) -> OptimiseResult:
    last = {c.holds: c for c in rnd.candidates}
    best = None if rnd.best is None else rnd.candidates[rnd.best]
    tied = tuple(rnd.candidates[i] for i in rnd.tied if i != rnd.best)
    history = search.plan.history_info().get("history", {}).get("files", [])
    return OptimiseResult(
        config=search.config,
        positions=search.plan.portfolios[0].positions,
        space=search.space,
        settings=search.settings,
        risk_capital=search.risk_capital,
        paths=search.plan.paths,
        seed=search.plan.seed,
        candidates=tuple(seen.values()),
        best=best,
        tied=tied,
        references={k: last.get(arr) for k, arr in references(search.space).items()},
        rounds=tuple(rounds),
        notes=tuple(notes),
        elapsed_seconds=seconds,
        history_files=tuple(history),
        source=search.config._source,
    )
