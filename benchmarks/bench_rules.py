"""How much the trader's rules cost, measured against the plain kernels in the same process.

    python benchmarks/bench_rules.py            # 100 portfolios x 2,000 paths x 288 steps
    python benchmarks/bench_rules.py --paths 500

The workload is the engine benchmark's quick one (`workloads.quick`) with a stop at half the
margin on every position, an isolated top-up of one initial margin at an 80 % margin ratio and a
hard stop at a 30 % drawdown. It prints what it measured, on the same paths:
1. the rules kernel (`stress.margin.rules_kernel`), in book-marks per second (paths x marks x
   books) and nanoseconds per book-mark;
2. the same books without any rule in the plain kernel marking every step (``skip=False``) and
   skipping safe stretches (the default): the rules kernel marks every step of a book with open
   positions, so the first is its like-for-like reference;
3. that rules which cannot fire (a stop at a loss of 50 margins) give the plain kernel's
   results bit for bit (a hard stop can always fire: a gap to zero equity reaches any level);
4. the plain-Python reference of the rules (tests/support/rules_reference.py) on a few paths,
   for the speed-up of compiling them.
All timings exclude numba compilation (a warm-up call runs first).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import workloads  # noqa: E402
from support.rules_reference import reference_rules  # noqa: E402

from stress.margin.engine import evaluate_prices, mark_chunk  # noqa: E402
from stress.paths import iter_price_chunks  # noqa: E402
from stress.pipeline.prepare import prepare  # noqa: E402


def with_rules(cfg: dict, stop: float, hard: dict | None, top_up: bool) -> dict:
    cfg = copy.deepcopy(cfg)
    for port in cfg["portfolios"]:
        if hard is not None:
            port["account"]["hard_stop"] = hard
        for pos in port["positions"]:
            pos["stop_loss"] = {"margin_fraction": stop}
            if top_up:
                pos["top_up"] = {"at_margin_ratio": 0.8, "amount": "initial"}
    return cfg


def timed(f, *args):
    f(*args)  # compile, and warm the caches
    t0 = time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--paths", type=int, default=2_000)
    ap.add_argument("--ref-paths", type=int, default=4, help="paths for the Python reference")
    args = ap.parse_args()
    base = workloads.quick()
    plan = prepare(with_rules(base, 0.5, {"drawdown": 0.3}, top_up=True))
    bare = replace(plan.layout, rules=None)
    chunk = next(iter_price_chunks(plan.spec, plan.grid, plan.seed, args.paths, 256 * 16))
    prices = np.ascontiguousarray(chunk[1][: args.paths])
    marks = prices.shape[0] * prices.shape[1] * plan.layout.n_books
    print(
        f"workload: {plan.layout.n_books:,} books ({plan.layout.pos_qty.shape[0]:,} positions), "
        f"{prices.shape[0]:,} paths x {prices.shape[1]:,} marks x {prices.shape[2]} assets"
    )
    ruled, t_rules = timed(evaluate_prices, plan.layout, plan.rules, prices)
    _, t_step = timed(lambda: mark_chunk(bare, plan.rules, prices, skip=False))
    _, t_skip = timed(lambda: mark_chunk(bare, plan.rules, prices))
    for name, t in (("rules kernel", t_rules), ("plain, every step", t_step),
                    ("plain, skipping", t_skip)):  # fmt: skip
        print(f"{name:18s} {t:8.3f} s  {marks / t:16,.0f} book-marks/s  {t / marks * 1e9:6.1f} ns")
    print(f"rules kernel / plain every step: {t_rules / t_step:.2f}x the time")
    events = ruled.rule_events
    hard = np.mean(events.hard_stop_step >= 0)
    print(
        f"fired: stops on {np.mean(events.stops > 0):.1%} of book-paths, top-ups on "
        f"{np.mean(events.top_ups > 0):.1%}, hard stops on {hard:.1%}"
    )
    inert = prepare(with_rules(base, 50.0, None, top_up=False))
    a = evaluate_prices(bare, plan.rules, prices)
    b = evaluate_prices(inert.layout, inert.rules, prices)
    same = all(np.array_equal(getattr(a, f), getattr(b, f))
               for f in ("final_equity", "first_liq_step", "bad_debt", "fees_paid"))  # fmt: skip
    print(f"rules that cannot fire give the plain results bit for bit: {same}")
    m = args.ref_paths
    t0 = time.perf_counter()
    reference_rules(plan.layout, plan.rules, prices[:m])
    t_ref = (time.perf_counter() - t0) / m * prices.shape[0]
    print(f"Python reference, {m} paths scaled to {prices.shape[0]:,}: {t_ref:,.1f} s "
          f"({t_ref / t_rules:,.0f}x the rules kernel)")  # fmt: skip


if __name__ == "__main__":
    main()
