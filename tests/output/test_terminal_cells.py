"""The terminal table shows rare probabilities instead of rounding them to zero."""

from __future__ import annotations

import pytest

from stress.output.terminal import _cell


@pytest.mark.parametrize(
    ("p", "shown"),
    [(0.1234, "12.34%"), (0.0, "0.00%"), (2.6e-5, "0.0026%"), (1e-4, "0.01%"), (1.0, "100.00%")],
)
def test_probabilities_keep_two_decimals_or_two_significant_digits(p, shown):
    assert _cell("pct", p) == shown


def test_an_interval_of_rare_probabilities_is_readable():
    assert _cell("ci", [5.54e-6, 5.83e-6]) == "0.00055-0.00058%"
    assert _cell("ci", [0.0, 0.012]) == "0.00-1.20%"
