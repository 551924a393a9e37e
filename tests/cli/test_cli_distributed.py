"""`stress run --workers N`: the outputs of a local run, from a Dask cluster's workers."""

from __future__ import annotations

import json

import pytest
from conftest import run_stress, write
from support.bad_input import mutated

pytest.importorskip("distributed")


def test_run_on_two_workers_writes_the_local_summary(tmp_path):
    cfg = write(tmp_path, json.dumps(mutated(("simulation.paths", 1000))), "c.json")
    summaries = []
    for extra in ((), ("--workers", "2")):
        out = tmp_path / ("dask" if extra else "local")
        done = run_stress("run", str(cfg), "--out", str(out), *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        data = json.loads((out / "summary.json").read_text())
        data["run_info"].pop("elapsed_seconds")
        summaries.append(data)
    assert summaries[0] == summaries[1]


def test_workers_and_scheduler_together_are_refused(tmp_path):
    cfg = write(tmp_path, json.dumps(mutated()), "c.json")
    done = run_stress("run", str(cfg), "--workers", "2", "--scheduler", "tcp://x:1", cwd=tmp_path)
    assert done.returncode == 2
    assert "--workers: expected either --workers or --scheduler, got both" in done.stderr
    assert not (tmp_path / "reports").exists()
