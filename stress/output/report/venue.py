"""The venue in the report: what the header says about the exchange (its preset, liquidation
process, slippage and funding cap), and each detailed portfolio's partial closes.

The header says only what a config sets: a run with the default exchange (no preset, `full_close`
with the residual to the trader, no order book, no funding cap) adds nothing. The partial-close
section appears under the processes that close in parts (`PARTIAL_PROCESSES`): its table is
summary.json's `p_partial_close`, `partial_closes_mean` and `partial_notional_mean`, its
histogram the kept per-path `partial_notional`. Strings returned are plain text (the template
autoescapes); figure strings are escaped where they are built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from stress.margin.slippage import market_liquidity
from stress.output.report.figure import Figure, base_layout
from stress.output.report.fmt import MODE_DASH, QUOTE, label, mode_colour, money, pct, sig
from stress.venues.presets import load_preset

if TYPE_CHECKING:
    from stress.config.schema import Config, Liquidation
    from stress.pipeline.result import RunResult

PARTIAL_PROCESSES = ("tier_step_down", "slices")
PARTIAL_METRICS = ("p_partial_close", "partial_closes_mean", "partial_notional_mean")
NOTIONAL_BINS = 30
_RESIDUAL = {"trader": "to the trader", "venue": "to the venue's insurance fund"}


def partial_process(cfg: Config) -> bool:
    """Whether the run's liquidation process closes positions in parts."""
    return cfg.exchange.liquidation.process in PARTIAL_PROCESSES


def _tiers(n: int) -> str:
    return "tier" if n == 1 else f"{n} tiers"


def process_text(liq: Liquidation) -> str | None:
    """One sentence on the liquidation process and its parameters; None for the default."""
    residual = _RESIDUAL[liq.residual]
    if liq.process == "full_close":
        if liq.residual == "trader":
            return None
        return (
            "Liquidation: full close of the bucket at a breach; what is left after the fee goes "
            f"{residual}."
        )
    if liq.process == "tier_step_down":
        return (
            f"Liquidation: tier step-down. At a breach each position above the lowest "
            f"{_tiers(liq.full_close_tiers)} is cut to the cap of its next lower tier and the "
            "bucket is checked again at the next step; a breach with every position in the "
            f"lowest {_tiers(liq.full_close_tiers)}, or with negative equity, closes the bucket "
            f"(what is left goes {residual})."
        )
    if liq.process == "slices":
        return (
            f"Liquidation: slices. At a breach each position above {money(liq.slice_above_usd, 0)} "
            f"{QUOTE} is reduced by {pct(liq.slice_fraction, 0)} of its size and smaller ones are "
            f"closed, one slice every {liq.cooldown_seconds:g} s (at least one step); below "
            f"{liq.backstop:.3g} x maintenance the venue's backstop takes the whole bucket."
        )
    return (
        "Liquidation: full close at a fillable price, at most "
        f"{liq.fill_maintenance_multiple:g} maintenance margins of each position from its mark "
        f"(what is left goes {residual})."
    )


def _book_text(asset: str, book) -> str:
    spread = f", spread {book.spread_bps:g} bp" if book.spread_bps else ""
    return f"{asset} depth {money(book.depth_usd, 0)} {QUOTE}{spread}, k {book.impact_k:g}"


def slippage_text(cfg: Config) -> str | None:
    """The order books closes fill against (None when every close fills at the mark)."""
    books = {a: market_liquidity(cfg, a) for a in cfg.model.assets}
    if all(b is None for b in books.values()):
        return None
    parts = [_book_text(a, b) for a, b in books.items() if b is not None]
    at_mark = [a for a, b in books.items() if b is None]
    if at_mark:
        parts.append(f"{', '.join(at_mark)} at the mark")
    return (
        "Liquidation closes fill with slippage, spread / 2 + k x daily vol x "
        f"sqrt(notional / depth) from the mark: {'; '.join(parts)}."
    )


def venue_lines(cfg: Config) -> list[str]:
    """The header's sentences on the venue: only what the config sets."""
    lines = []
    if cfg.exchange.preset is not None:
        preset = load_preset(cfg.exchange.preset)
        lines.append(
            f"Venue: {preset.title} (preset {preset.name}, snapshot {preset.snapshot}; fields "
            "written in the config override it)."
        )
    for text in (process_text(cfg.exchange.liquidation), slippage_text(cfg)):
        if text is not None:
            lines.append(text)
    return lines


