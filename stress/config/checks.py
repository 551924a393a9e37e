"""Rules between the fields of one config that types alone cannot express.

Each rule raises `ConfigError("<field path>: <expected>, got <found>")`; `stress.config.load`
prefixes the source. Only the config's own fields are read here: rules that need the history
files or the resolved portfolios live in `stress.portfolios.feasibility` and run in
`stress.pipeline.prepare`.
"""

from __future__ import annotations

import numpy as np

import stress.config.limits as L
from stress.config.optimise import Optimise
from stress.config.schema import (
    DRAWN_HISTORY_MODELS,
    HISTORY_MODELS,
    PARAMETRIC_MODELS,
    Account,
    Config,
    Position,
)
from stress.config.times import check_window
from stress.errors import amount, fail

SYMMETRY_TOL = 1e-9
PSD_TOL = 1e-9


# which optional model fields each model type reads
_MODEL_FIELDS = {
    "correlation": ("gbm", "merton", "student_t"),
    "jumps": ("merton",),
    "dof": ("student_t",),
    "history": HISTORY_MODELS,
    "since": HISTORY_MODELS,
    "until": HISTORY_MODELS,
    "block_hours": ("bootstrap",),
    "demean": ("bootstrap",),
    "start": ("garch", "fhs"),
    "decay": ("ewma",),
    "half_life_hours": ("ewma",),
    "stride_hours": ("replay",),
    "wicks": ("replay",),
}


def check_model_fields(cfg: Config) -> None:
    """The model fields a model type needs and the ones it does not use (before any file is read).

    A history model's assets come from its files (`stress.history.load`); ``assets`` may still set
    their prices (and, for bootstrap, drifts), never their vol.
    """
    model = cfg.model
    kind = model.type
    for name, used_by in _MODEL_FIELDS.items():
        if getattr(model, name) is not None and kind not in used_by:
            fail(
                f"model.{name}",
                f"only used by model type {', '.join(used_by[:-1])}"
                f"{' and ' if len(used_by) > 1 else ''}{used_by[-1]}, got type {kind}",
            )
    if kind in PARAMETRIC_MODELS:
        if model.assets is None:
            fail("model.assets", f"required field is missing (model type {kind})")
        for name, asset in model.assets.items():
            if asset.vol is None:
                fail(f"model.assets.{name}.vol", f"required field is missing (model type {kind})")
        return
    if model.history is None:
        fail(
            "model.history",
            f"required for model type {kind}: expected a list of price files, got none",
        )
    for name, asset in (model.assets or {}).items():
        if asset.vol is not None:
            fail(
                f"model.assets.{name}.vol",
                f"not used by model type {kind} (its volatility is the history's), "
                f"got {amount(asset.vol)}",
            )
        if kind == "replay" and "drift" in asset.model_fields_set:
            fail(
                f"model.assets.{name}.drift",
                f"not used by model type replay (it replays the history's returns), "
                f"got {amount(asset.drift)}",
            )
    if kind in DRAWN_HISTORY_MODELS and cfg.simulation.paths is None:
        fail("simulation.paths", f"required field is missing (model type {kind})")
    if kind == "replay" and cfg.simulation.paths is not None:
        fail(
            "simulation.paths",
            f"not used by model type replay (one path per history window): remove it, "
            f"got {cfg.simulation.paths}",
        )


def check_model(cfg: Config) -> None:
    model = cfg.model
    check_model_fields(cfg)
    if model.type in HISTORY_MODELS:
        check_window(model.since, model.until, ("model.since", "model.until"))
        if model.decay is not None and model.half_life_hours is not None:
            fail("model.decay", "expected either decay or half_life_hours, got both")
        return  # checked against its files by `stress.history.load.resolve_history`
    if cfg.simulation.paths is None:
        fail("simulation.paths", "required field is missing")
    names = list(model.assets)
    n = len(names)
    if model.correlation is None:
        if n > 1:
            fail(
                "model.correlation",
                f"required for {n} assets: a {n}x{n} matrix in the order {', '.join(names)}",
            )
    else:
        check_correlation(model.correlation, names)
    if model.type == "merton" and model.jumps is None:
        fail(
            "model.jumps",
            "required for model type merton: expected a mapping {intensity, mean, std, common}, "
            "got none",
        )
    if model.type == "student_t" and model.dof is None:
        fail("model.dof", "required for model type student_t: expected a number > 2, got none")


