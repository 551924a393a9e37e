"""Cross-field rules of a config that types alone cannot express.

Each rule raises `ConfigError("<field path>: <expected>, got <found>")`; `stress.config` prefixes
the source. The order follows the file: model, exchange, then each portfolio (or the sweep, whose
own rules live in `stress.sweep`).
"""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache

import numpy as np

from stress import limits as L
from stress.config import HISTORY_MODELS, PARAMETRIC_MODELS, Config, Position
from stress.errors import ConfigError
from stress.margin.rules import TierTable
from stress.portfolio import ResolvedPosition, market_table, market_tables, resolve_position

SYMMETRY_TOL = 1e-9
PSD_TOL = 1e-9


def _fmt(x: float) -> str:
    """Amounts people read: 12,500 or 0.004."""
    if abs(x) >= 1e15:
        return f"{x:.6g}"
    if abs(x) >= 1:  # rounded so that a notional of 2,000,000.0000001 reads 2,000,000
        return f"{x:,.6f}".rstrip("0").rstrip(".")
    return f"{x:.6g}"


def _fail(path: str, message: str) -> None:
    raise ConfigError(f"{path}: {message}")


# which optional model fields each model type reads
_MODEL_FIELDS = {
    "correlation": ("gbm", "merton", "student_t"),
    "jumps": ("merton",),
    "dof": ("student_t",),
    "history": ("bootstrap", "replay"),
    "since": ("bootstrap", "replay"),
    "until": ("bootstrap", "replay"),
    "block_hours": ("bootstrap",),
    "demean": ("bootstrap",),
    "stride_hours": ("replay",),
}


def check_model_fields(cfg: Config) -> None:
    """The model fields a model type needs and the ones it does not use (before any file is read).

    A history model's assets come from its files (`stress.historical`); ``assets`` may still set
    their prices (and, for bootstrap, drifts), never their vol.
    """
    model = cfg.model
    kind = model.type
    for name, used_by in _MODEL_FIELDS.items():
        if getattr(model, name) is not None and kind not in used_by:
            _fail(
                f"model.{name}",
                f"only used by model type {' and '.join(used_by)}, got type {kind}",
            )
    if kind in PARAMETRIC_MODELS:
        if model.assets is None:
            _fail("model.assets", f"required field is missing (model type {kind})")
        for name, asset in model.assets.items():
            if asset.vol is None:
                _fail(f"model.assets.{name}.vol", f"required field is missing (model type {kind})")
        return
    if model.history is None:
        _fail(
            "model.history",
            f"required for model type {kind}: expected a list of price files, got none",
        )
    for name, asset in (model.assets or {}).items():
        if asset.vol is not None:
            _fail(
                f"model.assets.{name}.vol",
                f"not used by model type {kind} (its volatility is the history's), "
                f"got {_fmt(asset.vol)}",
            )
        if kind == "replay" and "drift" in asset.model_fields_set:
            _fail(
                f"model.assets.{name}.drift",
                f"not used by model type replay (it replays the history's returns), "
                f"got {_fmt(asset.drift)}",
            )
    if kind == "replay" and cfg.simulation.paths is not None:
        _fail(
            "simulation.paths",
            f"not used by model type replay (one path per history window): remove it, "
            f"got {cfg.simulation.paths}",
        )


def check_model(cfg: Config) -> None:
    model = cfg.model
    if model.type in HISTORY_MODELS:
        return  # checked, and checked against its files, by `stress.historical.resolve_history`
    check_model_fields(cfg)
    if cfg.simulation.paths is None:
        _fail("simulation.paths", "required field is missing")
    names = list(model.assets)
    n = len(names)
    if model.correlation is None:
        if n > 1:
            _fail(
                "model.correlation",
                f"required for {n} assets: a {n}x{n} matrix in the order {', '.join(names)}",
            )
    else:
        check_correlation(model.correlation, names)
    if model.type == "merton" and model.jumps is None:
        _fail(
            "model.jumps",
            "required for model type merton: expected a mapping {intensity, mean, std, common}, "
            "got none",
        )
    if model.type == "student_t" and model.dof is None:
        _fail("model.dof", "required for model type student_t: expected a number > 2, got none")


