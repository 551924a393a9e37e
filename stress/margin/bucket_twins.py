"""Buckets that are the same bucket: marked once, their outcome copied.

Books of different modes share buckets: an isolated leg of an as_configured book holds the same
position with the same collateral as that leg in the isolated book. Buckets with the same
positions (asset, signed quantity, entry, in order) and the same collateral have the same
outcome on every path, bit for bit, so the plain kernel (`stress.margin.kernels.mark_buckets_nb`)
marks the first of them and the others copy its outcome, with the trigger moved to their own
position.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Twins(NamedTuple):
    """``twin[b]``: the first bucket identical to bucket b (b itself for the first of each
    kind, which the kernel marks); ``shift[b]``: what to add to the twin's trigger (a position
    index) to name bucket b's own position."""

    twin: np.ndarray  # (B,) int64, twin[b] <= b
    shift: np.ndarray  # (B,) int64


def bucket_twins(
    pos_asset: np.ndarray,
    pos_qty: np.ndarray,
    pos_entry: np.ndarray,
    bucket_start: np.ndarray,
    bucket_end: np.ndarray,
    bucket_collateral: np.ndarray,
) -> Twins:
    """Group identical buckets (module docstring); exact float equality, nothing rounded."""
    first: dict[tuple, int] = {}
    twin = np.empty(bucket_start.shape[0], dtype=np.int64)
    shift = np.zeros(bucket_start.shape[0], dtype=np.int64)
    for b, (s, e) in enumerate(zip(bucket_start.tolist(), bucket_end.tolist(), strict=True)):
        key = (
            float(bucket_collateral[b]),
            tuple(pos_asset[s:e].tolist()),
            tuple(pos_qty[s:e].tolist()),
            tuple(pos_entry[s:e].tolist()),
        )
        u = first.setdefault(key, b)
        twin[b] = u
        shift[b] = s - int(bucket_start[u])
    return Twins(twin, shift)
