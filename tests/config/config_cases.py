"""Helpers shared by the config tests of this folder (imported by bare name: pytest puts
tests/config/ on `sys.path` for the test files here).

Every bad input must raise `stress.ConfigError` with one line that names the source, the field
path, what was expected and what was found; `assert_error` checks that line.
"""

from __future__ import annotations

import copy

from conftest import error_of
from support.bad_input import BASE


def as_portfolios(second_position_edits: dict | None = None) -> dict:
    """BASE rewritten as a two-portfolio list; edits go to portfolios[1].positions[0]."""
    cfg = copy.deepcopy(BASE)
    account, positions = cfg.pop("account"), cfg.pop("positions")
    other = copy.deepcopy(positions)
    other[0].update(second_position_edits or {})
    cfg["portfolios"] = [
        {"name": "main", "account": account, "positions": positions},
        {"name": "other", "account": copy.deepcopy(account), "positions": other},
    ]
    return cfg


def assert_error(source, *fragments: str, prefix: str = "<config>: ", prepare: bool = False) -> str:
    message = error_of(source, prepare=prepare)
    assert message.startswith(prefix), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message
