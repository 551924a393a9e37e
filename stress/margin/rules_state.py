"""What the rules kernel (`stress.margin.rules_kernel`) keeps per path and returns per book."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from stress.margin.kernels import CACHE


class BookSpan(NamedTuple):
    """Where each book's buckets and positions are, and where each position sits."""

    first_bucket: np.ndarray  # (K + 1,) int64: book k's buckets are first_bucket[k]:[k + 1]
    free: np.ndarray  # (K,) float64: the free balance at the start
    pos_bucket: np.ndarray  # (P,) int64


class State(NamedTuple):
    """One path's working copy of what rules change, over every position (P) and bucket (B)."""

    qty: np.ndarray  # (P,) signed quantities still open (0.0: closed by a rule)
    coll: np.ndarray  # (B,) collateral, with realised PnL and top-ups
    paid: np.ndarray  # (B,) funding paid
    open_: np.ndarray  # (B,) bool
    value: np.ndarray  # (B,) what a closed bucket left (0 once moved to the free balance)
    liq: np.ndarray  # (B,) int64: the venue's liquidation step, -1
    bad: np.ndarray  # (B,)
    fee: np.ndarray  # (B,)
    trig: np.ndarray  # (B,) int64
    rung_done: np.ndarray  # (R,) bool
    tops: np.ndarray  # (P,) int64: top-ups made
    topped: np.ndarray  # (P,) USDT moved in by top-ups
    free: np.ndarray  # (K,) each book's free balance
    # stops, 1st step, reduces, step, top-ups, step; hard stop step
    events: np.ndarray  # (7,) int64
    moved: np.ndarray  # (1,) USDT moved by top-ups in the book
    venue_closed: np.ndarray  # (P,) bool: the venue closed the position, whole or in part
    cuts: np.ndarray  # (B,) int64: the venue's partial closes (tier_step_down)
    cut_notional: np.ndarray  # (B,) notional they closed, at the mark


class BookOutcome(NamedTuple):
    equity: float
    first_liq: int
    bad_debt: float
    fees: float
    stops: int
    stop_step: int
    reduces: int
    reduce_step: int
    top_ups: int
    top_up_step: int
    top_up_amount: float
    hard_stop_step: int
    partial_closes: int
    partial_notional: float


@njit(cache=CACHE)
def make_state_nb(n_pos, n_buckets, n_books, n_rungs):
    return State(
        qty=np.empty(n_pos),
        coll=np.empty(n_buckets),
        paid=np.empty(n_buckets),
        open_=np.empty(n_buckets, dtype=np.bool_),
        value=np.empty(n_buckets),
        liq=np.empty(n_buckets, dtype=np.int64),
        bad=np.empty(n_buckets),
        fee=np.empty(n_buckets),
        trig=np.empty(n_buckets, dtype=np.int64),
        rung_done=np.empty(n_rungs, dtype=np.bool_),
        tops=np.empty(n_pos, dtype=np.int64),
        topped=np.empty(n_pos),
        free=np.empty(n_books),
        events=np.empty(7, dtype=np.int64),
        moved=np.empty(1),
        venue_closed=np.empty(n_pos, dtype=np.bool_),
        cuts=np.empty(n_buckets, dtype=np.int64),
        cut_notional=np.empty(n_buckets),
    )
