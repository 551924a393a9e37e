"""The ranges of values `stress` accepts: those a real account and market can have.

Beyond them products of prices, sizes, rates and times overflow or lose all precision in
float64 (a 1e308 wallet makes the loss NaN), so the config refuses them with the field named,
instead of letting a kernel compute on infinities. Each bound is far outside anything traded:
the largest wallet is a trillion USDT, a price may lie between a billionth and a billion, a
year's volatility may reach 2,000 %.
"""

from __future__ import annotations

MAX_AMOUNT = 1e12
"""USDT: wallets, notionals, margins and maintenance amounts."""

MIN_PRICE = 1e-9
MAX_PRICE = 1e9
"""Mark and entry prices, in USDT per unit."""

MAX_QUANTITY = 1e18
"""Base units of one position (its notional is bounded by MAX_AMOUNT as well)."""

MAX_TIER_CAP = 1e15
"""The largest `max_notional` a tier table may state (its last tier goes on beyond it)."""

MAX_LEVERAGE = 1_000.0
MAX_VOL = 20.0
"""Annualised volatility (2,000 %)."""

MAX_DRIFT = 10.0
"""Annualised drift, in either direction."""

MAX_JUMP_INTENSITY = 1e6
"""Jumps per year (about two a minute)."""

MAX_JUMP_SIZE = 5.0
"""Mean and standard deviation of a log jump size (a factor of e^5 = 148)."""

MAX_DOF = 1e6
"""Student-t degrees of freedom (far beyond, the t is a normal)."""

MAX_FUNDING_RATE = 1.0
"""Funding per interval, in either direction (100 %)."""

MIN_FUNDING_INTERVAL_HOURS = 1.0 / 60.0
MAX_HOURS = 24.0 * 3_660.0
"""Intervals and scenario times: from a minute to ten years."""

MAX_HORIZON_DAYS = 3_660.0
MAX_STEPS_PER_DAY = 86_400
"""One mark a second."""

MAX_PATHS = 1_000_000_000
MAX_SHOCK_MOVE = 100.0
"""A scenario's price move: up to 100 times the price (and down to just above 0)."""

MAX_VOL_MULTIPLIER = 100.0

MAX_NAME = 100
"""Characters in a name (config, portfolio, scenario, asset, position id): it names folders and
columns, and a file system refuses a folder name past 255 bytes."""

MAX_SPREAD_BPS = 10_000.0
"""A market's bid-ask spread, in basis points (100 %)."""

MAX_IMPACT_K = 100.0
"""The square-root impact law's coefficient (of order 1 in the literature)."""

MIN_LIQUIDITY_MULTIPLIER = 1e-6
"""A scenario's depth multiplier: down to a millionth of the book (a crash took 98 %)."""

MAX_TIERS = 100
"""Tiers in one market's table."""

MAX_FILL_MULTIPLE = 100.0
"""How many maintenance margins from the mark a fillable-price close may fill."""

MAX_MARGIN_FRACTION = 100.0
"""A stop-loss's loss as a multiple of the position's margin (a cross position can lose more)."""

MAX_TOP_UPS = 10_000
"""Auto top-ups of one position."""

MAX_RUNGS = 100
"""Rungs of one reduce ladder."""
