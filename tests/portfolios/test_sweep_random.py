"""Generated portfolio sets (`sweep:`) drawn at random: bounds, distributions, seeds, one
stream per parameter.

The base config is sweep_cases.sweep_config's: tests/support/bad_input.py's BASE with its book
replaced by a sweep of a BTC long (cross) and an ETH short (isolated), 20,000 each, 10x, wallet
10,000.
"""

from __future__ import annotations

import numpy as np
import pytest
from sweep_cases import by_id, expand, sweep_config

# ---------------------------------------------------------------------------------------------
# Random sampling


RANDOM = {
    "n": 200,
    "seed": 3,
    "params": {
        "leverage": {"loguniform": [5, 20]},
        "notional": {"uniform": [10000, 30000]},
        "weights": {"dirichlet": 1.0},
        "side.btc": {"choice": ["long", "short"]},
        "wallet": {"choice": [10000, 12000]},
    },
}


def test_random_draws_n_portfolios_within_the_bounds():
    ports, report = expand(sweep_config(random=RANDOM))
    assert (report["requested"], report["kept"], len(ports)) == (200, 200, 200)
    assert report["parameters"] == [
        "leverage",
        "notional",
        "weight.btc",
        "weight.eth",
        "side.btc",
        "wallet",
    ]
    lev = np.array([p.params["leverage"] for p in ports])
    notional = np.array([p.params["notional"] for p in ports])
    weights = np.array([[p.params["weight.btc"], p.params["weight.eth"]] for p in ports])
    assert lev.min() >= 5 and lev.max() <= 20
    assert notional.min() >= 10000 and notional.max() <= 30000
    assert np.all(weights > 0) and np.allclose(weights.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert {p.params["side.btc"] for p in ports} == {"long", "short"}
    assert {p.params["wallet"] for p in ports} == {10000.0, 12000.0}
    # log-uniform: the median is near the geometric mean, sqrt(5 * 20) = 10 (SE ~ 0.5 here)
    assert abs(np.median(lev) - 10) < 2.5
    for port in ports:  # and the draws are what the positions got
        btc, eth = by_id(port)["btc"], by_id(port)["eth"]
        assert btc.entry_notional + eth.entry_notional == pytest.approx(port.params["notional"])
        assert btc.entry_notional / port.params["notional"] == pytest.approx(
            port.params["weight.btc"]
        )
        assert btc.leverage == eth.leverage == port.params["leverage"]
        assert btc.side == port.params["side.btc"] and eth.side == "short"
        assert port.wallet == port.params["wallet"]


def test_random_is_deterministic_in_its_seed():
    first, _ = expand(sweep_config(random=RANDOM))
    again, _ = expand(sweep_config(random=RANDOM))
    other, _ = expand(sweep_config(random={**RANDOM, "seed": 4}))
    assert [p.params for p in first] == [p.params for p in again]
    assert [p.params for p in first] != [p.params for p in other]


def test_each_parameter_has_its_own_stream():
    """Adding or reordering parameters leaves the other parameters' draws alone."""
    fewer = {**RANDOM, "params": {"leverage": RANDOM["params"]["leverage"]}}
    reordered = {**RANDOM, "params": dict(reversed(list(RANDOM["params"].items())))}
    lev = [
        [p.params["leverage"] for p in expand(sweep_config(random=r))[0]]
        for r in (RANDOM, fewer, reordered)
    ]
    assert lev[0] == lev[1] == lev[2]
