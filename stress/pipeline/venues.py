"""One book on several venues, on the same paths: ``stress compare CONFIG --venues a,b,c``.

Each venue's run replaces the config's exchange block with that venue's preset
(`stress.venues.presets`): the same portfolios, modes, model, seed and paths, so the venues are
compared path by path and their differences come with paired intervals, as the modes are.
The first venue listed is the reference the others are compared with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stress.analysis.verdict import Outcomes, paired_books
from stress.config.schema import PRESETS, Config, Exchange
from stress.errors import ConfigError
from stress.pipeline.prepare import API_NAMES, Plan, prepare
from stress.pipeline.result import RunResult
from stress.pipeline.simulate import simulate

COMPARED = ("p_liquidation", "es_99", "bad_debt_mean")
"""What is compared across venues, per portfolio and mode."""


def parse_venues(text: str, label: str = "--venues") -> list[str]:
    """``binance,bybit`` -> ``["binance", "bybit"]``: at least two known presets, each once."""
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in names if v not in PRESETS]
    if unknown:
        known = ", ".join(PRESETS)
        raise ConfigError(f"{label}: expected presets among {known}, got {unknown[0]!r}")
    if len(names) < 2 or len(set(names)) != len(names):
        raise ConfigError(f"{label}: expected two or more different presets, got {text!r}")
    return names


def on_venue(cfg: Config, venue: str) -> Config:
    """The config with its exchange block replaced by the venue's preset."""
    return cfg.model_copy(update={"exchange": Exchange.model_validate({"preset": venue})})


def prepare_venues(
    cfg: Config,
    venues: list[str],
    paths: int | None = None,
    seed: int | None = None,
    names: dict[str, str] = API_NAMES,
) -> tuple[list[Plan | None], dict[str, str]]:
    """One plan per venue, all checked before any is simulated.

    A venue that cannot open the book (a leverage above its tier, a wallet its margins exceed)
    gets no plan and its reason in the second value; the first venue, the reference, must.
    """
    if cfg.simulation.importance != "off":  # each venue's boundary would shift its own paths
        raise ConfigError(
            f"{cfg._source}: simulation.importance: venues are compared on the same paths, "
            "which one shift per venue would break; set it to off, got auto"
        )
    plans: list[Plan | None] = []
    refused: dict[str, str] = {}
    for i, venue in enumerate(venues):
        try:
            plans.append(prepare(on_venue(cfg, venue), paths, seed, names=names))
        except ConfigError as exc:
            if i == 0:
                raise ConfigError(f"venue {venue}: {exc}") from None
            plans.append(None)
            refused[venue] = str(exc)
    return plans, refused


def _outcomes(result: RunResult) -> Outcomes:
    return Outcomes(result.layout, result.results, result.portfolios, result.metrics, result.paths)


def _venue_row(result: RunResult, k: int) -> dict[str, Any]:
    m = result.metrics[k]
    return {
        "p_liquidation": m["p_liquidation"],
        "p_liquidation_ci": m["p_liquidation_ci"],
        "es_99": m["es_99"],
        "bad_debt_mean": m["bad_debt_mean"],
    }


def _books_by_name(result: RunResult) -> dict[tuple[str, str], int]:
    """(portfolio name, mode) -> book index: a sweep keeps only the points a venue can open,
    so the same portfolio can sit at another index, or be missing, on another venue."""
    return {
        (result.portfolios[book.portfolio].name, book.mode): k
        for k, book in enumerate(result.layout.books)
    }


def venue_table(
    venues: list[str], results: list[RunResult | None], refused: dict[str, str] | None = None
) -> dict[str, Any]:
    """The comparison as JSON-ready data: per portfolio and mode, each venue's P(liq) with its
    interval, ES99 and mean bad debt, and each venue's paired difference from the first.

    Portfolios are those of the first venue; a venue that cannot open the book (``refused``,
    from `prepare_venues`, with ``results`` None there), or a sweep point it cannot open, is
    ``{"feasible": false}`` there, with the reason when the whole book was refused.
    """
    refused = refused or {}
    ref = results[0]
    runs = [None if r is None else _outcomes(r) for r in results]
    index = [{} if r is None else _books_by_name(r) for r in results]
    caches: list[dict] = [{} for _ in results]
    ports = []
    for k_port, port in enumerate(ref.portfolios):
        modes: dict[str, dict] = {}
        for k in ref.books_of(k_port):
            mode = ref.layout.books[k].mode
            rows = {venues[0]: _venue_row(ref, k)}
            for v in range(1, len(venues)):
                kv = index[v].get((port.name, mode))
                if kv is None:
                    rows[venues[v]] = {"feasible": False}
                    if venues[v] in refused:
                        rows[venues[v]]["reason"] = refused[venues[v]]
                    continue
                row = _venue_row(results[v], kv)
                row["versus_" + venues[0]] = {
                    metric: paired_books(runs[v], kv, runs[0], k, metric, caches[v], caches[0])
                    for metric in COMPARED
                }
                rows[venues[v]] = row
            modes[mode] = rows
        ports.append({"name": port.name, "modes": modes})
    return {
        "name": ref.config.name,
        "paths": ref.paths,
        "seed": ref.seed,
        "venues": venues,
        "reference": venues[0],
        "refused": refused,
        "portfolios": ports,
    }


def compare_venues(
    cfg: Config,
    venues: list[str],
    paths: int | None = None,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    names: dict[str, str] = API_NAMES,
) -> dict[str, Any]:
    """Run the config on every venue (see the module docstring) and compare them."""
    plans, refused = prepare_venues(cfg, venues, paths, seed, names)
    # the venue table shows no verdict: no search for what would fit the risk capital
    results = [None if plan is None else simulate(plan, progress, fits=False) for plan in plans]
    return venue_table(venues, results, refused)
