"""`PathResults`: what the engine keeps per path of every book."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from stress.margin.layout import Layout
from stress.margin.trader_rules import RuleEvents


@dataclass
class PathResults:
    """Per-path outcome of every book (portfolio x mode); shapes (n_paths, K) or (n_paths, P)."""

    final_equity: np.ndarray  # float64
    first_liq_step: np.ndarray  # int32, -1 = never liquidated
    bad_debt: np.ndarray  # float64: deficits absorbed by the venue, summed over the buckets
    fees_paid: np.ndarray  # float64: liquidation fees paid, summed over the buckets
    pos_liquidated: np.ndarray  # bool, per position of the layout: closed, whole or in part
    pos_triggered: np.ndarray  # bool: the position whose move set off its bucket's liquidation
    # processes other than full_close only (else None): partial closes summed over the buckets
    partial_closes: np.ndarray | None = None  # int32: how many
    partial_notional: np.ndarray | None = None  # float64: notional they closed, at the mark
    # scenarios with ADL only (else None)
    adl_closed: np.ndarray | None = None  # int32: positions of the book ADL closed
    adl_liquidated: np.ndarray | None = None  # bool: a bucket first liquidated after those
    # books with the trader's rules only (else None): what fired, and the same books without
    # any rule on the same paths (what the rules saved or cost)
    rule_events: RuleEvents | None = None
    unruled_equity: np.ndarray | None = None  # float64 (n_paths, K)
    unruled_liq_step: np.ndarray | None = None  # int32 (n_paths, K)

    @classmethod
    def empty(
        cls, n_paths: int, layout: Layout, partial: bool = False, adl: bool = False
    ) -> PathResults:
        k, p = layout.n_books, layout.pos_qty.shape[0]
        ruled = layout.rules is not None
        return cls(
            final_equity=np.empty((n_paths, k)),
            first_liq_step=np.empty((n_paths, k), dtype=np.int32),
            bad_debt=np.empty((n_paths, k)),
            fees_paid=np.empty((n_paths, k)),
            pos_liquidated=np.empty((n_paths, p), dtype=bool),
            pos_triggered=np.empty((n_paths, p), dtype=bool),
            partial_closes=np.empty((n_paths, k), dtype=np.int32) if partial else None,
            partial_notional=np.empty((n_paths, k)) if partial else None,
            adl_closed=np.empty((n_paths, k), dtype=np.int32) if adl else None,
            adl_liquidated=np.empty((n_paths, k), dtype=bool) if adl else None,
            rule_events=RuleEvents.empty(n_paths, k) if ruled else None,
            unruled_equity=np.empty((n_paths, k)) if ruled else None,
            unruled_liq_step=np.empty((n_paths, k), dtype=np.int32) if ruled else None,
        )

    def rows(self, rows: slice) -> PathResults:
        """The results of some paths (views)."""
        out = {}
        for f in fields(self):
            x = getattr(self, f.name)
            if isinstance(x, RuleEvents):
                out[f.name] = RuleEvents(*(a[rows] for a in x))
            else:
                out[f.name] = None if x is None else x[rows]
        return PathResults(**out)

    def store(self, first: int, chunk: PathResults, rows: int) -> None:
        """Copy the first `rows` paths of `chunk` into this one from path `first` on."""
        mine, theirs = self.rows(slice(first, first + rows)), chunk.rows(slice(0, rows))
        for f in fields(self):
            x, y = getattr(mine, f.name), getattr(theirs, f.name)
            if isinstance(x, RuleEvents):
                for a, b in zip(x, y, strict=True):
                    a[:] = b
            elif x is not None:
                x[:] = y

    def loss(self, layout: Layout) -> np.ndarray:
        """Initial equity minus final equity, (n_paths, K); positive is a loss."""
        return layout.book_initial_equity[None, :] - self.final_equity
