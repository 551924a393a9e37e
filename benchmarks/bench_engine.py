"""Throughput of path generation and of the margin engine on a config's workload.

    python benchmarks/bench_engine.py [CONFIG] [--paths N] [--repeat R]

Prints what it measured: wall time of path generation and of the engine (compiled kernels,
excluding the first call's compilation), and the engine's throughput in
position-steps per second = paths x (steps + 1) x positions-over-all-books / seconds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import stress
from stress.margin.engine import evaluate
from stress.paths import iter_price_chunks
from stress.run import model_spec, prepare

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("config", nargs="?", default=str(ROOT / "configs" / "btc_eth_hedge.yaml"))
    ap.add_argument("--paths", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    cfg = stress.load_config(args.config)
    n_paths = args.paths or cfg.simulation.paths
    _, layout, rules, grid = prepare(cfg)
    spec = model_spec(cfg)

    t0 = time.perf_counter()
    chunks = list(iter_price_chunks(spec, grid, cfg.seed, n_paths))
    t_gen = time.perf_counter() - t0

    evaluate(layout, rules, chunks[:1], chunks[0][1].shape[0])  # compile outside the timing
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        evaluate(layout, rules, chunks, n_paths)
        times.append(time.perf_counter() - t0)
    t_eng = float(np.median(times))
    n_pos = layout.pos_qty.shape[0]
    work = n_paths * (grid.n_steps + 1) * n_pos
    print(f"config           {args.config}")
    print(
        f"workload         {n_paths:,} paths x {grid.n_steps + 1:,} steps x {n_pos} positions "
        f"({layout.n_books} books, {layout.n_buckets} buckets, {spec.n_assets} assets)"
    )
    print(f"path generation  {t_gen:.3f} s ({n_paths * grid.n_steps / t_gen:,.0f} path-steps/s)")
    print(f"engine (median of {args.repeat})  {t_eng:.3f} s  {work / t_eng:,.0f} position-steps/s")
    print("note: the engine stops marking a bucket at its liquidation, so the effective work")
    print("      depends on how many buckets liquidate and when; the figure counts full paths.")


if __name__ == "__main__":
    main()
