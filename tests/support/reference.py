"""A plain-Python reading of SPEC's margin semantics, written without the engine's layout.

Slow (a Python loop per path, bucket and step); only for small cases that check the compiled
engine against the text of the specification.
"""

from __future__ import annotations

import math

import numpy as np

import stress
from stress.portfolios.resolve import market_tables, resolve_portfolios
from stress.venues.tiers import maintenance


def _buckets(port, mode):
    if mode == "cross":
        return [(port.wallet, list(port.positions))], 0.0
    if mode == "isolated":
        return [(p.margin, [p]) for p in port.positions], port.wallet - sum(
            p.margin for p in port.positions
        )
    iso = [p for p in port.positions if p.margin_mode == "isolated"]
    cross = [p for p in port.positions if p.margin_mode == "cross"]
    rest = port.wallet - sum(p.margin for p in iso)
    buckets = [(p.margin, [p]) for p in iso]
    if cross:
        buckets.append((rest, cross))
        rest = 0.0
    return buckets, rest


def _boundaries(t, step_hours, interval):
    """How many funding boundaries fall in (step t-1, step t]; none at the start."""
    if t == 0:
        return 0
    return math.floor(t * step_hours / interval + 1e-9) - math.floor(
        (t - 1) * step_hours / interval + 1e-9
    )


def _bucket_on_path(collateral, members, spot, tables, cfg, step_hours):
    """One bucket along one path (spot: times x assets).

    (what it adds to the wallet, the step it is liquidated or None, bad debt, fee paid).
    """
    fee = cfg.exchange.liquidation_fee
    rate = cfg.exchange.funding.rate
    interval = cfg.exchange.funding.interval_hours
    paid = 0.0
    for t in range(spot.shape[0]):
        prices = spot[t]
        boundaries = _boundaries(t, step_hours, interval)
        for p in members:
            paid += boundaries * p.sign * p.quantity * prices[p.asset_index] * rate
        equity = (
            collateral
            - paid
            + sum(p.sign * p.quantity * (prices[p.asset_index] - p.entry_price) for p in members)
        )
        notionals = [p.quantity * prices[p.asset_index] for p in members]
        mm = sum(maintenance(tables[p.asset], n) for p, n in zip(members, notionals, strict=True))
        if equity <= mm:
            charge = fee * sum(notionals)
            kept = max(0.0, equity - charge)
            # the deficit, before the fee
            return kept, t, max(0.0, -equity), min(charge, max(0.0, equity))
    return equity, None, 0.0, 0.0


def _mode(port, mode, prices, tables, cfg, step_hours):
    """The per-path arrays of one portfolio under one margin mode."""
    n_paths = prices.shape[0]
    buckets, free = _buckets(port, mode)
    final = np.zeros(n_paths)
    first = np.full(n_paths, -1)
    bad = np.zeros(n_paths)
    fees = np.zeros(n_paths)
    liq = {p.id: np.zeros(n_paths, dtype=bool) for p in port.positions}
    for i in range(n_paths):
        total = free
        for collateral, members in buckets:
            added, step, debt, paid_fee = _bucket_on_path(
                collateral, members, prices[i], tables, cfg, step_hours
            )
            total += added
            if step is not None:
                bad[i] += debt
                fees[i] += paid_fee
                first[i] = step if first[i] < 0 else min(first[i], step)
                for p in members:
                    liq[p.id][i] = True
        final[i] = total
    return {
        "final_equity": final,
        "first_liq_step": first,
        "bad_debt": bad,
        "fees_paid": fees,
        "pos_liquidated": liq,
    }


def reference(cfg_dict, prices):
    """{(portfolio name, mode): dict of per-path arrays} straight from the SPEC text."""
    cfg = stress.load_config(cfg_dict)
    tables = market_tables(cfg)
    step_hours = 24.0 / cfg.simulation.steps_per_day
    out = {}
    for port in resolve_portfolios(cfg):
        s0 = prices[0, 0]
        initial = port.wallet + sum(
            p.sign * p.quantity * (s0[p.asset_index] - p.entry_price) for p in port.positions
        )
        for mode in cfg.modes:
            arrays = _mode(port, mode, prices, tables, cfg, step_hours)
            out[(port.name, mode)] = {
                "final_equity": arrays["final_equity"],
                "loss": initial - arrays["final_equity"],
                **{k: v for k, v in arrays.items() if k != "final_equity"},
            }
    return out