def funding_cap_text(cfg: Config) -> str:
    """', capped at ±0.3750 % per interval' when the venue caps funding, else ''."""
    cap = cfg.exchange.funding.cap
    return "" if cap is None else f", capped at ±{cap:.4%} per interval"


def _rows(port: dict[str, Any], modes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for mode in modes:
        m = port["modes"][mode]
        cells = {
            "p_partial_close": pct(m["p_partial_close"]),
            "partial_closes_mean": f"{m['partial_closes_mean']:,.2f}",
            "partial_notional_mean": money(m["partial_notional_mean"]),
        }
        rows.append({"mode": mode, "cells": cells})
    return rows


def notional_histogram(
    key: str, closed: dict[str, np.ndarray], n_paths: int, total_paths: int
) -> Figure | None:
    """The notional closed in parts per path, one step outline per mode (None when no kept path
    had a partial close).

    Parameters
    ----------
    closed : {mode: (n_kept,) notional closed in parts on each kept path, at the mark}
    n_paths : the kept paths the shares are out of
    total_paths : the run's paths (the caption says when fewer were kept)
    """
    top = max(float(v.max()) for v in closed.values()) if closed else 0.0
    if top <= 0:
        return None
    edges = np.linspace(0.0, top, NOTIONAL_BINS + 1)
    bounds = [[lo, hi] for lo, hi in zip(sig(edges[:-1], 5), sig(edges[1:], 5), strict=True)]
    data = []
    for mode, values in closed.items():
        counts = np.histogram(values[values > 0], bins=edges)[0]
        y = sig(100 * counts / n_paths, 5)
        data.append(
            {
                "x": sig(edges),
                "y": [*y, y[-1]],  # "hv" steps need the last bin's right edge too
                "mode": "lines",
                "line": {
                    "shape": "hv",
                    "color": mode_colour(mode),
                    "width": 2.2,
                    "dash": MODE_DASH.get(mode, "solid"),
                },
                "name": label(mode),
                "customdata": [*bounds, bounds[-1]],
                "hovertemplate": "%{customdata[0]:,.0f} to %{customdata[1]:,.0f} "
                + QUOTE
                + ": %{y:.3g} % of paths<extra>%{fullData.name}</extra>",
            }
        )
    title = "Notional closed in partial closes"
    layout = base_layout(
        title, f"notional closed on the path ({QUOTE}, at the mark)", "share of paths (%)"
    )
    layout["yaxis"].update(ticksuffix=" %", rangemode="tozero")
    layout["xaxis"].update(rangemode="tozero")
    layout["hovermode"] = "x unified"
    kept = "" if n_paths == total_paths else f" (the first {n_paths:,} of {total_paths:,} kept)"
    caption = (
        f"Share of the {n_paths:,} paths{kept} by the notional the venue closed in parts over "
        "the horizon, per mode; paths without a partial close are not drawn, so each outline "
        "adds up to the share of paths with at least one."
    )
    return Figure(key, title, caption, data, layout)


def partial_section(
    result: RunResult, k_port: int, port: dict[str, Any], modes: list[str]
) -> dict[str, Any] | None:
    """A detailed portfolio's partial closes per mode: table rows, the histogram (as a list of
    figures, empty when no kept path had one) and a sentence on what they are; None when the
    process does not close in parts."""
    if not partial_process(result.config):
        return None
    if any(metric not in port["modes"][m] for m in modes for metric in PARTIAL_METRICS):
        return None
    res = result.results
    figures = []
    if res.partial_notional is not None:
        books = {result.layout.books[k].mode: k for k in result.books_of(k_port)}
        closed = {m: res.partial_notional[:, books[m]] for m in modes}
        fig = notional_histogram(
            f"p{k_port}-partial", closed, int(res.partial_notional.shape[0]), result.paths
        )
        figures = [] if fig is None else [fig]
    process = result.config.exchange.liquidation.process.replace("_", " ")
    text = (
        f"Under {process} a breach first closes part of a position. Means are per path over all "
        f"{result.paths:,} paths, notional at the mark when closed. P(liquidation) and the time "
        "to liquidation count the first liquidation, partial or full."
    )
    note = None
    if not figures:
        note = "No kept path had a partial close in any mode, so there is no histogram to draw."
    return {"rows": _rows(port, modes), "figures": figures, "text": text, "note": note}
