"""The HTML report: one self-contained page, plotly.js inlined once, figures as inline JSON.

The page makes no network request: plotly.js is embedded (not fetched from a CDN), fonts are
the system's, MathJax is never asked for, and plotly's cloud buttons are off. User strings are
escaped twice over where they need it: Jinja2 autoescapes the page, `fmt.label` escapes them
inside figures (plotly renders a subset of HTML), and `fmt.script_json` keeps the embedded JSON
from ending its <script> element.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

from stress.analysis.detail import DetailBands, quantile_bands
from stress.output.report import overview
from stress.output.report import portfolio as P
from stress.output.report import venue as V
from stress.output.report.fmt import MODE_BLURB, QUOTE, mode_colour, money, pct, price, script_json
from stress.output.report.rules import rules_section
from stress.output.report.scenario_table import scenario_tables
from stress.output.report.sweep_points import sweep_figures

if TYPE_CHECKING:
    from stress.pipeline.result import RunResult

_ENV = Environment(
    loader=PackageLoader("stress.output.report", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(money=money, pct=pct, price=price, mode_colour=mode_colour)

PLOTLY_CONFIG = {
    "displaylogo": False,
    "displayModeBar": "hover",  # tools appear on hover, not over every title
    "responsive": True,
    "typesetMath": False,  # never look for MathJax
    "showSendToCloud": False,
    "showTips": False,
    "plotlyServerURL": "",
    # a short tool bar: it must not cover the title of a third-width figure
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "zoomIn2d", "zoomOut2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js as shipped with the installed plotly (about 4.8 MB), safe to inline."""
    from plotly.offline import get_plotlyjs

    # plotly.js holds no "</script", but a future build might: "<\/" means the same in JS
    return get_plotlyjs().replace("</script", "<\\/script")


def _model_text(cfg) -> str:
    m = cfg.model
    if m.type == "merton" and m.jumps is not None:
        j = m.jumps
        clock = "one market-wide clock" if j.common else "independent clocks"
        return (
            f"Merton jump diffusion ({j.intensity:g} jumps a year, log size "
            f"N({j.mean:+.1%}, {j.std:.1%}), {clock})"
        )
    if m.type == "student_t":
        return f"multivariate Student-t ({m.dof:g} degrees of freedom)"
    if m.type == "gbm":
        return "correlated geometric Brownian motion"
    return m.type


def _horizon_text(data: dict[str, Any]) -> str:
    minutes = 24 * 60 / data["steps_per_day"]
    step = f"{minutes:g} min" if minutes < 60 else f"{minutes / 60:g} h"
    return f"{data['horizon_days']:g} days in {data['steps']:,} steps of {step}"


def _config_text(result: RunResult) -> str:
    """The config as run: command-line overrides of paths and seed applied."""
    dumped = result.config.model_dump(mode="json", exclude_none=True)
    dumped["seed"] = result.seed
    dumped.setdefault("simulation", {})["paths"] = result.paths
    return yaml.safe_dump(dumped, sort_keys=False, allow_unicode=True)


def _header(result: RunResult, data: dict[str, Any]) -> dict[str, Any]:
    ports = data["portfolios"]
    assets = []
    for name, a in result.config.model.assets.items():
        drift = f", drift {a.drift:+.0%}" if a.drift else ""
        vol = "history" if a.vol is None else f"{a.vol:.0%}"  # bootstrap/replay: no vol
        assets.append(f"{name} {price(a.price)} {QUOTE} (vol {vol}{drift})")
    names = [p["name"] for p in ports]
    return {
        "portfolios": names[0] if len(names) == 1 else f"{len(names):,} portfolios",
        "model": _model_text(result.config),
        "paths": f"{data['paths']:,}",
        "horizon": _horizon_text(data),
        "seed": data["seed"],
        "elapsed": f"{data['run_info']['elapsed_seconds']:,.1f} s",
        "version": data["run_info"]["version"],
        "assets": assets,
        "fee": f"{result.config.exchange.liquidation_fee:.2%}",
        "funding": f"{result.config.exchange.funding.rate:+.4%} every "
        f"{result.config.exchange.funding.interval_hours:g} h{V.funding_cap_text(result.config)}",
        "venue": V.venue_lines(result.config),
    }


def _sections(result: RunResult, data: dict[str, Any], detail: DetailBands) -> list[dict]:
    ports = data["portfolios"]
    axis = detail.axis
    chosen = detail.portfolios
    used = {p.asset_index for i in chosen for p in result.portfolios[i].positions}
    price_bands = {a: quantile_bands(result.sample_prices[:, :, a], axis.steps) for a in used}
    sections = []
    for i in chosen:
        port = ports[i]
        modes = P.ordered_modes(port["modes"])
        figs, notes = P.detail_figures(result, i, port, axis, price_bands, detail.equity)
        sections.append(
            {
                "anchor": f"portfolio-{i}",
                "name": port["name"],
                "wallet": port["wallet"],
                "params": ", ".join(
                    f"{k} {overview.param_text(v)}" for k, v in (port.get("params") or {}).items()
                ),
                "modes": modes,
                "verdict": port.get("verdict"),
                "mode_rows": P.mode_rows(port),
                "identical": P.identical_note(P.identical_modes(result, i, modes)),
                "grid": P.comparison_grid(port.get("verdict")),
                "positions": P.position_rows(result, i, port),
                "figures": figs,
                "notes": notes,
                "partial": V.partial_section(result, i, port, modes),
                "rules": rules_section(port, modes, result.paths),
                "first_liquidation": V.partial_process(result.config),
            }
        )
    return sections


def render_report(result: RunResult, summary: dict[str, Any] | None = None) -> str:
    """The report page as a string.

    Parameters
    ----------
    result : a finished base run (its `detail` holds the detail figures' equity fans)
    summary : its `to_dict()`; computed when not given (pass it to render an edited copy)

    Raises
    ------
    ValueError
        For a scenario's run, which has no detail figures of its own.
    """
    if result.detail is None:
        raise ValueError(
            f"no detail figures in run {result.scenario!r}: a report is drawn from a base run"
        )
    data = result.to_dict() if summary is None else summary
    ports = data["portfolios"]
    chosen = list(result.detail.portfolios)  # chosen by the run, with their equity fans
    sections = _sections(result, data, result.detail)
    figures = [f for s in sections for f in s["figures"] + (s["partial"] or {}).get("figures", [])]
    table = None
    if len(ports) > 1:
        shown = overview.riskiest(ports, overview.MAX_TABLE)
        cols = overview.columns(ports, shown)
        table = {
            "reason": overview.detail_reason(ports, chosen),
            "table_reason": overview.table_reason(ports, shown),
            "map": overview.risk_map(ports, shown, data["paths"]),
            "columns": cols,
            "rows": overview.table_rows(ports, shown, chosen, cols),
        }
        sweep_figs, sweep_note = sweep_figures(data)
        table["sweep_note"] = sweep_note
        table["sweep_figures"] = sweep_figs
        table["sweep_menu"] = any(f.layout.get("updatemenus") for f in sweep_figs)
        figures[:0] = [*sweep_figs, table["map"]]
    return _ENV.get_template("report.html").render(
        run=data,
        header=_header(result, data),
        sections=sections,
        overview=table,
        scenarios=scenario_tables(data, chosen),
        modes=[(m, mode_colour(m), MODE_BLURB.get(m, "")) for m in result.config.modes],
        figure_json=[(f.key, script_json(f.spec())) for f in figures],
        plotly_config=script_json(PLOTLY_CONFIG),
        plotly_js=plotly_js(),
        config_text=_config_text(result),
    )
