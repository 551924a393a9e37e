"""Ctrl-C, SIGTERM and a second run into the same folder, on real `stress` processes.

Each test starts ``python -m stress`` on a config large enough to simulate for tens of seconds,
waits until the run is under way (its lock file is in --out, or its SIGTERM handler is set),
signals it and checks the exit code, the one line on stderr and that --out is as it was: no new
file, no temporary left behind. A run that ignored the signal would take the whole simulation.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from conftest import DATA, run_stress, stress_command
from support.bad_input import BASE

from stress.output.files import LOCK_FILE

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc as on Linux")

PREVIOUS = {"summary.json": b"{}\n", "report.html": b"<!DOCTYPE html>\n", "notes.txt": b"mine\n"}


@pytest.fixture
def long_config(tmp_path) -> Path:
    """BASE with 200,000 paths of a week in 5-minute steps: far longer than any test waits."""
    cfg = copy.deepcopy(BASE)
    cfg["simulation"] = {"paths": 200_000, "horizon_days": 7, "steps_per_day": 288}
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@contextlib.contextmanager
def stress_process(*args, cwd: Path) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        stress_command(*args),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:  # a failed assertion must not leave it running
            proc.kill()
        proc.communicate()


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"exited {proc.returncode} before it was under way: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            pytest.fail("not under way in time")
        time.sleep(0.02)


def handles_sigterm(proc: subprocess.Popen) -> bool:
    """The process has set its SIGTERM handler: `stress.cli.main` is running."""
    status = Path(f"/proc/{proc.pid}/status").read_text()
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.M).group(1), 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    stdout, stderr = proc.communicate(timeout=timeout)
    assert "Traceback" not in stderr, stderr
    return proc.returncode, stdout, stderr


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["sigint", "sigterm"],
)
def test_a_signal_during_run_leaves_the_previous_outputs_untouched(
    signum, code, word, long_config, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    for name, data in PREVIOUS.items():
        (out / name).write_bytes(data)
    start = time.monotonic()
    with stress_process("run", long_config, "--out", out, cwd=tmp_path) as proc:
        wait_until(lambda: (out / LOCK_FILE).exists(), proc)
        time.sleep(1.0)  # into the simulation
        proc.send_signal(signum)
        returncode, stdout, stderr = finish(proc)
    assert returncode == code
    assert stderr == f"{word}; nothing written; the files already in {out} are untouched\n"
    assert stdout == ""
    assert contents(out) == PREVIOUS  # nothing new, nothing changed, no .tmp, no lock
    assert time.monotonic() - start < 60


def test_sigterm_during_run_removes_the_folder_it_created(long_config, tmp_path):
    out = tmp_path / "new" / "out"
    with stress_process("run", long_config, "--out", out, cwd=tmp_path) as proc:
        wait_until(lambda: (out / LOCK_FILE).exists(), proc)
        proc.send_signal(signal.SIGTERM)
        returncode, _, stderr = finish(proc)
    assert returncode == 143
    assert stderr == f"terminated; nothing written; {out} did not exist and still does not\n"
    assert not (tmp_path / "new").exists()


def test_ctrl_c_during_compare_exits_130(long_config, tmp_path):
    with stress_process("compare", long_config, cwd=tmp_path) as proc:
        wait_until(lambda: handles_sigterm(proc), proc)
        time.sleep(0.5)  # into the config and the simulation
        proc.send_signal(signal.SIGINT)
        returncode, stdout, stderr = finish(proc)
    assert (returncode, stdout, stderr) == (130, "", "interrupted; nothing written\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.yaml"]


def test_a_second_run_into_the_same_folder_exits_2_at_once(long_config, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_bytes(b"mine\n")
    with stress_process("run", long_config, "--out", out, cwd=tmp_path) as first:
        wait_until(lambda: (out / LOCK_FILE).exists(), first)
        first.send_signal(signal.SIGSTOP)  # holds the folder as long as the test needs
        try:
            second = run_stress("run", long_config, "--out", out, cwd=tmp_path, timeout=120)
            assert sorted(contents(out)) == [LOCK_FILE, "notes.txt"]
        finally:
            first.send_signal(signal.SIGCONT)
        first.send_signal(signal.SIGTERM)
        assert finish(first)[0] == 143
    assert second.returncode == 2
    assert second.stderr == (
        f"error: --out: another stress run is writing to {out}; "
        "expected a folder no other run is using\n"
    )
    assert contents(out) == {"notes.txt": b"mine\n"}


def test_calibrate_refuses_an_unwritable_file_before_fitting(tmp_path):
    data = DATA / "binance_spot_BTCUSDT_1h.csv.gz"
    proc = run_stress("calibrate", data, "-o", "/proc/m.yaml", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    why = "No such file or directory"  # /proc makes no files, even for root
    assert (
        proc.stderr == f"error: -o: expected a file that can be written, got /proc/m.yaml: {why}\n"
    )
    assert proc.stdout == ""
    assert not os.listdir(tmp_path)


def test_an_ignored_sigint_stays_ignored():
    # a job started in the background by a script ignores SIGINT; the command must not undo that
    from stress.cli.common import _signals_raise

    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with _signals_raise():
            os.kill(os.getpid(), signal.SIGINT)  # ignored: nothing raised
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)


def test_a_signal_swallowed_by_compiled_code_still_ends_the_command(monkeypatch, capsys):
    """Compiled code that cannot pass an exception on prints "Exception ignored" and goes on:
    the command finishes, and the exit status still says it was interrupted."""
    import stress.cli.common as cli_app

    def command_that_swallows(**_kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs here
        except cli_app.Interrupted:
            pass  # as pydantic-core's Rust did with the regex compile of a schema
        return 0

    monkeypatch.setattr(cli_app, "app", command_that_swallows)
    with pytest.raises(SystemExit) as exit_:
        cli_app.main()
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "interrupted; the command had finished its work\n"
