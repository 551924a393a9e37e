"""Stored summaries of every example config: what a refactoring must not change.

Each example in `configs/` is run with a fixed number of paths (512; a replay runs its own
windows) and its summary.json, without `run_info` (version and timings), is stored in
`tests/support/expected/<config>.json.gz` in a canonical form: keys sorted, every float rounded
to 12 significant digits, so that a change in the last bit of a sum (another CPU's vector width)
does not count as a change of behaviour while any real one does. A config with many
portfolios (the sweep) keeps the first FULL in full and a SHA-256 of each other one's canonical
JSON, so the stored file stays small while every number is still covered.

    python tests/support/expected_summaries.py    # rewrite the stored files (after a change
                                                  # of behaviour that is meant, and say so)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STORE = Path(__file__).resolve().parent / "expected"
PATHS = 512
DIGITS = 12
FULL = 5


def canonical(obj: Any) -> Any:
    """Floats to DIGITS significant digits and file names relative to the checkout, recursively.

    A history file is named by its absolute path in summary.json; the stored form writes the
    checkout's root as `<repo>`, so the comparison holds wherever the project is checked out.
    """
    if isinstance(obj, str) and obj.startswith(str(ROOT) + "/"):
        return "<repo>/" + obj[len(str(ROOT)) + 1 :]
    if isinstance(obj, dict):
        return {k: canonical(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [canonical(v) for v in obj]
    if isinstance(obj, float) and math.isfinite(obj) and obj != 0.0:
        return float(f"{obj:.{DIGITS - 1}e}")
    return obj


def summary_of(config: Path) -> Any:
    """The canonical summary of one example config."""
    import stress
    from stress.output.publish import jsonable

    cfg = stress.load_config(config)
    paths = None if cfg.model.type == "replay" else PATHS
    data = jsonable(stress.run(cfg, paths=paths).to_dict())
    data.pop("run_info")
    return digested(canonical(data))


def digested(data: dict) -> dict:
    """Portfolios beyond the first FULL as {name, sha256 of their canonical JSON}."""
    for run in (data, *data.get("scenarios", [])):
        ports = run["portfolios"]
        run["portfolios"] = ports[:FULL] + [
            {"name": p["name"], "sha256": hashlib.sha256(_text(p).encode()).hexdigest()}
            for p in ports[FULL:]
        ]
    return data


def _text(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def stored_path(config: Path) -> Path:
    return STORE / f"{config.stem}.json.gz"


def load(config: Path) -> Any:
    with gzip.open(stored_path(config), "rt", encoding="utf-8") as fh:
        return json.load(fh)


def examples() -> list[Path]:
    return sorted((ROOT / "configs").glob("*.yaml"))


def main() -> None:
    STORE.mkdir(exist_ok=True)
    for config in examples():
        text = _text(summary_of(config))
        # mtime=0: the same summary always gives the same bytes, so git sees no change
        with gzip.GzipFile(stored_path(config), "wb", mtime=0) as fh:
            fh.write(text.encode("utf-8"))
        print(f"wrote {stored_path(config).relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
