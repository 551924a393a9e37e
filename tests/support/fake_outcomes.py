"""Hand-built runs for the verdict's tests: books whose per-path losses and liquidations are
given, so that the right answer is known without simulating."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from stress.analysis.metrics import book_metrics


class _Results(SimpleNamespace):
    def loss(self, layout):
        return layout.book_initial_equity[None, :] - self.final_equity


def _portfolio(name: str, wallet: float, risk_capital: float | None, margin: float):
    """Two positions, cross as configured, each posting `margin` when isolated."""
    legs = [SimpleNamespace(margin_mode="cross", top_up=None, margin=margin) for _ in range(2)]
    return SimpleNamespace(name=name, wallet=wallet, risk_capital=risk_capital, positions=legs)


def fake_run(
    losses: dict,
    liq: dict,
    wallet: float = 1_000.0,
    risk_capital: float | None = None,
    margin: float = 300.0,
):
    """An `Outcomes` stand-in with the given per-path losses and liquidation flags.

    Keys are modes (one portfolio) or (portfolio, mode) pairs (several portfolios on the same
    paths, portfolio an index from 0).
    """
    keys = [k if isinstance(k, tuple) else (0, k) for k in losses]
    loss = [losses[k] for k in losses]
    flags = [liq[k] for k in liq]
    final = np.stack([wallet - x for x in loss], axis=1)
    steps = np.stack([np.where(f, 1, -1) for f in flags], axis=1)
    bad = np.zeros_like(final)
    layout = SimpleNamespace(
        books=[SimpleNamespace(portfolio=p, mode=m) for p, m in keys],
        book_initial_equity=np.full(len(keys), wallet),
    )
    n_ports = 1 + max(p for p, _ in keys)
    res = SimpleNamespace(
        layout=layout,
        results=_Results(final_equity=final, first_liq_step=steps, bad_debt=bad),
        portfolios=[_portfolio(f"p{i}", wallet, risk_capital, margin) for i in range(n_ports)],
        paths=final.shape[0],
        books_of=lambda k: [j for j, b in enumerate(layout.books) if b.portfolio == k],
    )
    res.metrics = [
        book_metrics(
            loss=loss[k],
            first_liq_step=steps[:, k],
            bad_debt=bad[:, k],
            final_equity=final[:, k],
            initial_wallet=wallet,
            step_hours=1.0,
        )
        for k in range(len(keys))
    ]
    return res
