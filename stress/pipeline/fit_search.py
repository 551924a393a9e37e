"""What would fit the risk capital when no mode does: a quick search on the same paths.

"No mode fits" alone leaves the trader stuck. So the portfolio is run again, smaller: scaled in
notional at the same leverage (a geometric grid of scale factors), and at lower leverages with
the same notional, every variant an extra portfolio of ONE run on the run's seed and its first
`FIT_PATHS` paths (common random numbers: the variants see the same prices as the portfolio).
The verdict then says the largest notional and the largest leverage at which some mode's ES99
stays within the risk capital, and in which mode.

The trader's rules (stops, reductions, top-ups) are kept as written: their amounts are not
scaled with the notional.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from stress.analysis.risk_capital import pick_within_risk_capital
from stress.analysis.verdict_text import money
from stress.margin.layout import build_layout
from stress.pipeline.prepare import Plan
from stress.pipeline.result import RunResult
from stress.portfolios.feasibility import portfolio_problem
from stress.portfolios.resolve import ResolvedPortfolio

FIT_PATHS = 2_000
"""At most this many of the run's paths: enough for a first answer, quick to run."""

MAX_SEARCHED = 10
"""Portfolios of one run searched at most (a search is a run of its own); the others, and a
sweep's points, keep ``fit`` None."""

SCALES = tuple(0.8**i for i in range(1, 21))
"""Notional scale factors searched, 0.8 down to about 0.012 of today's."""

LEVERAGES = (100, 75, 50, 40, 30, 25, 20, 15, 12, 10, 8, 6, 5, 4, 3, 2, 1)
"""Leverages searched, those below the portfolio's highest."""

Runner = Callable[[Plan], RunResult]
"""Runs a plan's base paths (`stress.pipeline.simulate.simulate`), handed in by the caller."""


def scaled(port: ResolvedPortfolio, factor: float) -> ResolvedPortfolio:
    """The portfolio with every position's size (and posted margin) times `factor`."""
    positions = tuple(
        replace(p, quantity=p.quantity * factor, margin=p.margin * factor) for p in port.positions
    )
    return replace(port, name=f"{port.name} x{factor:.4g}", positions=positions, risk_capital=None)


def at_leverage(port: ResolvedPortfolio, leverage: float) -> ResolvedPortfolio:
    """The portfolio with every position's leverage at most `leverage`, the same notional; a
    lowered position posts its margin times the leverage cut."""
    positions = tuple(
        replace(p, leverage=float(leverage), margin=p.margin * p.leverage / leverage)
        if p.leverage > leverage
        else p
        for p in port.positions
    )
    return replace(port, name=f"{port.name} {leverage:g}x", positions=positions, risk_capital=None)


def variants(plan: Plan, port: ResolvedPortfolio) -> list[tuple[str, float, ResolvedPortfolio]]:
    """(kind, value, portfolio): the smaller notionals then the lower leverages, those that can
    be opened in every configured mode."""
    top = max(p.leverage for p in port.positions)
    out = [("notional", s, scaled(port, s)) for s in SCALES]
    out += [("leverage", float(lev), at_leverage(port, lev)) for lev in LEVERAGES if lev < top]
    modes = list(plan.config.modes)
    return [
        v for v in out if portfolio_problem(v[2].positions, v[2].wallet, plan.tables, modes) is None
    ]


def fit_plan(plan: Plan, ports: list[ResolvedPortfolio]) -> Plan:
    """The plan of the search run: `ports` on the first `FIT_PATHS` paths of the same seed, no
    scenarios, ranked by an explicit objective (so that the search never searches again)."""
    cfg = plan.config
    layout = build_layout(
        ports, list(cfg.modes), [plan.tables[a] for a in cfg.model.assets], plan.marks
    )
    paths = plan.paths if plan.spec.kind == "replay" else min(plan.paths, FIT_PATHS)
    return replace(
        plan,
        config=cfg.model_copy(update={"scenarios": []}),
        sweep=None,
        portfolios=ports,
        layout=layout,
        paths=paths,
        objective="es_99",
    )


def _entry(result: RunResult, k: int, kind: str, value: float, gross: float) -> dict[str, Any]:
    """Book k of the search run as a finding: the variant and the book's mode and numbers."""
    m = result.metrics[k]
    where = {"scale": value, "notional": gross * value} if kind == "notional" else {kind: value}
    return {
        **where,
        "mode": result.layout.books[k].mode,
        "es_99": m["es_99"],
        "p_liquidation": m["p_liquidation"],
    }


