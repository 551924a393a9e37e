"""Publishing a run's files as one unit, in process: failures, signals, places that cannot be used.

A run's files appear whole or not at all: a failure while they are renamed into place puts the
previous run's files back, a signal during the renames waits until they are done, and an output
folder that cannot be written is refused before any simulation, with one line naming the option.
"""

from __future__ import annotations

import array
import contextlib
import copy
import importlib
import json
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml
from support.bad_input import BASE
from support.factories import two_asset_config

import stress
from stress import cli
from stress.errors import ConfigError
from stress.output import files
from stress.output import publish as outputs
from stress.output.files import LOCK_FILE, OutputFolder, check_file_target, write_atomic

simulate_module = importlib.import_module("stress.pipeline.simulate")


@pytest.fixture(scope="module")
def runs():
    """Two small runs that differ, to tell one run's files from the other's."""
    return stress.run(two_asset_config(), paths=300), stress.run(
        two_asset_config(), paths=300, seed=9
    )


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old", ".lock"))]


# ---------------------------------------------------------------------------------------------
# A failure in the middle of publishing


def fail_on(monkeypatch, name: str, after: int = 0):
    """Make the rename of a new file (a .tmp) into ``name`` fail, ``after`` renames later."""
    real = os.replace
    seen = []

    def replace(src, dst, *args, **kwargs):
        if str(src).endswith(".tmp") and Path(dst).name == name:
            seen.append(dst)
            if len(seen) > after:
                raise OSError(28, "No space left on device", str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_a_failure_between_renames_puts_the_previous_run_back(runs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    outputs.write_outputs(runs[0], out)
    (out / "notes.txt").write_text("the user's own file\n")
    before = listing(out)
    fail_on(monkeypatch, "results.parquet")  # the second file: summary.json is already in
    with pytest.raises(OSError, match="No space left"):
        outputs.write_outputs(runs[1], out)
    monkeypatch.undo()
    assert listing(out) == before
    assert leftovers(out) == []
    assert outputs.verify_outputs(out) == []


def test_when_even_the_undo_fails_the_folder_says_it_is_incomplete(runs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    outputs.write_outputs(runs[0], out)
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        broken = str(src).endswith(".tmp") and Path(dst).name == "results.parquet"
        broken |= str(src).endswith(".old") and Path(dst).name == "summary.json"
        if broken:
            raise OSError(5, "Input/output error", str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError):
        outputs.write_outputs(runs[1], out)
    monkeypatch.undo()
    problems = outputs.verify_outputs(out)
    assert problems and "manifest.json: missing" in problems[0]
    assert not (out / LOCK_FILE).exists()


def test_a_failure_into_a_new_folder_leaves_no_folder(runs, tmp_path, monkeypatch):
    out = tmp_path / "new" / "out"
    fail_on(monkeypatch, "report.html")
    with pytest.raises(OSError):
        outputs.write_outputs(runs[0], out)
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------------------------------------
# Signals while publishing


class Terminated(Exception):
    pass


@contextlib.contextmanager
def sigterm_raises():
    def handler(signum, frame):
        raise Terminated()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def test_a_signal_while_renaming_waits_until_the_run_is_complete(runs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    outputs.write_outputs(runs[0], out)
    old_id = json.loads((out / "manifest.json").read_text())["run_id"]
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == "summary.json" and str(src).endswith(".tmp"):
            os.kill(os.getpid(), signal.SIGTERM)  # the first new file: mid-publication
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with sigterm_raises(), pytest.raises(Terminated):
        outputs.write_outputs(runs[1], out)
    monkeypatch.undo()
    assert outputs.verify_outputs(out) == []
    assert json.loads((out / "manifest.json").read_text())["run_id"] != old_id
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 9  # the second run's, whole
    assert leftovers(out) == []


def test_a_signal_while_staging_leaves_no_temporary_file(runs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = files.stage

    def stage(path, data):
        real(path, data)
        os.kill(os.getpid(), signal.SIGTERM)  # raised here, between two staged files

    monkeypatch.setattr(outputs, "stage", stage)
    with sigterm_raises(), pytest.raises(Terminated):
        outputs.write_outputs(runs[0], out)
    assert not out.exists()  # created for the run, removed with it


def test_a_signal_while_taking_the_folder_leaves_nothing_held(tmp_path, monkeypatch):
    real = OutputFolder._lock

    def lock(self):
        fd = real(self)
        os.kill(os.getpid(), signal.SIGTERM)  # deferred: acted on at the end of __enter__
        return fd

    monkeypatch.setattr(OutputFolder, "_lock", lock)
    with sigterm_raises(), pytest.raises(Terminated):
        with OutputFolder(tmp_path / "new" / "out", "--out"):
            raise AssertionError("entered")
    assert list(tmp_path.iterdir()) == []
    assert files._HELD == {}


# ---------------------------------------------------------------------------------------------
# What the manifest vouches for


def test_the_manifest_tells_a_complete_run_from_a_mixed_one(runs, tmp_path):
    out = tmp_path / "out"
    written = outputs.write_outputs(runs[0], out)
    assert list(written) == [*outputs.DATA_FILES, "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [f["name"] for f in manifest["files"]] == list(outputs.DATA_FILES)
    assert manifest["stress_version"] == stress.__version__
    assert outputs.verify_outputs(out) == []
    other = tmp_path / "other"
    outputs.write_outputs(runs[1], other)
    (out / "report.html").write_bytes((other / "report.html").read_bytes())
    assert outputs.verify_outputs(out) == [
        f"{out / 'report.html'}: not the file the manifest lists (another run's, or cut)"
    ]
    (out / "manifest.json").unlink()
    assert "missing" in outputs.verify_outputs(out)[0]


def test_a_previous_runs_paths_parquet_goes_with_it(runs, tmp_path):
    out = tmp_path / "out"
    outputs.write_outputs(runs[0], out, per_path=runs[0].per_path())
    assert (out / "paths.parquet").is_file()
    outputs.write_outputs(runs[1], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(outputs.OUTPUT_FILES)


def test_leftovers_of_a_killed_run_are_removed_and_nothing_else(runs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    killed = [".summary.json.0123456789ab.tmp", ".report.html.0123456789ab.old"]
    mine = [".notes.0123456789ab.tmp", ".summary.json.backup.tmp", "summary.json.old"]
    for name in killed + mine:
        (out / name).write_text("x")
    outputs.write_outputs(runs[0], out)
    assert sorted(p.name for p in out.iterdir()) == sorted([*mine, *outputs.OUTPUT_FILES])


def test_a_folder_in_the_way_is_refused_before_writing(runs, tmp_path):
    out = tmp_path / "out"
    (out / "report.html").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"out_dir: expected a file or nothing at .*report.html"):
        outputs.write_outputs(runs[0], out)
    assert [p.name for p in out.iterdir()] == ["report.html"]


def test_a_held_folder_cannot_be_held_twice(tmp_path):
    with OutputFolder(tmp_path / "out", "--out") as held:
        assert (held.path / LOCK_FILE).is_file()
        with pytest.raises(ConfigError, match="--out: another stress run is writing to"):
            OutputFolder(tmp_path / "out", "--out").__enter__()
    assert list((tmp_path / "out").iterdir()) == []  # the lock file goes with the lock
    with OutputFolder(tmp_path / "out", "--out"):
        pass  # free again


def test_write_atomic_replaces_whole_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "m.yaml"
    write_atomic(target, "a: 1\n")
    assert target.read_text() == "a: 1\n"

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError):
        write_atomic(target, "a: 2\n")
    assert target.read_text() == "a: 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.yaml"]


# ---------------------------------------------------------------------------------------------
# Places that cannot hold the outputs: refused by the CLI before any simulation


FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10


@contextlib.contextmanager
def immutable(folder: Path):
    """The folder made immutable (refused even to root), or the test skipped if it cannot be."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    flags = array.array("i", [0])
    try:
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, array.array("i", [flags[0] | FS_IMMUTABLE_FL]))
    except OSError as exc:
        os.close(fd)
        pytest.skip(f"cannot make a folder immutable here: {exc.strerror}")
    try:
        yield
    finally:
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags)
        os.close(fd)


def place(kind: str, tmp_path: Path) -> tuple[Path, contextlib.AbstractContextManager]:
    """An --out of the given kind and the context in which it is unusable."""
    nothing = contextlib.nullcontext()
    if kind == "proc":
        if not Path("/proc/self").exists():
            pytest.skip("no /proc")
        return Path("/proc/stress-out"), nothing
    if kind == "name-too-long":
        return tmp_path / ("x" * 300), nothing
    if kind == "dangling-symlink":
        (tmp_path / "link").symlink_to(tmp_path / "gone" / "out")
        return tmp_path / "link", nothing
    if kind == "symlink-loop":
        (tmp_path / "loop").symlink_to(tmp_path / "loop")
        return tmp_path / "loop" / "out", nothing
    parent = tmp_path / "parent"
    parent.mkdir()
    if kind == "immutable":
        return parent / "out", immutable(parent)
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder: the immutable case covers root")
    parent.chmod(0o555)
    return parent / "out", contextlib.nullcontext()


def cli_main(monkeypatch, capsys, *args) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["stress", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    return exit_.value.code, capsys.readouterr().err


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """A valid config, and a simulation that fails the test if it is ever reached."""

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated before refusing the output folder")

    monkeypatch.setattr(simulate_module, "simulate", no_simulation)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(BASE)))
    return path


KINDS = ["proc", "read-only", "immutable", "name-too-long", "dangling-symlink", "symlink-loop"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_out_that_cannot_be_written_exits_2_before_simulating(
    kind, config, tmp_path, monkeypatch, capsys
):
    out, unusable = place(kind, tmp_path)
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    with unusable:
        code, err = cli_main(monkeypatch, capsys, "run", config, "--out", out)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: --out: expected a folder"), err
    assert str(out) in err
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("kind", KINDS)
def test_calibrate_refuses_such_a_place_for_its_file(kind, tmp_path):
    out, unusable = place(kind, tmp_path)
    with unusable, pytest.raises(ConfigError) as info:
        check_file_target(out, "-o")
    assert str(info.value).startswith(f"-o: expected a file that can be written, got {out}")


def test_a_folder_named_like_an_output_exits_2_before_simulating(
    config, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"
    (out / "report.html").mkdir(parents=True)
    code, err = cli_main(monkeypatch, capsys, "run", config, "--out", out)
    assert code == 2
    path = out / "report.html"
    assert (
        err == f"error: --out: expected a file or nothing at {path}, got a folder; move it away\n"
    )
    assert [p.name for p in out.iterdir()] == ["report.html"]


def test_verify_outputs_trusts_nothing_in_a_manifest(tmp_path):
    from stress.output.publish import verify_outputs

    manifest = tmp_path / "manifest.json"
    for text, says in [
        ("{not json", "unreadable"),
        ('{"files": []}', "expected a list of the run's files"),
        ('{"files": [{"name": "summary.json"}]}', "unreadable entry"),
        (
            '{"files": [{"name": "/etc/hostname", "bytes": 1, "sha256": "x"}]}',
            "not a file stress writes",
        ),
    ]:
        manifest.write_text(text)
        problems = verify_outputs(tmp_path)
        assert problems and says in problems[0], (text, problems)
