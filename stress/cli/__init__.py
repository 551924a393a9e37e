"""The `stress` command: parse, call the pipeline, print.

`common` holds the typer app, shared options and `main`; each module registers its commands on
import, in the order `stress --help` lists them: `simulation` (run, compare), `optimise`,
`describe` (liqprice, validate, venues), `calibrate`, `backtest` and `account` (import).
"""

import importlib

from stress.cli.common import app, main

COMMAND_MODULES = ("simulation", "optimise", "describe", "calibrate", "backtest", "account")

for _name in COMMAND_MODULES:
    importlib.import_module(f"stress.cli.{_name}")

__all__ = ["app", "main"]
