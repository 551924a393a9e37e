"""A sweep's parameters and metrics as its figures show them: names with units, value texts,
what each metric plots, and which two parameters make the axes.

Everything reads the summary.json structure (`RunResult.to_dict()`): each portfolio's
``params``, ``modes`` and ``verdict``.
"""

from __future__ import annotations

from typing import Any

from stress.output.report.fmt import QUOTE, label

HEIGHT = 430
"""Height of a sweep figure in pixels (taller than a detail figure: the panels hold a grid)."""


def param_title(name: str) -> str:
    """A parameter as an axis title, with its unit (escaped for plotly)."""
    kind, _, pid = name.partition(".")
    units = {
        "leverage": "×",
        "notional": "USDT" if pid else "USDT, gross",
        "wallet": "USDT",
        "isolated_share": "share of the wallet",
        "weight": "share of the gross notional",
    }
    unit = units.get(kind)
    return label(f"{name} ({unit})" if unit else name)


def value_text(value: Any) -> str:
    return f"{value:,.6g}" if isinstance(value, int | float) else str(value)


def short_text(value: Any) -> str:
    """A tick label: round thousands and millions as 40k and 1.5M, anything else in full."""
    if isinstance(value, int | float) and abs(value) >= 10_000:
        for unit, scale in (("M", 1e6), ("k", 1e3)):
            if abs(value) >= scale and value % (scale / 10) == 0:
                return f"{value / scale:,g}{unit}"
    return value_text(value)


def template_text(text: str) -> str:
    """User text inside a hovertemplate: escaped, and no ``%{`` for plotly to substitute."""
    return label(text).replace("%{", "%\u200b{")


def es_unit(ports: list[dict[str, Any]]) -> tuple[bool, str]:
    """(as a share of the wallet?, unit text): USDT when every wallet is the same."""
    share = len({p["wallet"] for p in ports}) > 1
    return share, ("% of the wallet" if share else QUOTE)


def metric_value(port: dict[str, Any], mode: str, metric: str, share: bool) -> float | None:
    """What a figure plots: P(liquidation) in %, ES 99 % in USDT or in % of the wallet."""
    m = port["modes"].get(mode)
    if m is None or m.get(metric) is None:
        return None
    if metric == "p_liquidation":
        return 100.0 * m["p_liquidation"]
    if share:
        return 100.0 * m["es_99"] / port["wallet"] if port["wallet"] > 0 else None
    return m["es_99"]


def metric_text(metric: str, share: bool) -> tuple[str, str, str]:
    """(name, colour-bar / axis title, hover number format) of a plotted metric."""
    if metric == "p_liquidation":
        return "liquidation probability", "P(liquidation) (%)", "%{z:.2f} %"
    if share:
        return "ES 99 %", "ES 99 % (% of the wallet)", "%{z:.1f} % of the wallet"
    return "ES 99 %", f"ES 99 % ({QUOTE})", "%{z:,.2f} " + QUOTE


def unit_phrase(metric: str, share: bool) -> str:
    """The unit of a plotted metric, as a caption says it."""
    if metric == "p_liquidation":
        return "in % of paths"
    return "as % of the wallet" if share else f"in {QUOTE}"


def _determines(ports: list[dict], a: str, b: str) -> bool:
    """Whether parameter `a` fixes `b` (weight.<id> columns of one weights vector do)."""
    seen: dict[Any, Any] = {}
    for p in ports:
        va, vb = p["params"].get(a), p["params"].get(b)
        if seen.setdefault(va, vb) != vb:
            return False
    return True


def choose_axes(ports: list[dict], params: list[str]) -> tuple[str, str | None, list[str]]:
    """(x, y, others): the two crossed parameters with the most distinct values and the ones
    that vary independently of them (held at one combination per dropdown entry). y is None
    when no second parameter varies independently of x."""
    counts = {p: len({port["params"].get(p) for port in ports}) for p in params}
    ranked = sorted((p for p in params if counts[p] > 1), key=lambda p: -counts[p])
    if not ranked:
        return params[0], None, []
    x = ranked[0]
    y = next((p for p in ranked[1:] if not _determines(ports, x, p)), None)
    axes = [a for a in (x, y) if a is not None]
    others = [
        p for p in ranked if p not in axes and not any(_determines(ports, a, p) for a in axes)
    ]
    # numbers read best across; a categorical parameter (a side) goes on the y axis
    if y is not None and not isinstance(ports[0]["params"].get(x), int | float):
        x, y = y, x
    return x, y, others


def evenly(items: list, n: int, keep: int = 0) -> list:
    """`n` items spread evenly over the list, always including item `keep`."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    picked = [int(i * step) for i in range(n)]
    if keep not in picked:  # swap the nearest pick for it: still n items
        nearest = min(range(n), key=lambda j: abs(picked[j] - keep))
        picked[nearest] = keep
    return [items[i] for i in sorted(picked)]
