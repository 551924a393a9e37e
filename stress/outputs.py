"""Writing a run's files: all of them or none.

Everything is rendered in memory first, then written to temporary files in the output folder
and renamed into place only when every file was written, so a failure leaves no half-written
or mixed-up outputs behind.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from stress.report.html import render_report
from stress.run import RunResult

OUTPUT_FILES = ("summary.json", "results.parquet", "report.html")
PER_PATH_FILE = "paths.parquet"
"""Written beside them with `stress run --per-path` (see `stress.per_path`)."""


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def jsonable(obj: Any) -> Any:
    """Plain JSON: NaN/inf become null (JSON has no spelling for them)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item"):  # numpy scalars
        return jsonable(obj.item())
    return obj


def summary_json(result: RunResult, summary: dict[str, Any] | None = None) -> str:
    data = result.to_dict() if summary is None else summary
    return json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n"


def results_parquet(result: RunResult) -> bytes:
    return _parquet(result.summary)


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, engine="pyarrow")
    return buf.getvalue()


def write_outputs(
    result: RunResult,
    out_dir: str | Path,
    summary: dict[str, Any] | None = None,
    per_path: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write summary.json, results.parquet and report.html into `out_dir` atomically.

    `summary` is the run's `to_dict()` if the caller already has it; `per_path` (the run's
    `per_path()` table) adds paths.parquet to the files written together.
    """
    out_dir = Path(out_dir)
    summary = result.to_dict() if summary is None else summary
    blobs = {
        "summary.json": summary_json(result, summary).encode("utf-8"),
        "results.parquet": results_parquet(result),
        "report.html": render_report(result, summary).encode("utf-8"),
    }
    if per_path is not None:
        blobs[PER_PATH_FILE] = _parquet(per_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    temps: dict[str, str] = {}
    try:
        for name, data in blobs.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            temps[name] = tmp
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are ordinary files
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for name, tmp in temps.items():
            os.replace(tmp, out_dir / name)
    finally:
        for tmp in temps.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
    return {name: out_dir / name for name in blobs}
