"""Price-path generators: correlated GBM, Merton jump diffusion, multivariate Student-t, the
block bootstrap of history, and the conditional-volatility models fitted to history (GJR-GARCH,
filtered historical simulation, EWMA: `stress.paths.garch`); replay windows are cut in
`stress.paths.replay`."""

from stress.paths.correlation import correlation_factor
from stress.paths.generate import (
    BLOCK_PATHS,
    block_prices,
    chunk_paths_for,
    iter_price_chunks,
    simulate_prices,
)
from stress.paths.spec import ModelSpec, TimeGrid

__all__ = [
    "BLOCK_PATHS",
    "ModelSpec",
    "TimeGrid",
    "block_prices",
    "chunk_paths_for",
    "correlation_factor",
    "iter_price_chunks",
    "simulate_prices",
]
