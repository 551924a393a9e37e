"""What `stress optimise` found, as data: the pick, the candidates tied with it, the frontier,
the pure modes for comparison, and the ready-to-run config of the pick.

Built whole by `stress.pipeline.optimise` and not changed after. `to_dict` is the ``--json``
structure (README, "Choosing the split"); `best_config` the config ``-o`` writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stress.config.optimise import Optimise
from stress.config.schema import Config
from stress.pipeline.optimise_candidates import Arrangement, Space
from stress.portfolios.resolve import ResolvedPosition

RULE = (
    "A candidate fits when its ES99 (the mean loss in the worst 1 % of paths) is at most the "
    "risk capital (and its P(ruin) at most optimise.max_p_ruin, when set). Among the fits the "
    "best has the lowest liquidation probability; fits within statistical noise of it (95 % "
    "paired interval of the difference covering 0) are tied, and the tie goes to the lowest "
    "expected loss. Every candidate runs on the same paths."
)
"""The rule as the command, the page and the README state it."""

KEPT = ("p_liquidation", "p_liquidation_ci", "es_99", "expected_loss", "p_ruin", "var_99")
"""The metrics of a candidate that the result keeps."""


@dataclass(frozen=True)
class Candidate:
    """One arrangement as run: its name in its round's run, its holds and numbers."""

    name: str
    round: int  # 1: the coarse round
    holds: Arrangement
    metrics: dict[str, Any]
    fits: bool


