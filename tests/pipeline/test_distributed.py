"""Scale-out on Dask (stress.pipeline.distributed): the same summary on any number of workers,
even when a worker dies mid-run."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest
from support.bad_input import mutated

import stress
from stress.pipeline.prepare import prepare
from stress.pipeline.simulate import simulate

distributed = pytest.importorskip("distributed")

from stress.pipeline.distributed import close_client, open_client  # noqa: E402

SCENARIOS = [
    {"name": "crash", "shock": {"asset": "BTC", "move": -0.2, "at_hour": 6}},
    {"name": "wild", "vol_multiplier": 2.0},
]
SWEEP = {
    "base": {
        "account": {"wallet": 10000},
        "positions": [
            {"id": "btc", "asset": "BTC", "side": "long", "notional": 20000, "leverage": 10},
            {"id": "eth", "asset": "ETH", "side": "short", "notional": 20000, "leverage": 10},
        ],
    },
    "grid": {"leverage": [5, 10, 20]},
}


def config() -> dict:
    cfg = mutated(("simulation.paths", 2000), ("scenarios", SCENARIOS))
    del cfg["account"], cfg["positions"]
    cfg["sweep"] = SWEEP
    return cfg


def summary(result) -> str:
    data = result.to_dict()
    data["run_info"].pop("elapsed_seconds")
    return json.dumps(data, sort_keys=True, default=str)


@pytest.fixture(scope="module")
def client():
    c = open_client(2)
    yield c
    close_client(c)


@pytest.fixture(scope="module")
def plan():
    return prepare(config(), chunk_paths=256)


def test_two_workers_give_the_local_summary_bit_for_bit(client, plan):
    local = simulate(plan)
    remote = simulate(plan, client=client)
    assert summary(remote) == summary(local)
    assert (remote.results.final_equity == local.results.final_equity).all()
    assert (remote.sample_prices == local.sample_prices).all()


def test_a_worker_killed_mid_run_changes_nothing(client, plan):
    local = summary(simulate(plan))
    pids = list(client.run(os.getpid).values())
    killed = []

    def kill_once(done: int) -> None:
        if not killed:  # after the first chunk comes back: the others are still in flight
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    remote = simulate(plan, kill_once, client=client)
    assert killed
    assert summary(remote) == local
    client.wait_for_workers(2, timeout=60)  # the nanny brought the killed worker back


def test_without_the_extra_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(stress.ConfigError, match=r"--workers: needs the optional dask extra"):
        open_client(2)