def check_correlation(rows: list[list[float]], names: list[str]) -> None:
    n = len(names)
    if len(rows) != n or any(len(r) != n for r in rows):
        lengths = ", ".join(str(len(r)) for r in rows)
        found = f"{len(rows)} row{'s' * (len(rows) != 1)}" + (
            f" of length {lengths}" if rows else ""
        )
        _fail(
            "model.correlation",
            f"expected a square {n}x{n} matrix (one row per asset), got {found}",
        )
    c = np.asarray(rows, dtype=float)
    for i in range(n):
        if c[i, i] != 1.0:
            _fail(f"model.correlation[{i}][{i}]", f"diagonal must be 1, got {_fmt(c[i, i])}")
    for i in range(n):
        for j in range(n):
            if abs(c[i, j]) > 1.0:
                _fail(f"model.correlation[{i}][{j}]", f"must be in [-1, 1], got {_fmt(c[i, j])}")
            if abs(c[i, j] - c[j, i]) > SYMMETRY_TOL:
                _fail(
                    f"model.correlation[{i}][{j}]",
                    f"expected a symmetric matrix ([{i}][{j}] = [{j}][{i}]), "
                    f"got [{i}][{j}] = {_fmt(c[i, j])} and [{j}][{i}] = {_fmt(c[j, i])}",
                )
    smallest = float(np.linalg.eigvalsh(c).min())
    if smallest < -PSD_TOL:
        _fail(
            "model.correlation",
            "expected a positive semi-definite matrix (correlations that can hold together), "
            f"got smallest eigenvalue {smallest:.4g}",
        )


def check_exchange(cfg: Config) -> None:
    names = set(cfg.model.assets)
    for asset, market in cfg.exchange.markets.items():
        where = f"exchange.markets.{asset}"
        if asset not in names:
            _fail(
                where,
                f"expected an asset of model.assets ({', '.join(cfg.model.assets)}), got {asset!r}",
            )
        tiers = market.tiers
        for i, tier in enumerate(tiers):
            at = f"{where}.tiers[{i}]"
            if tier.mmr >= 1.0 / tier.max_leverage:
                _fail(
                    f"{at}.mmr",
                    f"must be below the initial margin rate 1/max_leverage = "
                    f"{_fmt(1.0 / tier.max_leverage)}, got {_fmt(tier.mmr)}",
                )
            if i == 0:
                continue
            prev = tiers[i - 1]
            if tier.max_notional <= prev.max_notional:
                _fail(
                    f"{at}.max_notional",
                    f"tiers must increase: expected > {_fmt(prev.max_notional)}, "
                    f"got {_fmt(tier.max_notional)}",
                )
            if tier.mmr < prev.mmr:
                _fail(
                    f"{at}.mmr",
                    f"tiers must not lower the rate: expected >= {_fmt(prev.mmr)}, "
                    f"got {_fmt(tier.mmr)}",
                )
            if tier.max_leverage > prev.max_leverage:
                _fail(
                    f"{at}.max_leverage",
                    f"tiers must not raise leverage: expected <= {_fmt(prev.max_leverage)}, "
                    f"got {_fmt(tier.max_leverage)}",
                )
        _check_maintenance_positive(market_table(market), where)
    dm = cfg.exchange.default_market
    if dm.mmr >= 1.0 / dm.max_leverage:
        _fail(
            "exchange.default_market.mmr",
            f"must be below 1/max_leverage = {_fmt(1.0 / dm.max_leverage)}, got {_fmt(dm.mmr)}",
        )


def _check_maintenance_positive(table: TierTable, where: str) -> None:
    """Maintenance must not be negative anywhere in a tier: at its floor (its lowest notional)
    ``floor * mmr - amount >= 0``. A hand-written amount can break that (a 100x long then needs
    no maintenance at all until it has lost half its value); jumps at the caps stay allowed.
    Amounts left out are derived by continuity (`TierTable.build`)."""
    lowest = table.floor * table.mmr - table.amount
    for i in range(table.n_tiers):
        if lowest[i] < -1e-9 * max(1.0, table.floor[i] * table.mmr[i]):
            _fail(
                f"{where}.tiers[{i}].maintenance_amount",
                f"must keep the maintenance >= 0 in the tier: expected <= "
                f"{_fmt(table.floor[i] * table.mmr[i])} (its floor {_fmt(table.floor[i])} x mmr "
                f"{_fmt(table.mmr[i])}), got {_fmt(table.amount[i])}",
            )