def _largest(
    result: RunResult, found: list, kind: str, risk_capital: float, gross: float
) -> tuple[dict | None, dict[str, dict]]:
    """Of one kind of variant, the largest that fits in some mode (with the mode the risk
    capital rule picks there), and per mode the largest at which that mode fits."""
    best, by_mode = None, {}
    for i, (k, value, _) in enumerate(found):  # largest first
        if k != kind:
            continue
        pick = pick_within_risk_capital(result, result.books_of(i), risk_capital)
        if best is None and pick.best is not None:
            best = _entry(result, pick.best, kind, value, gross)
        for b in pick.fits:
            mode = result.layout.books[b].mode
            by_mode.setdefault(mode, _entry(result, b, kind, value, gross))
    return best, by_mode


def fit_search(plan: Plan, port: ResolvedPortfolio, risk_capital: float, run: Runner) -> dict:
    """The largest notional (same leverage) and the largest leverage (same notional) at which
    some mode's ES99 fits the risk capital, on the run's first paths.

    Returns
    -------
    dict
        ``paths`` (searched on), ``notional`` ({"scale", "notional" (gross, USDT), "mode",
        "es_99", "p_liquidation"}: the largest scale at which some mode fits, in the mode the
        risk-capital rule picks there; None when no scale searched fits), ``leverage``
        ({"leverage", "mode", "es_99", "p_liquidation"} or None), ``by_mode`` ({"notional":
        {mode: the largest fitting scale of that mode}, "leverage": {...}}), ``smallest_scale``
        and ``leverages`` (what was searched).
    """
    found = variants(plan, port)
    gross = sum(p.entry_notional for p in port.positions)
    out: dict[str, Any] = {
        "paths": min(plan.paths, FIT_PATHS) if plan.spec.kind != "replay" else plan.paths,
        "notional": None,
        "leverage": None,
        "by_mode": {"notional": {}, "leverage": {}},
        "smallest_scale": SCALES[-1],
        "leverages": [v for kind, v, _ in found if kind == "leverage"],
    }
    if not found:
        return out
    result = run(fit_plan(plan, [v[2] for v in found]))
    for kind in ("notional", "leverage"):
        out[kind], out["by_mode"][kind] = _largest(result, found, kind, risk_capital, gross)
    return out


def _also(fit: dict[str, Any], kind: str) -> str:
    """'; cross up to 19,661 USDT (liquidated on 0.5 % of paths)': the other modes that fit."""
    chosen = fit[kind]["mode"]
    parts = []
    for mode, e in fit["by_mode"][kind].items():
        if mode != chosen:
            where = money(e["notional"]) if kind == "notional" else f"{e['leverage']:g}x"
            p = 100 * e["p_liquidation"]
            parts.append(f"{mode} up to {where} (liquidated on {p:.1f} % of paths)")
    return f"; {', '.join(parts)}" if parts else ""


def fit_sentence(fit: dict[str, Any], gross: float) -> str:
    """What would fit, in one sentence for the verdict's headline."""
    n = fit["notional"]
    if n is None:
        notional = f"no notional down to {100 * fit['smallest_scale']:.1f} % of today's fits"
    else:
        notional = (
            f"a gross notional of {money(n['notional'])} ({100 * n['scale']:.0f} % of "
            f"today's {money(gross)}) fits in {n['mode']} (ES99 {money(n['es_99'])}, "
            f"liquidated on {100 * n['p_liquidation']:.1f} % of paths){_also(fit, 'notional')}"
        )
    lev = fit["leverage"]
    if lev is not None:
        leverage = (
            f"leverage {lev['leverage']:g}x fits in {lev['mode']} (ES99 {money(lev['es_99'])}, "
            f"liquidated on {100 * lev['p_liquidation']:.1f} % of paths){_also(fit, 'leverage')}"
        )
    elif fit["leverages"]:
        leverage = f"no leverage down to {min(fit['leverages']):g}x fits"
    else:
        leverage = "no lower leverage can be opened"
    return (
        f"What would fit (a quick search on {fit['paths']:,} of the same paths): at today's "
        f"leverage, {notional}; at today's notional, {leverage}."
    )


def with_fits(plan: Plan, result: RunResult, run: Runner) -> list[dict[str, Any]]:
    """The base run's verdicts, each one where no mode fits the risk capital with its search
    (``fit``) and a sentence on it: the first `MAX_SEARCHED` such portfolios of a run, none of a
    sweep's points (too many)."""
    verdicts, searched = [], 0
    for k_port, verdict in enumerate(result.verdicts):
        port = result.portfolios[k_port]
        if (
            plan.sweep is None
            and searched < MAX_SEARCHED
            and verdict["decided_by"] == "risk_capital"
            and verdict["recommended"] is None
        ):
            searched += 1
            fit = fit_search(plan, port, port.risk_capital, run)
            gross = sum(p.entry_notional for p in port.positions)
            headline = f"{verdict['headline']} {fit_sentence(fit, gross)}"
            verdict = {**verdict, "fit": fit, "headline": headline}
        verdicts.append(verdict)
    return verdicts
