"""What a run costs next to the random numbers it needs, and what the first run compiles.

    python benchmarks/bench_generation.py                       # configs/btc_eth_hedge.yaml
    python benchmarks/bench_generation.py --config CONFIG.yaml  # a GBM config of your own
    python benchmarks/bench_generation.py --compile             # also the first run's compile

It prints what it measured, in this process, best of `--repeat` runs each:
1. numpy drawing the run's standard normals (paths x steps x assets), block by block from the
   blocks' own generators as the run draws them, into one reused buffer: the floor;
2. generating the run's prices alone (`stress.paths.iter_price_chunks`);
3. the whole run (`stress.run`: paths, engine, metrics, verdicts);
and the ratios of 2 and 3 to 1. With --compile, it runs the config at 256 paths in two fresh
processes, one with numba's on-disk cache off (`STRESS_NUMBA_CACHE=0`: everything compiles, as
on a new installation's first run) and one with it warm, and prints both and their difference.
Timings 1-3 exclude compilation (a small run compiles everything first).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import stress
from stress.paths import iter_price_chunks
from stress.paths.generate import BLOCK_PATHS, block_rng
from stress.pipeline.prepare import prepare
from stress.threads import thread_count

ROOT = Path(__file__).resolve().parent.parent


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _draw_normals(seed: int, n_paths: int, n_steps: int, n_assets: int) -> None:
    buf = np.empty((BLOCK_PATHS, n_steps, n_assets))
    for k in range(-(-n_paths // BLOCK_PATHS)):
        block_rng(seed, k).standard_normal(out=buf)


def _generate(plan) -> None:
    for _ in iter_price_chunks(plan.spec, plan.grid, plan.seed, plan.paths, plan.chunk_paths):
        pass


def _first_run(config: str, cache: bool) -> float:
    code = (
        "import sys, time; t0 = time.perf_counter(); import stress; "
        f"stress.run(stress.load_config({config!r}), paths=256); "
        "print(time.perf_counter() - t0)"
    )
    env = dict(os.environ, STRESS_NUMBA_CACHE="1" if cache else "0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr.strip().splitlines()[-1])
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "btc_eth_hedge.yaml"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time a first run's compile")
    args = ap.parse_args()
    cfg = stress.load_config(args.config)
    plan = prepare(cfg)
    if plan.spec.kind != "gbm":
        raise SystemExit(f"{args.config}: model type {plan.spec.kind}, this measures gbm only")
    n_paths, n_steps, n_assets = plan.paths, plan.grid.n_steps, plan.spec.n_assets
    print(
        f"{args.config}: {n_paths:,} paths x {n_steps:,} steps x {n_assets} assets = "
        f"{n_paths * n_steps * n_assets:,} normals; {thread_count()} threads"
    )
    stress.run(cfg, paths=512)  # compile everything outside the timings
    draws = _best(lambda: _draw_normals(plan.seed, n_paths, n_steps, n_assets), args.repeat)
    gen = _best(lambda: _generate(plan), args.repeat)
    run = _best(lambda: stress.run(cfg), args.repeat)
    print(f"numpy draws the normals (one thread): {draws:7.3f} s")
    print(f"prices generated:                     {gen:7.3f} s  = {gen / draws:5.2f}x the draws")
    print(f"whole run:                            {run:7.3f} s  = {run / draws:5.2f}x the draws")
    if args.compile:
        cold = _first_run(args.config, cache=False)
        warm = _first_run(args.config, cache=True)
        print(
            f"first run at 256 paths in a fresh process: {cold:.1f} s compiling everything, "
            f"{warm:.1f} s with the cache warm: {cold - warm:.1f} s of compilation"
        )


if __name__ == "__main__":
    main()
