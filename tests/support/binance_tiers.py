"""Binance's tier tables of 2021, shared by the tier tests (tests/venues/test_rules_tiers.py) and
the liquidation-price tests (tests/margin/test_rules_liquidation.py).

"The FAQ" is Binance's "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"; its
worked example is computed on these tables. The tests derive every other figure by hand and
compare to REL relative.
"""

from __future__ import annotations

import math

from stress.venues.tiers import TierTable

REL = 1e-6

# BTCUSDT brackets in 2021, the table the FAQ example was computed with: (cap, mmr, leverage,
# maintenance amount). The amounts are Binance's published "cum" values; 50 and 1,300 are also
# worked out in the FAQ text ("250,000 * (1% - 0.5%) + 50 = 1,300"), 16,300 appears in the
# example.
BTC_2021 = [
    (50_000, 0.004, 125, 0),
    (250_000, 0.005, 100, 50),
    (1_000_000, 0.01, 50, 1_300),
    (10_000_000, 0.025, 20, 16_300),
    (20_000_000, 0.05, 10, 266_300),
    (50_000_000, 0.10, 5, 1_266_300),
    (100_000_000, 0.125, 4, 2_516_300),
    (200_000_000, 0.15, 3, 5_016_300),
    (300_000_000, 0.25, 2, 25_016_300),
    (500_000_000, 0.50, 1, 100_016_300),
]
# ETHUSDT brackets of the same period (135,365 at 10 % appears in the FAQ example).
ETH_2021 = [
    (10_000, 0.005, 100, 0),
    (100_000, 0.0065, 75, 15),
    (500_000, 0.01, 50, 365),
    (1_000_000, 0.02, 25, 5_365),
    (2_000_000, 0.05, 10, 35_365),
    (5_000_000, 0.10, 5, 135_365),
    (10_000_000, 0.125, 4, 260_365),
    (20_000_000, 0.15, 3, 510_365),
    (math.inf, 0.25, 2, 2_510_365),
]
# The first BTCUSDT brackets as listed today: 0-50k 0.4 %, 50k-600k 0.5 %, 600k-3M 1 %.
BTC_NOW_HEAD = [
    (50_000, 0.004, 125, 0),
    (600_000, 0.005, 100, 50),
    (3_000_000, 0.01, 75, 3_050),
]


def derived(rows) -> TierTable:
    caps, mmrs, levs, _ = zip(*rows, strict=True)
    return TierTable.build(caps, mmrs, levs)


def published(rows) -> TierTable:
    caps, mmrs, levs, amounts = zip(*rows, strict=True)
    return TierTable.build(caps, mmrs, levs, amounts=amounts)


BTC = derived(BTC_2021)
ETH = derived(ETH_2021)
FLAT = TierTable.flat(0.005, 100)
