"""The arrangement `stress optimise` chose, as a config to run (``-o best.yaml``).

The config as given with each position's hold (`OptimiseResult.best_config`), as YAML with a
header saying where it came from. Floats are written exactly (YAML's repr), so `stress run` on
the file with the search's seed and paths reproduces the pick's numbers bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from stress.errors import one_line
from stress.pipeline.optimise_result import OptimiseResult

SUFFIXES = (".yaml", ".yml")
"""What ``-o`` may be called: the file is YAML, and a config's format is told by its suffix."""


def best_yaml(result: OptimiseResult, target: Path) -> str | None:
    """The file's text (None when nothing fits); history files named relative to its folder."""
    data = result.best_config(Path(target).parent)
    if data is None:
        return None
    lines = [
        f"# chosen by stress optimise from {result.source}",
        f"# on {result.paths:,} paths, seed {result.seed}: {result.describe(result.best)}",
        "# rerun these numbers: stress run FILE --paths "
        f"{result.paths} --seed {result.seed} (the as_configured mode is the pick)",
    ]
    header = "".join(f"{one_line(line)}\n" for line in lines)
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True)
    return header + body