def pareto(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates no other beats on both ES99 and P(liq) (lower is better), by ES99."""
    front, lowest = [], float("inf")
    for c in sorted(candidates, key=lambda c: (c.metrics["es_99"], c.metrics["p_liquidation"])):
        if c.metrics["p_liquidation"] < lowest:
            front.append(c)
            lowest = c.metrics["p_liquidation"]
    return front


def holds_text(positions: tuple[ResolvedPosition, ...], holds: Arrangement, leverage: bool) -> str:
    """``eth-long isolated 6,000 USDT (2x IM), btc-short cross`` (IM: initial margin)."""
    parts = []
    for p, h in zip(positions, holds, strict=True):
        at = f" at {h.leverage:g}x" if leverage else ""
        if h.mode == "cross":
            parts.append(f"{p.id} cross{at}")
        else:
            parts.append(f"{p.id} isolated {h.margin(p):,.0f} USDT ({h.multiple:g}x IM){at}")
    return ", ".join(parts)


@dataclass(frozen=True)
class OptimiseResult:
    """The search's answer (module docstring). ``best`` is None when nothing fits; ``tied``
    excludes it; ``references`` holds pure cross, pure isolated and the config as written (None
    where the wallet or tiers cannot open one), all from the last round's run."""

    config: Config
    positions: tuple[ResolvedPosition, ...]
    space: Space
    settings: Optimise
    risk_capital: float
    paths: int
    seed: int
    candidates: tuple[Candidate, ...]
    best: Candidate | None
    tied: tuple[Candidate, ...]
    references: dict[str, Candidate | None]
    rounds: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]
    elapsed_seconds: float
    history_files: tuple[str, ...] = ()  # a history model's files, absolute
    source: str = "<config>"  # where the config was read from

    @property
    def frontier(self) -> list[Candidate]:
        return pareto(list(self.candidates))

    def describe(self, c: Candidate) -> str:
        return holds_text(self.positions, c.holds, self.space.leverage is not None)

    def entry(self, c: Candidate | None) -> dict[str, Any] | None:
        """A candidate as JSON: per position its hold, then the book's numbers."""
        if c is None:
            return None
        positions = [
            {
                "id": p.id,
                "margin_mode": h.mode,
                "margin": h.margin(p),
                "margin_multiple": h.multiple,
                "leverage": h.leverage,
            }
            for p, h in zip(self.positions, c.holds, strict=True)
        ]
        return {
            "name": c.name,
            "round": c.round,
            "positions": positions,
            **{k: c.metrics[k] for k in KEPT},
            "fits": c.fits,
        }

    def verdict(self) -> str:
        """The pick and its numbers, or that nothing fits; then the pure modes'."""
        limit = f"the risk capital of {self.risk_capital:,.0f} USDT"
        if self.settings.max_p_ruin is not None:
            limit += f" with P(ruin) <= {100 * self.settings.max_p_ruin:g} %"
        if self.best is None:
            closest = min(self.candidates, key=lambda c: c.metrics["es_99"])
            m = closest.metrics
            lead = (
                f"No arrangement fits {limit}: the lowest ES99 of the {len(self.candidates):,} "
                f"candidates is {m['es_99']:,.0f} USDT ({self.describe(closest)}; P(liq) "
                f"{100 * m['p_liquidation']:.2f} %)."
            )
        else:
            m = self.best.metrics
            lo, hi = m["p_liquidation_ci"]
            n = len(self.tied)
            ties = (
                "no other candidate is tied with it within noise"
                if n == 0
                else f"{n} other candidate{'s are' if n > 1 else ' is'} tied with it within noise"
            )
            lead = (
                f"Hold {self.describe(self.best)}: P(liq) {100 * m['p_liquidation']:.2f} % "
                f"(95 % CI {100 * lo:.2f}-{100 * hi:.2f} %), ES99 {m['es_99']:,.0f} USDT within "
                f"{limit}; {ties}."
            )
        return f"{lead} {self._pure_text()}"

    def _pure_text(self) -> str:
        parts = []
        for name in ("cross", "isolated"):
            c = self.references[name]
            if c is None:
                parts.append(f"pure {name} cannot be opened")
                continue
            m = c.metrics
            verdict = "fits" if c.fits else "over the limit"
            parts.append(
                f"pure {name} P(liq) {100 * m['p_liquidation']:.2f} %, ES99 {m['es_99']:,.0f} "
                f"USDT ({verdict})"
            )
        return "For comparison: " + "; ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        """The ``stress optimise --json`` structure."""
        opt = self.settings
        return {
            "name": self.config.name,
            "paths": self.paths,
            "seed": self.seed,
            "risk_capital": self.risk_capital,
            "max_p_ruin": opt.max_p_ruin,
            "rule": RULE,
            "verdict": self.verdict(),
            "best": self.entry(self.best),
            "tied": [self.entry(c) for c in self.tied],
            "frontier": [self.entry(c) for c in self.frontier],
            "pure_modes": {k: self.entry(self.references[k]) for k in ("cross", "isolated")},
            "as_configured": self.entry(self.references["as_configured"]),
            "search": {
                "positions": [self.positions[i].id for i in self.space.searched],
                "margin": {"min": opt.margin.min, "max": opt.margin.max},
                "leverage": None
                if opt.leverage is None
                else {"min": opt.leverage.min, "max": opt.leverage.max},
                "steps": opt.steps,
                "rounds": opt.rounds,
                "max_candidates": opt.max_candidates,
                "evaluated": len(self.candidates),
                "rounds_run": list(self.rounds),
            },
            "notes": list(self.notes),
            "candidates": [self.entry(c) for c in self.candidates],
            "elapsed_seconds": self.elapsed_seconds,
        }

    def best_config(self, folder: Path | None = None) -> dict[str, Any] | None:
        """The config as given with the pick's holds, ready for `stress run`; None when nothing
        fits. The optimise block is left out, the risk capital written into the account, the
        as_configured mode (the pick) kept in ``modes``, and history files named relative to
        `folder`, where the config will live (default: the working directory)."""
        if self.best is None:
            return None
        data = self.config.model_dump(mode="json", exclude_unset=True)
        data.pop("optimise", None)
        book = data["portfolios"][0] if "portfolios" in data else data
        book["account"]["risk_capital"] = self.risk_capital
        for pos, p, h in zip(book["positions"], self.positions, self.best.holds, strict=True):
            pos["margin_mode"] = h.mode
            pos.pop("margin", None)
            if h.mode == "isolated":
                pos["margin"] = h.margin(p)
            if h.leverage != p.leverage:
                pos["leverage"] = h.leverage
        if "modes" in data and "as_configured" not in data["modes"]:
            data["modes"].append("as_configured")
        if self.history_files:
            where = Path.cwd() if folder is None else Path(folder).resolve()
            data["model"]["history"] = [os.path.relpath(f, where) for f in self.history_files]
        return data
