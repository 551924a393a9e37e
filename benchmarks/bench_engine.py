"""How fast the engine is, measured against a plain numpy engine in the same process.

    python benchmarks/bench_engine.py            # headline: 1,000 portfolios x 10,000 paths
                                                 #   x 1,440 one-minute steps x 4 assets
    python benchmarks/bench_engine.py --quick    # 100 portfolios x 2,000 paths x 288 steps
    python benchmarks/bench_engine.py --memory   # also peak memory at 10,000 vs 100,000 paths
    python benchmarks/bench_engine.py --config configs/btc_eth_hedge.yaml

It prints what it measured:
1. the whole run (`stress.run`: path generation, engine, metrics, verdicts), wall time, the
   median of three runs (each one printed);
2. the compiled engine alone on one chunk of paths, and the plain numpy engine
   (`stress.margin.numpy_engine`: vectorised over paths and buckets, a Python loop over steps)
   on the same chunk, in position-steps per second (paths x (steps + 1) x positions over all
   books) and their ratio;
3. that the two agree: bit for bit on the shared paths, and the numpy engine's liquidation
   probabilities against the full run's within Monte Carlo error;
4. with --memory, the peak resident memory of a run in a fresh process at two path counts.
All timings exclude numba compilation (a warm-up call runs first).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

import stress  # noqa: E402
from stress.margin.engine import mark_chunk  # noqa: E402
from stress.margin.numpy_engine import mark_buckets_numpy  # noqa: E402
from stress.paths import iter_price_chunks  # noqa: E402
from stress.pipeline.prepare import prepare  # noqa: E402

RUNS = 3
"""Whole runs timed; the median is reported (the first is often the slowest: fresh memory)."""


def _config(args) -> dict | str:
    if args.config:
        return args.config
    return workloads.quick() if args.quick else workloads.headline()


def _peak_rss_child(args, paths: int) -> dict:
    """Run the workload in a fresh process (this script with --child); its peak RSS and time."""
    cmd = [sys.executable, __file__, "--child", str(paths)]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--config", args.config] if args.config else []
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(args) -> None:
    cfg = stress.load_config(_config(args))
    t0 = time.perf_counter()
    stress.run(cfg, paths=args.child)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": time.perf_counter() - t0, "peak_mb": peak}))


def _arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the scaled-down workload")
    ap.add_argument("--config", help="benchmark a config file instead")
    ap.add_argument("--paths", type=int, help="override the workload's path count")
    ap.add_argument("--ref-paths", type=int, default=256, help="paths for the numpy engine")
    ap.add_argument("--memory", action="store_true", help="peak memory at 10k vs 100k paths")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    return ap.parse_args()


def _whole_run(cfg, plan, n_paths: int):
    """The whole run, timed after a small one has compiled everything."""
    layout, grid = plan.layout, plan.grid
    print(
        f"workload: {len(layout.books) // len(cfg.modes):,} portfolios x {len(cfg.modes)} modes "
        f"({layout.n_books:,} books, {layout.n_buckets:,} buckets, "
        f"{layout.pos_qty.shape[0]:,} positions), "
        f"{n_paths:,} paths x {grid.n_steps + 1:,} steps x {len(cfg.model.assets)} assets"
    )
    stress.run(cfg, paths=256)  # compile everything outside the timings
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        res = stress.run(cfg, paths=n_paths)
        times.append(time.perf_counter() - t0)
    t_run = sorted(times)[len(times) // 2]
    each = ", ".join(f"{t:.2f}" for t in times)
    print(f"whole run (paths, engine, metrics, verdicts): median {t_run:.2f} s wall ({each} s)")
    return res, t_run


def _against_numpy(cfg, plan, m: int):
    """The engine and the plain numpy engine on the same m paths, timed in this process."""
    layout, rules, grid = plan.layout, plan.rules, plan.grid
    chunk = next(iter_price_chunks(plan.spec, grid, cfg.seed, m, 256 * math.ceil(m / 256)))
    prices = chunk[1][:m]
    mark_chunk(layout, rules, prices[:4])
    t0 = time.perf_counter()
    fast = mark_chunk(layout, rules, prices)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = mark_buckets_numpy(layout, rules, prices)
    t_ref = time.perf_counter() - t0
    work = m * (grid.n_steps + 1) * layout.pos_qty.shape[0]
    print(f"engine on {m} paths:       {t_fast:8.3f} s  {work / t_fast:16,.0f} position-steps/s")
    print(f"numpy engine on {m} paths: {t_ref:8.3f} s  {work / t_ref:16,.0f} position-steps/s")
    print(f"ratio engine / numpy: {t_ref / t_fast:,.1f}x")
    identical = all(np.array_equal(a, b) for a, b in zip(fast, ref, strict=True))
    print(f"engine and numpy engine identical on the shared {m} paths: {identical}")
    return ref


def _agreement(layout, ref, res, m: int, n_paths: int) -> None:
    """The numpy engine's P(liquidation) per book against the full run's, in standard errors."""
    ref_book = np.logical_or.reduceat(ref[0] >= 0, layout.book_first_bucket, axis=1).mean(axis=0)
    run_book = np.array([mm["p_liquidation"] for mm in res.metrics])
    se = np.sqrt(np.maximum(run_book * (1 - run_book), 1.0 / m) / m)
    z = np.abs(ref_book - run_book) / se
    print(
        f"numpy engine ({m} paths) vs full run ({n_paths:,} paths), P(liquidation) per book: "
        f"max |z| = {z.max():.2f}, {int((z > 4).sum())} of {len(z)} books beyond 4 SE"
    )


def main() -> None:
    args = _arguments()
    if args.child:
        return _child(args)
    cfg = stress.load_config(_config(args))
    n_paths = args.paths or cfg.simulation.paths
    plan = prepare(cfg)
    res, t_run = _whole_run(cfg, plan, n_paths)
    ref = _against_numpy(cfg, plan, args.ref_paths)
    n_pos = plan.layout.pos_qty.shape[0]
    print(
        f"engine throughput in the whole run: "
        f"{n_paths * (plan.grid.n_steps + 1) * n_pos / t_run:,.0f} "
        "position-steps/s (everything included)"
    )
    _agreement(plan.layout, ref, res, args.ref_paths, n_paths)
    if args.memory:
        for n in (10_000, 100_000):
            r = _peak_rss_child(args, n)
            print(f"peak memory at {n:,} paths: {r['peak_mb']:,.0f} MB ({r['seconds']:.1f} s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"this process's peak memory: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
