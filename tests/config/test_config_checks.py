"""Cross-field rules, in process (stress.config.checks): the correlation matrix, the model's
own parameters, the tier tables.
"""

from __future__ import annotations

import pytest
from config_cases import assert_error
from support.bad_input import mutated

SOL = {"price": 150, "vol": 1.0}


# ---------------------------------------------------------------------------------------------
# Cross-field rules (stress.config.checks)


@pytest.mark.parametrize(
    ("edits", "fragments"),
    [
        pytest.param(
            [("model.correlation", [[1.0, 0.8], [0.8, 1.0], [0.0, 0.0]])],
            ["model.correlation: expected a square 2x2 matrix", "got 3 rows of length 2, 2, 2"],
            id="correlation-too-many-rows",
        ),
        pytest.param(
            [("model.correlation", [[1.0, 0.8], [0.8]])],
            ["model.correlation: expected a square 2x2 matrix", "got 2 rows of length 2, 1"],
            id="correlation-ragged",
        ),
        pytest.param(
            [("model.correlation", [[1.0]])],
            ["model.correlation: expected a square 2x2 matrix", "got 1 row of length 1"],
            id="correlation-too-small",
        ),
        pytest.param(
            [("model.correlation", [[1.0, 0.8], [0.7, 1.0]])],
            [
                "model.correlation[0][1]: expected a symmetric matrix",
                "got [0][1] = 0.8 and [1][0] = 0.7",
            ],
            id="correlation-not-symmetric",
        ),
        pytest.param(
            [("model.correlation", [[1.0, 0.8], [0.8, 0.9]])],
            ["model.correlation[1][1]: diagonal must be 1, got 0.9"],
            id="correlation-diagonal",
        ),
        pytest.param(
            [("model.correlation", [[1.0, 1.2], [1.2, 1.0]])],
            ["model.correlation[0][1]: must be in [-1, 1], got 1.2"],
            id="correlation-above-one",
        ),
        pytest.param(
            [
                ("model.assets.SOL", SOL),
                ("model.correlation", [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]),
            ],
            [
                "model.correlation: expected a positive semi-definite matrix",
                "got smallest eigenvalue -0.8",
            ],
            id="correlation-not-psd",
        ),
        pytest.param(
            [("model.correlation", None)],
            ["model.correlation: required for 2 assets: a 2x2 matrix in the order BTC, ETH"],
            id="correlation-missing",
        ),
        pytest.param(
            [("model.type", "merton")],
            ["model.jumps: required for model type merton", "got none"],
            id="merton-without-jumps",
        ),
        pytest.param(
            [("model.jumps", {"intensity": 6.0, "mean": -0.04, "std": 0.06})],
            ["model.jumps: only used by model type merton, got type gbm"],
            id="jumps-without-merton",
        ),
        pytest.param(
            [("model.type", "merton"), ("model.jumps", {"intensity": 6, "mean": 0, "std": -0.1})],
            ["model.jumps.std: expected a number >= 0, got -0.1"],
            id="negative-jump-std",
        ),
        pytest.param(
            [("model.type", "student_t")],
            ["model.dof: required for model type student_t: expected a number > 2, got none"],
            id="student-t-without-dof",
        ),
        pytest.param(
            [("model.type", "student_t"), ("model.dof", 2)],
            ["model.dof: expected a number > 2, got 2"],
            id="student-t-dof-2",
        ),
        pytest.param(
            [("model.type", "student_t"), ("model.dof", 1.5)],
            ["model.dof: expected a number > 2, got 1.5"],
            id="student-t-dof-1.5",
        ),
        pytest.param(
            [("model.dof", 4.0)],
            ["model.dof: only used by model type student_t, got type gbm"],
            id="dof-without-student-t",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.1.max_notional", 40000)],
            [
                "exchange.markets.BTC.tiers[1].max_notional: tiers must increase",
                "expected > 50,000, got 40,000",
            ],
            id="tiers-decreasing",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.1.max_notional", 50000)],
            ["exchange.markets.BTC.tiers[1].max_notional: tiers must increase"],
            id="tiers-repeated",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.1.max_leverage", 150)],
            ["exchange.markets.BTC.tiers[1].max_leverage: tiers must not raise leverage"],
            id="tiers-raise-leverage",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.1.mmr", 0.003)],
            ["exchange.markets.BTC.tiers[1].mmr: tiers must not lower the rate"],
            id="tiers-lower-mmr",
        ),
        pytest.param(
            [("exchange.markets.BTC.tiers.0.mmr", 0.01)],
            ["exchange.markets.BTC.tiers[0].mmr: must be below the initial margin rate", "0.01"],
            id="mmr-above-initial-margin-rate",
        ),
    ],
)
def test_cross_field_errors(edits, fragments):
    assert_error(mutated(*edits), *fragments)
