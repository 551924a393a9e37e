"""Writing a run's files: all of them or none, and a manifest that says which.

Everything is rendered in memory first and written to hidden temporary files in the output
folder. Only then, with SIGINT and SIGTERM deferred (renames are quick), the previous run's
files are set aside, the new ones renamed into place and ``manifest.json`` renamed in last; if
any rename fails, the new files are removed and the previous ones put back. A folder whose
``manifest.json`` is present and lists each file with its size and SHA-256 holds one complete
run (`verify_outputs` checks it); without one it holds none, or a set cut short by a crash.

Publishing in place, with a manifest, rather than renaming a whole new folder over the old
one, because the output folder may hold the user's own files, which are never moved.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from stress.errors import ConfigError
from stress.output.files import (
    PROBE,
    OutputFolder,
    deferred_signals,
    held_folder,
    new_tag,
    remove_leftovers,
    remove_quietly,
    stage,
    sync_folder,
    temp_name,
)
from stress.output.report.html import render_report
from stress.pipeline.result import RunResult
from stress.version import __version__

DATA_FILES = ("summary.json", "results.parquet", "report.html")
PER_PATH_FILE = "paths.parquet"
"""Written beside them with `stress run --per-path` (see `stress.pipeline.per_path`)."""
MANIFEST_FILE = "manifest.json"
"""Written last: its presence, with matching sizes and checksums, marks a complete run."""
OUTPUT_FILES = (*DATA_FILES, MANIFEST_FILE)
"""What a run leaves in its folder (with ``--per-path`` also paths.parquet)."""
KNOWN_FILES = (*OUTPUT_FILES, PER_PATH_FILE)
MANIFEST_FORMAT = "stress-outputs/1"


def output_names(per_path: bool = False) -> list[str]:
    """The names a run writes into its folder, manifest last."""
    return [*DATA_FILES, *([PER_PATH_FILE] if per_path else []), MANIFEST_FILE]


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


def json_text(obj: Any) -> str:
    """Indented plain JSON (see `jsonable`), ending with a newline."""
    return json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n"


def summary_json(result: RunResult, summary: dict[str, Any] | None = None) -> str:
    return json_text(result.to_dict() if summary is None else summary)


def results_parquet(result: RunResult) -> bytes:
    return _parquet(result.summary)


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, engine="pyarrow")
    return buf.getvalue()


def manifest_json(blobs: dict[str, bytes], summary: dict[str, Any]) -> bytes:
    """The manifest of a run's files: who wrote them, when, and each file's size and SHA-256."""
    data = {
        "format": MANIFEST_FORMAT,
        "run_id": uuid.uuid4().hex,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stress_version": __version__,
        "name": summary.get("name"),
        "seed": summary.get("seed"),
        "paths": summary.get("paths"),
        "files": [
            {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in blobs.items()
        ],
    }
    return json_text(data).encode("utf-8")


def check_output_names(out_dir: Path, names: list[str], label: str) -> None:
    """Refuse a folder where one of ``names`` is something other than a file we may replace.

    Raises
    ------
    ConfigError
        A folder, symbolic link or special file by one of those names is in the way.
    """
    for name in names:
        path = out_dir / name
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(f"{label}: cannot look at {path}: {exc.strerror}") from None
        if stat.S_ISREG(mode):
            continue
        kind = "a folder" if stat.S_ISDIR(mode) else "a special file"
        kind = "a symbolic link" if stat.S_ISLNK(mode) else kind
        raise ConfigError(
            f"{label}: expected a file or nothing at {path}, got {kind}; move it away"
        )


def write_outputs(
    result: RunResult,
    out_dir: str | Path,
    summary: dict[str, Any] | None = None,
    per_path: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write summary.json, results.parquet, report.html and manifest.json into `out_dir`.

    The files are published as one unit (see the module docstring): afterwards `out_dir`
    holds all of this run's files, or, after a failure or an interruption before publishing,
    exactly what it held before. The folder is created if need be (and removed again on
    failure) and locked against a concurrent run for the duration, unless this process holds
    it already (`stress.output.files.OutputFolder`, as ``stress run`` does from before simulating).
    Other files in `out_dir` are left alone, except a paths.parquet listed in the previous
    manifest when this run writes none (it belongs to the previous run).

    Parameters
    ----------
    result : RunResult
    out_dir : str or Path
    summary : dict, optional
        The run's `to_dict()`, if the caller already has it.
    per_path : DataFrame, optional
        The run's `per_path()` table: adds paths.parquet to the files published together.

    Returns
    -------
    dict of str to Path
        Every file written, by name; manifest.json last.

    Raises
    ------
    ConfigError
        A folder or link named like an output is in the way, `out_dir` cannot be created or
        written, or another run holds it.
    OSError
        Writing failed (a full disk, say); the previous files are back in place.
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
    blobs[MANIFEST_FILE] = manifest_json(blobs, summary)
    held = held_folder(out_dir)
    with contextlib.nullcontext(held) if held else OutputFolder(out_dir, "out_dir") as folder:
        check_output_names(out_dir, list(blobs), folder.label)
        _stage_and_publish(folder, blobs)
    return {name: out_dir / name for name in blobs}


def _stage_and_publish(folder: OutputFolder, blobs: dict[str, bytes]) -> None:
    """Write every file beside its final name, then publish them; no temporary survives."""
    tag = new_tag()
    temps = {name: folder.path / temp_name(name, tag) for name in blobs}
    remove_leftovers(folder.path, (*KNOWN_FILES, PROBE))  # of a run killed outright
    try:
        for name, data in blobs.items():
            stage(temps[name], data)
        stale = _previous_files(folder.path) - set(blobs)
        with deferred_signals():
            _publish(folder.path, temps, sorted(stale), tag)
            folder.published = True
    finally:
        with deferred_signals():
            for tmp in temps.values():
                remove_quietly(tmp)


def _previous_files(out_dir: Path) -> set[str]:
    """The data files the current manifest lists: the previous run's, which are ours."""
    try:
        manifest = json.loads((out_dir / MANIFEST_FILE).read_bytes())
        listed = {entry["name"] for entry in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    ours = listed & {*DATA_FILES, PER_PATH_FILE}
    # only files: anything else by that name was put there since, and is not ours to move
    return {name for name in ours if stat.S_ISREG(_lstat_mode(out_dir / name))}


def _lstat_mode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def _publish(out_dir: Path, temps: dict[str, Path], stale: list[str], tag: str) -> None:
    """Set the previous files aside, rename the new ones in (manifest last), drop the old.

    The previous manifest goes first, so from then until the new one lands the folder does
    not claim to be complete. On a failure everything is put back as it was.
    """
    order = [MANIFEST_FILE, *(name for name in temps if name != MANIFEST_FILE), *stale]
    aside: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for name in order:
            target = out_dir / name
            if os.path.lexists(target):
                backup = out_dir / temp_name(name, tag, "old")
                os.replace(target, backup)
                aside.append((target, backup))
        for name, tmp in temps.items():  # manifest.json is the last of them
            os.replace(tmp, out_dir / name)
            placed.append(out_dir / name)
        sync_folder(out_dir)
    except BaseException:
        _put_back(placed, aside)
        raise
    for _, backup in aside:
        remove_quietly(backup)


def _put_back(placed: list[Path], aside: list[tuple[Path, Path]]) -> None:
    """Undo a publication cut short: remove the new files, return the previous ones."""
    complete = True
    for path in placed:
        complete &= _quietly(os.unlink, path)
    for target, backup in reversed(aside):  # the previous manifest comes back last
        if target.name == MANIFEST_FILE and not complete:
            _quietly(os.unlink, backup)  # it would vouch for files that are not all back
        else:
            complete &= _quietly(os.replace, backup, target)


def _quietly(step: Any, *paths: Path) -> bool:
    """Run one file operation of an undo; whether it worked (the undo goes on regardless)."""
    try:
        step(*paths)
    except OSError:
        return False
    return True


def verify_outputs(out_dir: str | Path) -> list[str]:
    """What is wrong with the run in `out_dir`: an empty list when it is complete.

    Complete means: manifest.json is there and every file it lists has the listed size and
    SHA-256, so all of them come from the same run.
    """
    out_dir = Path(out_dir)
    path = out_dir / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_bytes())
        files = manifest["files"]
    except FileNotFoundError:
        return [f"{path}: missing: no complete run in {out_dir}"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{path}: unreadable: {exc}"]
    if not isinstance(files, list) or not files:
        return [f"{path}: unreadable: expected a list of the run's files, got {files!r:.60}"]
    problems = []
    listed = set()
    for entry in files:
        try:
            name, size, digest = entry["name"], entry["bytes"], entry["sha256"]
        except (KeyError, TypeError):
            problems.append(f"{path}: unreadable entry {entry!r:.60}")
            continue
        if name not in KNOWN_FILES:  # never read a file outside the run's own names
            problems.append(f"{path}: lists {name!r:.60}, not a file stress writes")
            continue
        listed.add(name)
        file = out_dir / name
        try:
            data = file.read_bytes()
        except OSError as exc:
            problems.append(f"{file}: {exc.strerror}")
            continue
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            problems.append(f"{file}: not the file the manifest lists (another run's, or cut)")
    problems += [f"{path}: does not list {n}" for n in DATA_FILES if n not in listed]
    return problems
