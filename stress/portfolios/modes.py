"""What each margin mode means: which positions share collateral. Written once, here.

- ``isolated``: every position in its own bucket, holding its margin;
- ``cross``: one bucket holding the whole wallet and backing every position;
- ``as_configured``: the positions marked ``margin_mode: isolated`` in their own buckets, the
  rest of the wallet backing the others (free if there are none).

The engine's layout (`stress.margin.layout`), the closed-form liquidation prices, the checks that
a book can be opened (`stress.portfolios.feasibility`) and the report all read these two
functions; none of them decides it again.
"""

from __future__ import annotations

from typing import Protocol


class _Position(Protocol):
    margin: float
    margin_mode: str


def isolated_in(mode: str, position: _Position) -> bool:
    """Whether ``position`` holds its own margin in its own bucket under ``mode`` (else it shares
    the cross bucket)."""
    return mode == "isolated" or (mode == "as_configured" and position.margin_mode == "isolated")


def mode_buckets(positions, mode: str, wallet: float):
    """[(collateral, [positions])] and the free balance of one portfolio under one mode.

    The cross bucket, when there is one, comes first; isolated buckets follow in position order.
    """
    iso = [p for p in positions if isolated_in(mode, p)]
    cross = [p for p in positions if not isolated_in(mode, p)]
    buckets = [(p.margin, [p]) for p in iso]
    if mode == "cross":
        return [(wallet, cross)], 0.0
    rest = wallet - sum(p.margin for p in iso)
    if cross:
        return [(rest, cross), *buckets], 0.0
    return buckets, rest