def check_positions(
    cfg: Config, positions: list[Position], wallet: float, prefix: str, *, limits: bool = True
) -> list[ResolvedPosition]:
    """Check one portfolio's positions and return them resolved.

    With ``limits=False`` only what a position is (asset, sizing, id) is checked, not whether
    it can be opened (tier limits, margins, the wallet): a sweep's base is a template whose
    leverage, size and margins the generated points replace, so those rules apply per point
    (`portfolio_problem`).
    """
    tables = market_tables(cfg)
    seen: dict[str, int] = {}
    resolved = []
    for i, pos in enumerate(positions):
        at = f"{prefix}positions[{i}]"
        if pos.asset not in cfg.model.assets:
            _fail(
                f"{at}.asset",
                f"expected an asset of model.assets ({', '.join(cfg.model.assets)}), "
                f"got {pos.asset!r}",
            )
        if (pos.notional is None) == (pos.quantity is None):
            found = "both" if pos.notional is not None else "neither"
            _fail(at, f"give exactly one of notional or quantity, got {found}")
        rp = resolve_position(cfg, pos, i)
        if rp.id in seen:
            _fail(f"{at}.id", f"duplicate id {rp.id!r} (also positions[{seen[rp.id]}])")
        seen[rp.id] = i
        if limits:
            size_field = "notional" if pos.notional is not None else "quantity"
            _check_limits(rp, tables[pos.asset], at, size_field)
        resolved.append(rp)
    if limits:
        _check_funding(cfg.modes, resolved, wallet, f"{prefix}account.wallet")
    return resolved


@lru_cache(maxsize=256)
def _caps(table: TierTable) -> tuple[list[float], list[float]]:
    """A table's caps and leverage limits as lists (tables hash and compare by identity)."""
    return table.cap.tolist(), table.max_leverage.tolist()


def _tier(table: TierTable, notional: float) -> int:
    """`stress.margin.rules.tier_index` without numpy's per-call cost (sweeps check 10^4-10^5
    positions): the first bracket whose cap is >= the notional, the last one beyond it."""
    caps = _caps(table)[0]
    return min(bisect_left(caps, notional), len(caps) - 1)


def _check_limits(rp: ResolvedPosition, table: TierTable, at: str, size_field: str) -> None:
    """Can the position be opened: notional within the tiers, leverage, margin >= initial."""
    notional = rp.entry_notional
    if notional > L.MAX_AMOUNT:
        _fail(
            f"{at}.{size_field}",
            f"expected a notional <= {_fmt(L.MAX_AMOUNT)} (the largest amount stress accepts), "
            f"got {_fmt(notional)}",
        )
    if notional > table.cap[-1]:
        _fail(
            f"{at}.{size_field}",
            f"expected a notional <= {_fmt(table.cap[-1])} (the largest {rp.asset} tier), "
            f"got {_fmt(notional)}",
        )
    tier = _tier(table, notional)
    max_lev = _caps(table)[1][tier]
    if rp.leverage > max_lev:
        _fail(
            f"{at}.leverage",
            f"must be <= {_fmt(max_lev)} for {rp.asset} notional {_fmt(notional)} "
            f"(tier {tier + 1}), got {_fmt(rp.leverage)}",
        )
    # a defaulted margin is the initial margin itself, so only a given one can fail
    if rp.margin < rp.initial_margin * (1 - 1e-12):
        _fail(
            f"{at}.margin",
            f"must be >= the initial margin {_fmt(rp.initial_margin)} "
            f"(notional {_fmt(notional)} / leverage {_fmt(rp.leverage)}), "
            f"got {_fmt(rp.margin)}",
        )


def _check_funding(modes: list[str], resolved: list, wallet: float, at: str) -> None:
    """Every bucket must be able to post its positions' initial margin, in every mode asked for."""
    for mode in modes:
        if mode == "isolated":
            need = sum(p.margin for p in resolved)
            what = "the isolated margins of all positions (mode isolated)"
        elif mode == "cross":
            need = sum(p.initial_margin for p in resolved)
            what = "the initial margin of all positions (mode cross)"
        else:
            iso = sum(p.margin for p in resolved if p.margin_mode == "isolated")
            cross_im = sum(p.initial_margin for p in resolved if p.margin_mode == "cross")
            if iso > wallet * (1 + 1e-12):
                _fail(
                    at,
                    "must cover the isolated margins (as_configured): "
                    f"expected >= {_fmt(iso)}, got {_fmt(wallet)}",
                )
            need = iso + cross_im
            what = "the isolated margins plus the cross positions' initial margin (as_configured)"
        if need > wallet * (1 + 1e-12):
            _fail(at, f"must cover {what}: expected >= {_fmt(need)}, got {_fmt(wallet)}")


