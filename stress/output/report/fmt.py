"""Number formats, mode colours and the escaping every user string needs before it is shown.

The page and the figures must agree on how a number reads, so both use these helpers; the
tests parse the page back with the same precision.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

MODE_ORDER = ("isolated", "cross", "as_configured")

MODE_COLOURS = {
    # Okabe-Ito: distinguishable with the common colour-vision deficiencies, and none of them
    # reads as "good" or "bad" the way green/red would
    "isolated": "#0072B2",
    "cross": "#D55E00",
    "as_configured": "#009E73",
}
MODE_DASH = {"isolated": "solid", "cross": "solid", "as_configured": "dash"}
"""as_configured often equals cross exactly (no isolated positions): dashed keeps both visible."""

MODE_BLURB = {
    "isolated": "every position backed only by its own margin",
    "cross": "the whole wallet backs every position",
    "as_configured": "each position's own margin_mode setting",
}

QUOTE = "USDT"

METRIC_LABELS = {
    "p_liquidation": "liquidation probability",
    "p_ruin": "ruin probability",
    "es_99": "ES 99 %",
    "var_99": "VaR 99 %",
    "expected_loss": "expected loss",
    "bad_debt_mean": "mean bad debt",
}
PROBABILITY_METRICS = ("p_liquidation", "p_ruin")


def mode_colour(mode: str) -> str:
    return MODE_COLOURS.get(mode, "#555555")


def rgba(hex_colour: str, alpha: float) -> str:
    """'#RRGGBB' -> 'rgba(r,g,b,alpha)' for translucent bands of a mode's colour."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def money(x: float | None, decimals: int = 2) -> str:
    """USDT amount with thousands separators; the unit goes in the column header."""
    return "n/a" if _missing(x) else f"{x:,.{decimals}f}"


def pct(x: float | None, decimals: int = 2) -> str:
    """A probability as a percentage; a non-zero one that would round to zero says so."""
    if _missing(x):
        return "n/a"
    if 0 < x < 0.5 * 10.0 ** (-decimals - 2):
        return f"<{10.0**-decimals:.{decimals}f} %"
    return f"{100 * x:.{decimals}f} %"


def pct_interval(ci: list[float] | None, decimals: int = 2) -> str:
    if not ci or _missing(ci[0]) or _missing(ci[1]):
        return "n/a"
    return f"{100 * ci[0]:.{decimals}f} – {100 * ci[1]:.{decimals}f} %"


def price(x: float | None) -> str:
    """A mark price at a precision that suits its size (60,000 BTC vs 0.35 DOGE)."""
    if _missing(x):
        return "none"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:,.2f}"
    return f"{x:.4g}"


def hours(x: float | None) -> str:
    if _missing(x):
        return "n/a"
    return f"{x:,.1f} h" if x < 48 else f"{x / 24:,.1f} d"


def metric_value(metric: str, x: float | None) -> str:
    return pct(x) if metric in PROBABILITY_METRICS else f"{money(x)} {QUOTE}"


def metric_difference(metric: str, x: float | None) -> str:
    """A paired difference: percentage points for probabilities, USDT otherwise."""
    if _missing(x):
        return "n/a"
    if metric in PROBABILITY_METRICS:
        return f"{100 * x:+.2f} pts"
    return f"{x:+,.2f}"


def label(text: Any) -> str:
    """A user string made safe for plotly text (titles, legends, ticks, hover).

    plotly renders a subset of HTML in every label and decodes entities; escaping `<`, `>` and
    `&` makes it draw `<script>` as the characters, never as markup. Quotes stay as they are:
    without a `<` nothing can open a tag or attribute, and plotly does not decode `&quot;`.
    """
    return html.escape(str(text), quote=False)


def script_json(obj: Any) -> str:
    """JSON safe inside a <script> element: no `</script>`, `<!--` or line separators.

    Escaping `<`, `>` and `&` as \\u sequences keeps the JSON value identical while leaving the
    HTML parser nothing to end the element on.
    """
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def sig(values: Any, digits: int = 6) -> list[float | None]:
    """Round to `digits` significant digits for compact figure JSON; NaN/inf become null."""
    out: list[float | None] = []
    for v in values:
        v = float(v)
        out.append(float(f"{v:.{digits}g}") if math.isfinite(v) else None)
    return out
