"""How often the trader's rules fired in a book, and what they saved or cost.

The engine marks every book with rules twice on the same paths: with its rules and without any
(`stress.margin.engine.PathResults.unruled_equity`, ``unruled_liq_step``). The difference is paired
path by path, so what the rules did is measured without the noise the two runs share.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stress.analysis.metrics import expected_shortfall, paired_difference
from stress.margin.trader_rules import RuleEvents


def _fired(count: np.ndarray, step: np.ndarray, step_hours: float) -> dict[str, Any]:
    fired = step >= 0
    return {
        "p_fired": float(np.mean(fired)),
        "fired_mean": float(np.mean(count, dtype=np.float64)),
        "first_hours_median": float(np.median(step[fired]) * step_hours) if fired.any() else None,
    }


def rule_metrics(
    events: RuleEvents,
    k: int,
    initial_equity: float,
    final_equity: np.ndarray,
    first_liq_step: np.ndarray,
    unruled_equity: np.ndarray,
    unruled_liq_step: np.ndarray,
    step_hours: float,
) -> dict[str, Any]:
    """The rule metrics of book k, from its per-path results (every array (n_paths,)).

    Returns
    -------
    dict
        ``stop_loss``, ``reduce``, ``top_up`` and ``hard_stop``: ``p_fired`` (share of the paths
        where the rule fired), ``fired_mean`` (times per path), ``first_hours_median`` (median
        hour of its first firing, over the paths where it fired; None if none); ``top_up`` also
        ``amount_mean`` (USDT moved per path). ``without_rules``: ``p_liquidation``,
        ``expected_loss`` and ``es_99`` of the same book without any rule on the same paths.
        ``saved``: what the rules saved (positive) or cost (negative), paired path by path:
        ``expected_loss`` and ``p_liquidation`` with their ``_se``, and ``es_99`` (no SE).
    """
    ev = RuleEvents(*(np.asarray(a)[:, k] for a in events))
    hard = ev.hard_stop_step
    out: dict[str, Any] = {
        "stop_loss": _fired(ev.stops, ev.stop_step, step_hours),
        "reduce": _fired(ev.reduces, ev.reduce_step, step_hours),
        "top_up": {
            **_fired(ev.top_ups, ev.top_up_step, step_hours),
            "amount_mean": float(np.mean(ev.top_up_amount)),
        },
        "hard_stop": _fired((hard >= 0).astype(np.int32), hard, step_hours),
    }
    loss = initial_equity - np.asarray(final_equity, dtype=np.float64)
    bare_loss = initial_equity - np.asarray(unruled_equity, dtype=np.float64)
    liq = np.asarray(first_liq_step) >= 0
    bare_liq = np.asarray(unruled_liq_step) >= 0
    es, bare_es = expected_shortfall(loss, 0.99), expected_shortfall(bare_loss, 0.99)
    out["without_rules"] = {
        "p_liquidation": float(np.mean(bare_liq)),
        "expected_loss": float(np.mean(bare_loss)),
        "es_99": bare_es,
    }
    saved_loss = paired_difference(bare_loss, loss)
    saved_liq = paired_difference(bare_liq, liq)
    out["saved"] = {
        "expected_loss": saved_loss["mean"],
        "expected_loss_se": saved_loss["se"],
        "p_liquidation": saved_liq["mean"],
        "p_liquidation_se": saved_liq["se"],
        "es_99": bare_es - es,
    }
    return out