def check_correlation(rows: list[list[float]], names: list[str]) -> None:
    n = len(names)
    if len(rows) != n or any(len(r) != n for r in rows):
        lengths = ", ".join(str(len(r)) for r in rows)
        found = f"{len(rows)} row{'s' * (len(rows) != 1)}" + (
            f" of length {lengths}" if rows else ""
        )
        fail(
            "model.correlation",
            f"expected a square {n}x{n} matrix (one row per asset), got {found}",
        )
    c = np.asarray(rows, dtype=float)
    for i in range(n):
        if c[i, i] != 1.0:
            fail(f"model.correlation[{i}][{i}]", f"diagonal must be 1, got {amount(c[i, i])}")
    for i in range(n):
        for j in range(n):
            if abs(c[i, j]) > 1.0:
                fail(f"model.correlation[{i}][{j}]", f"must be in [-1, 1], got {amount(c[i, j])}")
            if abs(c[i, j] - c[j, i]) > SYMMETRY_TOL:
                fail(
                    f"model.correlation[{i}][{j}]",
                    f"expected a symmetric matrix ([{i}][{j}] = [{j}][{i}]), "
                    f"got [{i}][{j}] = {amount(c[i, j])} and [{j}][{i}] = {amount(c[j, i])}",
                )
    smallest = float(np.linalg.eigvalsh(c).min())
    if smallest < -PSD_TOL:
        fail(
            "model.correlation",
            "expected a positive semi-definite matrix (correlations that can hold together), "
            f"got smallest eigenvalue {smallest:.4g}",
        )


# which liquidation parameters each process reads
_PROCESS_FIELDS = {
    "residual": ("full_close", "tier_step_down", "fillable_price"),
    "full_close_tiers": ("tier_step_down",),
    "slice_above_usd": ("slices",),
    "slice_fraction": ("slices",),
    "cooldown_seconds": ("slices",),
    "backstop": ("slices",),
    "fill_maintenance_multiple": ("fillable_price",),
}


def check_liquidation(cfg: Config) -> None:
    """A liquidation parameter written for another process than the one chosen is refused."""
    liq = cfg.exchange.liquidation
    for name in sorted(liq.model_fields_set & set(_PROCESS_FIELDS)):
        used_by = _PROCESS_FIELDS[name]
        if liq.process not in used_by:
            fail(
                f"exchange.liquidation.{name}",
                f"only used by process {' and '.join(used_by)}, got process {liq.process}",
            )


def check_exchange(cfg: Config) -> None:
    check_liquidation(cfg)
    for asset, market in cfg.exchange.markets.items():
        where = f"exchange.markets.{asset}"
        tiers = market.tiers
        for i, tier in enumerate(tiers):
            at = f"{where}.tiers[{i}]"
            if tier.mmr >= 1.0 / tier.max_leverage:
                fail(
                    f"{at}.mmr",
                    f"must be below the initial margin rate 1/max_leverage = "
                    f"{amount(1.0 / tier.max_leverage)}, got {amount(tier.mmr)}",
                )
            if i == 0:
                continue
            prev = tiers[i - 1]
            if tier.max_notional <= prev.max_notional:
                fail(
                    f"{at}.max_notional",
                    f"tiers must increase: expected > {amount(prev.max_notional)}, "
                    f"got {amount(tier.max_notional)}",
                )
            if tier.mmr < prev.mmr:
                fail(
                    f"{at}.mmr",
                    f"tiers must not lower the rate: expected >= {amount(prev.mmr)}, "
                    f"got {amount(tier.mmr)}",
                )
            if tier.max_leverage > prev.max_leverage:
                fail(
                    f"{at}.max_leverage",
                    f"tiers must not raise leverage: expected <= {amount(prev.max_leverage)}, "
                    f"got {amount(tier.max_leverage)}",
                )
    dm = cfg.exchange.default_market
    if dm.mmr >= 1.0 / dm.max_leverage:
        fail(
            "exchange.default_market.mmr",
            f"must be below 1/max_leverage = {amount(1.0 / dm.max_leverage)}, got {amount(dm.mmr)}",
        )