def portfolio_problem(
    positions: tuple[ResolvedPosition, ...],
    wallet: float,
    tables: dict[str, TierTable],
    modes: list[str],
) -> str | None:
    """Why a resolved portfolio cannot be opened in every mode (None if it can).

    The same rules and messages as `check_positions`, for portfolios built without a config
    entry (sweep points); paths are relative to the portfolio (``positions[1].leverage``).
    """
    try:
        for i, rp in enumerate(positions):
            _check_limits(rp, tables[rp.asset], f"positions[{i}]", "notional")
        _check_funding(modes, list(positions), wallet, "account.wallet")
    except ConfigError as exc:
        return str(exc)
    return None


def check_scenarios(cfg: Config) -> None:
    """Names unique (and not "base"), shocked assets known, every effect inside the horizon."""
    horizon = cfg.simulation.horizon_days * 24.0
    assets = list(cfg.model.assets)
    seen: dict[str, int] = {}
    for i, sc in enumerate(cfg.scenarios):
        at = f"scenarios[{i}]"
        if sc.name == "base":
            _fail(f"{at}.name", "expected a name other than 'base' (the unshocked run), got 'base'")
        if sc.name in seen:
            first = seen[sc.name]
            _fail(f"{at}.name", f"duplicate scenario name {sc.name!r} (also scenarios[{first}])")
        seen[sc.name] = i
        for where, shock in sc.all_shocks():
            if shock.asset not in cfg.model.assets:
                _fail(
                    f"{at}.{where}.asset",
                    f"expected an asset of model.assets ({', '.join(assets)}), got {shock.asset!r}",
                )
            if shock.at_hour + shock.over_hours > horizon:
                _fail(
                    f"{at}.{where}.at_hour",
                    f"expected at_hour + over_hours <= the horizon ({_fmt(horizon)} h), "
                    f"got {_fmt(shock.at_hour)} + {_fmt(shock.over_hours)}",
                )
        if sc.vol_multiplier is not None and cfg.model.type in PARAMETRIC_MODELS:
            top = max(a.vol for a in cfg.model.assets.values())
            if top * sc.vol_multiplier > L.MAX_VOL:
                _fail(
                    f"{at}.vol_multiplier",
                    f"expected at most {_fmt(L.MAX_VOL / top)}: the largest vol "
                    f"{_fmt(top)} times it must stay <= {_fmt(L.MAX_VOL)}, "
                    f"got {_fmt(sc.vol_multiplier)}",
                )
        changes_model = sc.vol_multiplier is not None or sc.correlation_toward_one is not None
        if changes_model and cfg.model.type not in PARAMETRIC_MODELS:
            field = "vol_multiplier" if sc.vol_multiplier is not None else "correlation_toward_one"
            _fail(
                f"{at}.{field}",
                f"needs a model with vol and correlation ({', '.join(PARAMETRIC_MODELS)}), "
                f"got model type {cfg.model.type}",
            )
        if sc.correlation_toward_one is not None and len(assets) < 2:
            _fail(
                f"{at}.correlation_toward_one",
                f"needs at least 2 assets in model.assets, got {len(assets)}",
            )
        spike = sc.funding_spike
        if spike is not None and spike.from_hour >= horizon:
            _fail(
                f"{at}.funding_spike.from_hour",
                f"expected an hour before the horizon ({_fmt(horizon)} h), "
                f"got {_fmt(spike.from_hour)}",
            )


def check_config(cfg: Config) -> None:
    """Run every cross-field rule; raises ConfigError on the first failure."""
    if set(cfg.name) == {"."}:
        _fail("name", f"must name a folder, got {cfg.name!r}")
    if len(set(cfg.modes)) != len(cfg.modes):
        _fail("modes", f"each mode at most once, got {cfg.modes}")
    check_model(cfg)
    check_exchange(cfg)
    check_scenarios(cfg)
    if cfg.sweep is not None:
        cfg.sweep_expansion()  # checks the base, the sweep spec and every generated point
    else:
        names: dict[str, int] = {}
        for k, (name, account, positions, prefix) in enumerate(cfg.book_list()):
            if cfg.portfolios is not None:
                if name in names:
                    _fail(f"{prefix}name", f"duplicate portfolio name {name!r}")
                names[name] = k
            check_positions(cfg, positions, account.wallet, prefix)
    # what the run would cost, last: it needs the books (imported here, the paths layer imports
    # modules that import this one)
    from stress.budget import check_budget, config_estimate

    check_budget(config_estimate(cfg))
