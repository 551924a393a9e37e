"""Out-of-sample honesty: models fitted to 2018-2021 against the 2022-2023 replay.

Nothing here says a model is good: the test checks that the table is computed and sane, so that
the table in the README is what this code prints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import DATA

from stress.history.prices import read_prices
from stress.pipeline.out_of_sample import MODELS, book_names, format_table, out_of_sample_table

# the shipped history, wherever the tests run from (the package may be installed elsewhere)
BTC_FILE = DATA / "binance_spot_BTCUSDT_1h.csv.gz"


def expected_windows() -> int:
    """Midnights of 2022-2023 whose next midnight still has a price (a close at bar end)."""
    h = read_prices(BTC_FILE)
    price_times = pd.to_datetime(h.times, utc=True) + pd.Timedelta(hours=1)
    last = price_times.max()
    days = pd.date_range("2022-01-01", "2023-12-31", freq="D", tz="UTC")
    return int(np.sum(days + pd.Timedelta(days=1) <= last))


def test_out_of_sample_table_is_sane():
    table = out_of_sample_table(btc_file=BTC_FILE, paths=4096)
    assert list(table.index) == [*MODELS, "realised"]
    probs = table[book_names()].to_numpy()
    assert np.isfinite(probs).all() and (probs >= 0).all() and (probs <= 1).all()
    assert table.loc["realised", "n"] == expected_windows() == 728
    assert (table.loc[list(MODELS), "n"] == 4096).all()
    for side in ("long", "short"):
        cols = [c for c in book_names() if c.startswith(side)]
        # same paths (windows) for every leverage: more leverage never liquidates less
        assert (np.diff(table[cols].to_numpy(), axis=1) >= 0).all(), table[cols]
    text = format_table(table)
    assert text.count("\n") == len(table) + 1 and "realised" in text
