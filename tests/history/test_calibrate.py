"""Calibration: the fits recover known parameters from the project's own generators, agree with
direct computations on the shipped Binance data, and write a model block that a config accepts.

Recovery tests simulate with `stress.paths.simulate_prices` at hourly steps, write the history
as a price file, calibrate it and require every fitted parameter within 4 of its own standard
errors of the truth (fixed seeds). One block of 256 paths of 100 hours is drawn and the paths'
increments are laid end to end: i.i.d. single-bar returns, 25,600 hours (~2.9 years) of them,
without the memory of one 25,600-step path per block member.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import DATA, run_stress

import stress
from stress.history.calibrate import model_yaml, name_files, observation_weights
from stress.paths import ModelSpec, TimeGrid, simulate_prices

BTC = DATA / "binance_spot_BTCUSDT_1h.csv.gz"
ETH = DATA / "binance_spot_ETHUSDT_1h.csv.gz"
HOURLY = TimeGrid(n_steps=100, dt=1.0 / 8760.0)
TOL = 4.0

CONFIG_REST = """
name: calibrated
seed: 1
simulation: {paths: 64, horizon_days: 1, steps_per_day: 24}
account: {wallet: 10000}
positions:
  - {asset: BTC, side: long, notional: 20000, leverage: 5}
