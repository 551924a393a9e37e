"""Out-of-sample check: do models fitted to 2018-2021 predict 2022-2023 liquidations?

Each model (gbm, merton, student_t fitted by `stress.calibrate`; bootstrap resampling the same
history) is fitted to hourly BTC of 2018-2021 and predicts the one-day liquidation frequency of
an isolated BTC long and short at 10x, 25x and 50x (Binance BTCUSDT brackets, no funding, a
10,000 USDT position, hourly marks). The realised frequency is a replay of every one-day window
of 2022-2023 (each midnight UTC) through the same positions, on hourly closes too, so both
sides see the market at the same resolution.

``python -m stress.pipeline.out_of_sample [--paths N] [--history FILE]``, run from the repository
root (where the
shipped ``data/`` is), prints the table. Nothing here is tuned to the answer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from stress.history.calibrate import calibrate
from stress.pipeline.simulate import run

BTC_FILE = Path("data") / "binance_spot_BTCUSDT_1h.csv.gz"
"""The shipped hourly BTC history, relative to the repository root (where to run this from)."""
TRAIN = ("2018-01-01", "2021-12-31")
TEST = ("2022-01-01", "2023-12-31")
LEVERAGES = (10, 25, 50)
SIDES = ("long", "short")
NOTIONAL = 10_000.0
BTC_TIERS = [  # Binance BTCUSDT brackets, as in configs/btc_eth_hedge.yaml
    {"max_notional": 50_000, "max_leverage": 125, "mmr": 0.004},
    {"max_notional": 250_000, "max_leverage": 100, "mmr": 0.005},
    {"max_notional": 1_000_000, "max_leverage": 50, "mmr": 0.01},
    {"max_notional": 10_000_000, "max_leverage": 20, "mmr": 0.025},
]
MODELS = ("gbm", "merton", "student_t", "bootstrap")


def book_names() -> list[str]:
    """Portfolio names in table order: long-10x, long-25x, ..., short-50x."""
    return [f"{side}-{lev}x" for side in SIDES for lev in LEVERAGES]


def _config(name: str, model: dict, paths: int | None, seed: int) -> dict:
    simulation = {"horizon_days": 1, "steps_per_day": 24}
    if paths is not None:
        simulation["paths"] = paths
    return {
        "name": name,
        "seed": seed,
        "simulation": simulation,
        "model": model,
        "exchange": {
            "liquidation_fee": 0.005,
            "funding": {"rate": 0.0},
            "markets": {"BTC": {"tiers": BTC_TIERS}},
        },
        "portfolios": [
            {
                "name": f"{side}-{lev}x",
                "account": {"wallet": NOTIONAL},
                "positions": [
                    {
                        "asset": "BTC",
                        "side": side,
                        "notional": NOTIONAL,
                        "leverage": float(lev),
                        "margin_mode": "isolated",
                    }
                ],
            }
            for side in SIDES
            for lev in LEVERAGES
        ],
        "modes": ["isolated"],
    }


def model_blocks(btc_file: Path = BTC_FILE) -> dict[str, dict]:
    """The ``model:`` block of every model, fitted to (or drawn from) the training years."""
    blocks = {
        kind: calibrate([btc_file], model=kind, since=TRAIN[0], until=TRAIN[1])["model"]
        for kind in MODELS
        if kind != "bootstrap"
    }
    blocks["bootstrap"] = {
        "type": "bootstrap",
        "history": [str(btc_file)],
        "since": TRAIN[0],
        "until": TRAIN[1],
        "block_hours": 24,
    }
    return blocks


def _row(cfg: dict) -> tuple[dict[str, float], int]:
    res = run(cfg)
    frame = res.summary.set_index("portfolio")
    return {name: float(frame.loc[name, "p_liquidation"]) for name in book_names()}, res.paths


def out_of_sample_table(
    btc_file: Path = BTC_FILE, paths: int = 20_000, seed: int = 11
) -> pd.DataFrame:
    """Predicted (per model) and realised one-day liquidation frequencies.

    Returns
    -------
    DataFrame
        One row per model plus ``realised`` (the 2022-2023 replay), one column per position
        (:func:`book_names`), and ``n``: paths simulated, or windows replayed.
    """
    rows, counts = {}, {}
    for kind, block in model_blocks(btc_file).items():
        rows[kind], counts[kind] = _row(_config(f"oos-{kind}", block, paths, seed))
    replay = {
        "type": "replay",
        "history": [str(btc_file)],
        "since": TEST[0],
        "until": TEST[1],
        "stride_hours": 24,
    }
    rows["realised"], counts["realised"] = _row(_config("oos-replay", replay, None, seed))
    table = pd.DataFrame.from_dict(rows, orient="index")[book_names()]
    table["n"] = pd.Series(counts)
    return table


def format_table(table: pd.DataFrame) -> str:
    """The table as Markdown, frequencies in percent."""
    head = "| model | " + " | ".join(book_names()) + " | n |"
    rule = "|---" * (len(book_names()) + 2) + "|"
    lines = [head, rule]
    for kind, row in table.iterrows():
        cells = " | ".join(f"{100 * row[c]:.1f} %" for c in book_names())
        lines.append(f"| {kind} | {cells} | {int(row['n']):,} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    summary = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(
        prog="python -m stress.pipeline.out_of_sample", description=summary
    )
    parser.add_argument("--paths", type=int, default=20_000, help="Monte Carlo paths per model")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--history", type=Path, default=BTC_FILE, help=f"hourly BTC prices (default {BTC_FILE})"
    )
    args = parser.parse_args(argv)
    table = out_of_sample_table(btc_file=args.history, paths=args.paths, seed=args.seed)
    print(format_table(table))


if __name__ == "__main__":
    main()
