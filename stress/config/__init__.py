"""The user's file -> a typed, field-checked `Config`; no other I/O.

`read` parses YAML/TOML safely, `schema` declares the fields and their domains, `checks` the
rules between fields, `load` puts them together. Names are re-exported here for convenience.
"""

from stress.config.load import load_config, parse_config
from stress.config.schema import (
    HISTORY_MODELS,
    MAX_PORTFOLIOS,
    MODES,
    PARAMETRIC_MODELS,
    Account,
    Asset,
    Config,
    Market,
    Model,
    Position,
    Scenario,
    Shock,
)

__all__ = [
    "HISTORY_MODELS",
    "MAX_PORTFOLIOS",
    "MODES",
    "PARAMETRIC_MODELS",
    "Account",
    "Asset",
    "Config",
    "Market",
    "Model",
    "Position",
    "Scenario",
    "Shock",
    "load_config",
    "parse_config",
]