"""


def simulate_history(tmp_path: Path, spec: ModelSpec, seed: int) -> list[Path]:
    """Hourly price files (one per asset, named AUSDT.csv, BUSDT.csv, ...) from the generator."""
    paths = simulate_prices(spec, HOURLY, seed=seed, n_paths=256)
    inc = np.diff(np.log(paths), axis=1).reshape(-1, spec.n_assets)
    log_price = np.vstack([np.log(spec.s0), np.log(spec.s0) + np.cumsum(inc, axis=0)])
    times = pd.date_range("2020-01-01", periods=log_price.shape[0], freq="h", tz="UTC")
    files = []
    for i in range(spec.n_assets):
        path = tmp_path / f"{chr(65 + i)}USDT.csv"
        frame = pd.DataFrame(
            {"timestamp": times.as_unit("ms").asi8, "close": np.exp(log_price[:, i])}
        )
        frame.to_csv(path, index=False, float_format="%.17g")
        files.append(path)
    return files


def assert_recovered(estimate: float, se: float | None, truth: float, what: str) -> None:
    assert se is not None and 0 < se < np.inf, (what, se)
    assert abs(estimate - truth) < TOL * se, f"{what}: {estimate} vs {truth} (se {se})"


def check_common(res: dict, spec: ModelSpec) -> None:
    model, se = res["model"], res["standard_errors"]
    for i, name in enumerate(model["assets"]):
        a, s = model["assets"][name], se["assets"][name]
        assert_recovered(a["vol"], s["vol"], spec.vol[i], f"{name} vol")
        assert_recovered(a["drift"], s["drift"], spec.drift[i], f"{name} drift")
    if spec.n_assets > 1:
        assert_recovered(
            model["correlation"][0][1], se["correlation"][0][1], spec.corr[0, 1], "corr"
        )
        assert model["correlation"][0][0] == 1.0


def spec_of(kind: str, **kw) -> ModelSpec:
    return ModelSpec(
        kind=kind,
        s0=np.array([30000.0, 2000.0]),
        vol=np.array([0.6, 0.9]),
        drift=np.array([0.5, -0.4]),
        corr=np.array([[1.0, 0.7], [0.7, 1.0]]),
        **kw,
    )


def test_gbm_recovers_its_parameters(tmp_path):
    spec = spec_of("gbm")
    res = stress.calibrate(simulate_history(tmp_path, spec, seed=21), drift=True)
    check_common(res, spec)
    assert res["model"]["type"] == "gbm" and res["diagnostics"]["returns"] == 25_600


def test_student_t_recovers_dof_and_variance_scaled_vol(tmp_path):
    spec = spec_of("student_t", dof=4.0)
    res = stress.calibrate(simulate_history(tmp_path, spec, seed=22), "student_t", drift=True)
    check_common(res, spec)
    assert_recovered(res["model"]["dof"], res["standard_errors"]["dof"], 4.0, "dof")
    # vol is the sd of the whole return, not the t's scale (which is sqrt(2/4) of it here)
    assert res["model"]["assets"]["A"]["vol"] == pytest.approx(0.6, rel=0.05)


@pytest.mark.slow
def test_merton_recovers_big_rare_jumps(tmp_path):
    jumps = {"jump_intensity": 30.0, "jump_mean": -0.05, "jump_std": 0.03, "jump_common": True}
    spec = spec_of("merton", **jumps)
    res = stress.calibrate(simulate_history(tmp_path, spec, seed=23), "merton", drift=True)
    check_common(res, spec)
    fitted, se = res["model"]["jumps"], res["standard_errors"]["jumps"]
    assert fitted["common"] is True
    for key in ("intensity", "mean", "std"):
        assert_recovered(fitted[key], se[key], jumps[f"jump_{key}"], f"jump {key}")
    (tmp_path / "c.yaml").write_text(model_yaml(res) + CONFIG_REST.replace("BTC", "A"))
    assert stress.load_config(tmp_path / "c.yaml").model.jumps.common is True


def one_asset_gbm() -> ModelSpec:
    one = np.array([1.0])
    return ModelSpec("gbm", s0=one * 100, vol=one * 0.6, drift=one * 0, corr=np.eye(1))


def test_student_t_on_normal_returns_stops_at_its_upper_bound(tmp_path):
    res = stress.calibrate(simulate_history(tmp_path, one_asset_gbm(), seed=27), "student_t")
    d, se = res["diagnostics"], res["standard_errors"]
    assert res["model"]["dof"] == pytest.approx(1000) and "thin-tailed" in d["message"]
    assert se["dof"] is None
    assert_recovered(res["model"]["assets"]["A"]["vol"], se["assets"]["A"]["vol"], 0.6, "vol")


def test_merton_without_jumps_ends_at_a_bound_and_says_so(tmp_path):
    """No jumps in the data: the jump parameters are not identified. The fit must end (bounds
    keep it from chasing ever more, ever smaller jumps) and say which way it went."""
    res = stress.calibrate(simulate_history(tmp_path, one_asset_gbm(), seed=28), "merton")
    d = res["diagnostics"]
    assert not d["converged"]
    bound = {"no jumps found": "intensity", "second diffusion": "intensity", "fixed size": "std"}
    [(key, param)] = [(k, p) for k, p in bound.items() if k in d["message"]]
    assert res["standard_errors"]["jumps"][param] is None
    (tmp_path / "c.yaml").write_text(model_yaml(res) + CONFIG_REST.replace("BTC", "A"))
    assert stress.load_config(tmp_path / "c.yaml").model.type == "merton"


def test_drift_is_zero_unless_asked(tmp_path):
    files = simulate_history(tmp_path, spec_of("gbm"), seed=24)
    res = stress.calibrate(files)
    assert all(a["drift"] == 0.0 for a in res["model"]["assets"].values())
    assert all(s["drift"] is None for s in res["standard_errors"]["assets"].values())
    estimated = res["diagnostics"]["estimated_drift"]["A"]
    assert estimated["se"] > 0 and estimated["value"] != 0.0


# ---------------------------------------------------------------------------------------------
# Real data


def direct_hourly_returns(path: Path, year: str) -> tuple[np.ndarray, np.ndarray]:
    """Log returns of consecutive hourly bars of one calendar year, computed from scratch, and
    their end times in hours."""
    frame = pd.read_csv(path)
    t = pd.to_datetime(frame["open_time_utc"], utc=True)
    sel = (t.dt.year == int(year)).to_numpy()
    close = frame["close"].to_numpy()[sel]
    hour = (t[sel] - t[sel].iloc[0]).dt.total_seconds().to_numpy() / 3600
    one_hour = np.diff(hour) == 1
    return np.diff(np.log(close))[one_hour], hour[1:][one_hour]


def test_btc_2021_vol_is_plausible_and_the_sample_sd():
    res = stress.calibrate(BTC, since="2021-01-01", until="2021-12-31")
    vol = res["model"]["assets"]["BTC"]["vol"]
    direct, _ = direct_hourly_returns(BTC, "2021")
    assert 0.5 < vol < 1.2  # BTC's 2021 realised vol, by any account
    assert vol == pytest.approx(direct.std() * np.sqrt(8760), rel=1e-10)
    assert res["diagnostics"]["returns"] == direct.size
    assert res["standard_errors"]["assets"]["BTC"]["vol"] == pytest.approx(
        vol / np.sqrt(2 * direct.size)
    )
    # the price is the last close of the window: 2021-12-31 23:00
    assert res["model"]["assets"]["BTC"]["price"] == pytest.approx(46216.93)


def test_halflife_weights_are_an_exponentially_weighted_sd():
    res = stress.calibrate(BTC, since="2023-01-01", halflife_days=30)
    direct, hour = direct_hourly_returns(BTC, "2023")
    w = 0.5 ** ((hour[-1] - hour) / 24 / 30)
    mean = (w * direct).sum() / w.sum()
    sd = np.sqrt((w * (direct - mean) ** 2).sum() / w.sum())
    assert res["model"]["assets"]["BTC"]["vol"] == pytest.approx(sd * np.sqrt(8760), rel=1e-9)
    n_eff = w.sum() ** 2 / (w**2).sum()
    assert res["diagnostics"]["effective_returns"] == pytest.approx(n_eff)
    assert 2000 < n_eff < 2150  # ~ 2 * 30 * 24 / ln 2


def test_observation_weights_sum_to_effective_size():
    t = np.arange(1000) * 3600 * 10**9
    w = observation_weights(t, 5.0)
    assert w.sum() == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert w[-1] / w[-1 - 120] == pytest.approx(2.0)  # 5 days = 120 hours: half the weight


def test_model_block_pastes_into_a_config(tmp_path):
    res = stress.calibrate([BTC, ETH], since="2023-01-01", until="2023-12-31")
    text = model_yaml(res) + CONFIG_REST
    path = tmp_path / "config.yaml"
    path.write_text(text)
    cfg = stress.load_config(path)
    assert list(cfg.model.assets) == ["BTC", "ETH"]
    assert cfg.model.assets["BTC"].vol == pytest.approx(res["model"]["assets"]["BTC"]["vol"])
    assert text.startswith("# stress calibrate: gbm fit to BTC, ETH: 2023-01-01 00:00")


def test_student_t_at_its_bound_still_writes_a_loadable_block(tmp_path):
    """Hourly BTC is heavier-tailed than any finite-variance t: the fit says so and stays usable."""
    res = stress.calibrate(BTC, "student_t", since="2022-01-01", until="2023-12-31")
    d = res["diagnostics"]
    assert not d["converged"] and "dof at its bound 2" in d["message"]
    assert res["standard_errors"]["dof"] is None
    text = model_yaml(res)
    assert "# warning: dof at its bound 2" in text
    (tmp_path / "c.yaml").write_text(text + CONFIG_REST)
    assert stress.load_config(tmp_path / "c.yaml").model.dof > 2


def test_names_from_files_or_given(tmp_path):
    files = simulate_history(tmp_path, spec_of("gbm"), seed=26)
    named = name_files(files, [f"X={files[1]}"])
    res = stress.calibrate(named)
    assert list(res["model"]["assets"]) == ["A", "X"]
    with pytest.raises(stress.ConfigError, match="also the name of"):
        stress.calibrate([files[0], files[0]])
    with pytest.raises(stress.ConfigError, match="expected NAME=FILE"):
        name_files(files, ["X=elsewhere.csv"], "--name")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "heston"}, "model: expected one of gbm, merton, student_t, garch, fhs, ewma"),
        ({"halflife_days": 0}, "halflife_days: expected a number of days > 0, got 0"),
        ({"since": "last year"}, "since: expected a date like 2021-01-01"),
        ({"since": "2023-02-01", "until": "2023-01-01"}, "since: expected a time before until"),
        ({"halflife_days": 0.25}, "halflife_days: too little data"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(stress.ConfigError, match=message):
        stress.calibrate(BTC, **{"since": "2023-06-01", **kwargs})


def test_cli_writes_a_model_file(tmp_path):
    args = [BTC, ETH, "--since", "2023-01-01", "--until", "2023-03-31", "-o", "m.yaml"]
    proc = run_stress("calibrate", *args, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "BTC vol" in proc.stdout and "corr BTC-ETH" in proc.stdout
    assert proc.stderr.strip() == "wrote m.yaml"
    block = yaml.safe_load((tmp_path / "m.yaml").read_text())
    assert set(block) == {"model"} and block["model"]["type"] == "gbm"
    assert [p.name for p in tmp_path.iterdir()] == ["m.yaml"]  # no temporary file left