def check_scenarios(cfg: Config) -> None:
    """Names unique (and not "base"), every effect inside the horizon and fit for the model.

    The assets a scenario names are checked against the model's by
    `stress.paths.scenarios.check_scenario_assets` (a history model's come from its files).
    """
    horizon = cfg.simulation.horizon_days * 24.0
    seen: dict[str, int] = {}
    for i, sc in enumerate(cfg.scenarios):
        at = f"scenarios[{i}]"
        if sc.name == "base":
            fail(f"{at}.name", "expected a name other than 'base' (the unshocked run), got 'base'")
        if sc.name in seen:
            first = seen[sc.name]
            fail(f"{at}.name", f"duplicate scenario name {sc.name!r} (also scenarios[{first}])")
        seen[sc.name] = i
        for where, shock in sc.all_shocks():
            if shock.at_hour + shock.over_hours > horizon:
                fail(
                    f"{at}.{where}.at_hour",
                    f"expected at_hour + over_hours <= the horizon ({amount(horizon)} h), "
                    f"got {amount(shock.at_hour)} + {amount(shock.over_hours)}",
                )
        if sc.vol_multiplier is not None and cfg.model.type in PARAMETRIC_MODELS:
            top = max(a.vol for a in cfg.model.assets.values())
            if top * sc.vol_multiplier > L.MAX_VOL:
                fail(
                    f"{at}.vol_multiplier",
                    f"expected at most {amount(L.MAX_VOL / top)}: the largest vol "
                    f"{amount(top)} times it must stay <= {amount(L.MAX_VOL)}, "
                    f"got {amount(sc.vol_multiplier)}",
                )
        changes_model = sc.vol_multiplier is not None or sc.correlation_toward_one is not None
        if changes_model and cfg.model.type not in PARAMETRIC_MODELS:
            field = "vol_multiplier" if sc.vol_multiplier is not None else "correlation_toward_one"
            fail(
                f"{at}.{field}",
                f"needs a model with vol and correlation ({', '.join(PARAMETRIC_MODELS)}), "
                f"got model type {cfg.model.type}",
            )
        spike = sc.funding_spike
        if spike is not None and spike.from_hour >= horizon:
            fail(
                f"{at}.funding_spike.from_hour",
                f"expected an hour before the horizon ({amount(horizon)} h), "
                f"got {amount(spike.from_hour)}",
            )


def check_config(cfg: Config) -> None:
    """Run every rule between fields of one config; raises ConfigError on the first failure.

    What needs other files or the whole book (history, tier feasibility, sweeps, the run's
    cost) is checked by `stress.pipeline.prepare`.
    """
    if set(cfg.name) == {"."}:
        fail("name", f"must name a folder, got {cfg.name!r}")
    if len(set(cfg.modes)) != len(cfg.modes):
        fail("modes", f"each mode at most once, got {cfg.modes}")
    check_model(cfg)
    check_exchange(cfg)
    check_scenarios(cfg)
    check_optimise(cfg)
    check_importance(cfg)


_NOT_SHIFTED = {
    "student_t": "student_t's innovations are not normal",
}


def check_importance(cfg: Config) -> None:
    """``simulation.importance: auto`` only where every number can be weighted correctly
    (`stress.paths.importance`): a gbm or merton model, no scenarios, no sweep, no trader's
    rules."""
    if cfg.simulation.importance == "off":
        return
    at, kind = "simulation.importance", cfg.model.type
    if kind not in ("gbm", "merton"):
        why = _NOT_SHIFTED.get(kind, "its paths come from the history, not from normals")
        fail(at, f"auto supports model types gbm and merton only ({why}), got {kind}")
    if cfg.scenarios:
        n = len(cfg.scenarios)
        fail(at, f"auto cannot weight scenarios (their shocks are not reweighted), got {n}")
    if cfg.sweep is not None:
        fail(at, "auto cannot be used with a sweep: give account + positions or portfolios")
    accounts = [cfg.account] if cfg.portfolios is None else [p.account for p in cfg.portfolios]
    books = (
        [cfg.positions or []] if cfg.portfolios is None else [p.positions for p in cfg.portfolios]
    )
    ruled = any(a is not None and a.hard_stop is not None for a in accounts) or any(
        p.stop_loss is not None or p.reduce or p.top_up is not None for b in books for p in b
    )
    if ruled:
        fail(at, "auto cannot weight the trader's rules (stop_loss, reduce, top_up, hard_stop)")


