"""The HTML report: one self-contained page rendered from a Jinja2 template.

For now a plain, valid page with the verdict numbers; the interactive figures come with the
report issue. Everything user-supplied goes through Jinja2's autoescaping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

if TYPE_CHECKING:
    from stress.run import RunResult

_ENV = Environment(
    loader=PackageLoader("stress.report", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _money(x) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def _price(x) -> str:
    return "none" if x is None else f"{x:,.6g}"


_ENV.filters.update(money=_money, pct=_pct, price=_price)


def render_report(result: RunResult) -> str:
    """The report page as a string."""
    data = result.to_dict()
    config_text = yaml.safe_dump(
        result.config.model_dump(mode="json", exclude_none=True), sort_keys=False
    )
    return _ENV.get_template("report.html").render(run=data, config_text=config_text)
