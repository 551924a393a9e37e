"""Loading a config: one file (or mapping) -> a field-checked `Config`, and nothing else.

`load_config` reads YAML, TOML or a dict, validates it against the schema and runs the rules
between fields of `stress.config.checks`. It reads no other file and builds nothing: history
files, portfolios, sweeps and what a run would cost are `stress.pipeline.prepare`'s work. Every
failure is one `ConfigError` line: ``<source>: <field path>: <what was expected>, got <what was
found>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stress.config.checks import check_config
from stress.config.read import message, plain_data, read_file, short_repr, show_typed
from stress.config.schema import Config
from stress.errors import ConfigError


def parse_config(
    data: Any, source: str = "<config>", base_dir: Path | None = None, *, from_file: bool = False
) -> Config:
    """Validate a raw mapping against the schema and the rules between its fields.

    ``base_dir`` is the folder relative history paths (``model.history``) are read from:
    the config file's folder, or the working directory for a mapping. Data given in Python
    (``from_file`` false) is normalised first: tuples and numpy arrays become lists, numpy
    scalars Python numbers (`stress.config.read.plain_data`); file data is only checked against
    the same limits on nesting and number of values.
    """
    data = plain_data(data, source, convert=not from_file)
    if not isinstance(data, dict):
        found = "an empty file" if data is None else show_typed(data)
        raise ConfigError(f"{source}: (top level): expected a mapping of settings, got {found}")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = message(errors[0], Config)
        more = f"; and {len(errors) - 1} more problem{'s' * (len(errors) > 2)}"
        raise ConfigError(f"{source}: {first}{more if len(errors) > 1 else ''}") from None
    try:
        check_config(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    cfg._source = source
    cfg._base_dir = Path.cwd() if base_dir is None else base_dir
    return cfg


def load_config(source: str | Path | dict | Config) -> Config:
    """Read and validate a config from a YAML/TOML path, a mapping or a `Config`.

    Raises
    ------
    ConfigError
        One line naming the source, the field path and the problem.
    """
    if isinstance(source, Config):
        return source
    if isinstance(source, Mapping):
        return parse_config(source)
    if not isinstance(source, str | PathLike):
        raise ConfigError(
            f"expected a config file path, a mapping or a Config, got {short_repr(source)}"
        )
    path = Path(source)
    return parse_config(read_file(path), str(path), path.resolve().parent, from_file=True)
