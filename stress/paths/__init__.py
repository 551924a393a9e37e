"""Price-path generators: correlated GBM, Merton jump diffusion, multivariate Student-t and the
block bootstrap of history (replay windows are cut in `stress.history.windows`)."""

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