def optimised_book(cfg: Config, opt_field: str) -> tuple[Account, list[Position], str]:
    """The one portfolio `stress optimise` searches: its account, positions and field-path
    prefix (``account + positions``, or a one-entry ``portfolios`` list). A sweep or several
    portfolios are refused, named by ``opt_field`` (the block, or the command)."""
    if cfg.sweep is not None:
        fail(
            "sweep",
            f"not searched by {opt_field}: it searches the margin split of one portfolio; "
            "give account + positions instead of a sweep",
        )
    if cfg.portfolios is not None:
        if len(cfg.portfolios) != 1:
            fail(
                "portfolios",
                f"{opt_field} searches one portfolio: expected account + positions or a "
                f"one-entry portfolios list, got {len(cfg.portfolios)} portfolios",
            )
        port = cfg.portfolios[0]
        return port.account, port.positions, "portfolios[0]."
    return cfg.account, cfg.positions, ""


def _entry_notional(cfg: Config, pos: Position) -> float | None:
    """A position's notional at entry, if the config alone tells it (a history model's mark
    may come from its files)."""
    if pos.notional is not None:
        return pos.notional
    if pos.entry_price is not None:
        return pos.quantity * pos.entry_price
    asset = (cfg.model.assets or {}).get(pos.asset)
    return None if asset is None else pos.quantity * asset.price


def check_optimise(
    cfg: Config,
    opt: Optimise | None = None,
    risk_capital: float | None = None,
    *,
    searching: bool = False,
) -> None:
    """The ``optimise:`` block (or, when `searching`, the defaults) against the rest of the
    config: one portfolio, known position ids, margins of at least the initial margin that fit
    in the wallet and, when `searching`, a risk capital (the account's, or `risk_capital`) to
    stay within. Loading a config checks the block if there is one; `stress optimise` checks
    again with its defaults and overrides, so that a config without a block works the same."""
    opt = cfg.optimise if opt is None else opt
    if opt is None:
        return
    account, positions, prefix = optimised_book(cfg, "stress optimise")
    ids = [p.id if p.id is not None else f"{p.asset}-{p.side}-{i}" for i, p in enumerate(positions)]
    seen: set[str] = set()
    for i, name in enumerate(opt.positions or []):
        if name not in ids:
            known = ", ".join(ids)
            fail(f"optimise.positions[{i}]", f"unknown position id {name!r} (known: {known})")
        if name in seen:
            fail(f"optimise.positions[{i}]", f"expected each id once, got {name!r} twice")
        seen.add(name)
    if opt.margin.min < 1:
        fail(
            "optimise.margin.min",
            "expected >= 1 (an isolated margin is at least the initial margin), "
            f"got {amount(opt.margin.min)}",
        )
    searched = set(opt.positions or ids)
    for name, pos in zip(ids, positions, strict=True):
        notional = _entry_notional(cfg, pos)
        if name not in searched or notional is None:
            continue
        leverage = pos.leverage if opt.leverage is None else opt.leverage.max
        smallest = opt.margin.min * notional / leverage
        if smallest > account.wallet:
            fail(
                "optimise.margin.min",
                f"expected margins that fit in the wallet: {amount(opt.margin.min)} x the "
                f"initial margin of {name!r} is {amount(smallest)}, above "
                f"{prefix}account.wallet {amount(account.wallet)}",
            )
    if searching and risk_capital is None and account.risk_capital is None:
        fail(
            f"{prefix}account.risk_capital",
            "required by stress optimise: expected the USDT you can afford to lose (ES99 must "
            "stay within it), got none",
        )
