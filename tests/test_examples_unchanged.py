"""Every example config gives the summary stored before: behaviour does not drift unnoticed.

The stored files in `tests/support/expected/`, written by
`python tests/support/expected_summaries.py`, hold each example's summary.json at 512 paths,
floats to 12 significant digits. A change that is meant to change results rewrites them in the
same commit and says why; any other difference is a regression, and this test names the first
field that differs.
"""

from __future__ import annotations

import pytest
from support.expected_summaries import canonical, examples, load, stored_path, summary_of


def first_difference(got, want, where: str = "") -> str | None:
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted(set(want) | set(got)):
            if key not in got or key not in want:
                return f"{where}.{key}: present in only one of them"
            found = first_difference(got[key], want[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return f"{where}: {len(got)} items, expected {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            found = first_difference(g, w, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if got == want else f"{where}: got {got!r}, expected {want!r}"


@pytest.mark.parametrize("config", examples(), ids=lambda p: p.stem)
def test_example_summary_is_unchanged(config):
    assert stored_path(config).is_file(), (
        "no stored summary: run python tests/support/expected_summaries.py"
    )
    got = summary_of(config)
    assert first_difference(got, load(config)) is None, first_difference(got, load(config))


def test_canonical_form_ignores_only_the_last_digits():
    assert canonical({"a": [0.1 + 0.2, 1e-300]}) == {"a": [0.3, 1e-300]}
    assert canonical(1.0000000000001) == 1.0  # beyond 12 significant digits
    assert canonical(1.00000000001) != 1.0  # within them


def test_canonical_form_names_files_relative_to_the_checkout():
    from support.expected_summaries import ROOT

    assert canonical({"f": [str(ROOT / "data" / "x.csv")]}) == {"f": ["<repo>/data/x.csv"]}
    assert canonical("/elsewhere/x.csv") == "/elsewhere/x.csv"
