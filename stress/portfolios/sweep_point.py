"""One point of a sweep: the base portfolio with the point's parameter values applied.

Points are built from the resolved base with plain floats, not through pydantic: the schema
has already checked everything a point shares with the base, and the rules a point can still
break are the ones `stress.portfolios.feasibility.portfolio_problem` applies to resolved
positions. The few a point breaks while being built (weights that leave a position nothing)
come back as a reason, worded like that function's, rather than raised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from stress.errors import amount
from stress.portfolios.resolve import ResolvedPosition
from stress.portfolios.sweep_spec import Param, SweepBase

Values = tuple[float | str | tuple[float, ...], ...]
"""One value per parameter, in the order of the parameters."""


def point_params(params: list[Param], values: Values, base: SweepBase) -> dict[str, float | str]:
    """The values that made a point, one scalar per column (a weights vector per position)."""
    out: dict[str, float | str] = {}
    for p, v in zip(params, values, strict=True):
        if p.kind == "weights":
            out.update({f"weight.{pid}": w for pid, w in zip(base.ids, v, strict=True)})
        else:
            out[p.name] = v
    return out


@dataclass
class _Settings:
    """A point's parameter values sorted by what they set; None where the base's value stays."""

    wallet: float
    side: list[str]
    leverage: list[float]
    gross: float | None = None
    weights: list[float] | None = None
    share: float | None = None
    fixed: dict[int, float] = field(default_factory=dict)  # weight.<id>, by position index
    own_notional: dict[int, float] = field(default_factory=dict)  # notional.<id>


def _settings(base: SweepBase, params: list[Param], values: Values) -> _Settings:
    """Sort the values by what they set; a later value of one setting replaces an earlier one,
    so whole-portfolio parameters must come before per-position ones."""
    n = len(base.positions)
    out = _Settings(
        wallet=base.wallet,
        side=[p.side for p in base.positions],
        leverage=[p.leverage for p in base.positions],
    )
    for p, v in zip(params, values, strict=True):
        t = p.target
        if p.kind == "wallet":
            out.wallet = v
        elif p.kind == "side":
            if t is None:
                out.side = [v] * n
            else:
                out.side[t] = v
        elif p.kind == "leverage":
            if t is None:
                out.leverage = [v] * n
            else:
                out.leverage[t] = v
        elif p.kind == "notional":
            if t is None:
                out.gross = v
            else:
                out.own_notional[t] = v
        elif p.kind == "weights":
            out.weights = list(v)
        elif p.kind == "weight":
            out.fixed[t] = v
        else:
            out.share = v
    return out


def _split(base: SweepBase, s: _Settings, notional: list[float], total: float) -> list[float] | str:
    """The share of the gross notional each position gets, or the reason there is none.

    `notional` is the base's sizing (`total` its sum); its split is kept where the point sets
    no weights, and the positions no ``weight.<id>`` names share what those leave over in their
    proportions.
    """
    n = len(base.positions)
    w = s.weights if s.weights is not None else [x / total for x in notional]
    if not s.fixed:
        return w
    rest = 1.0 - math.fsum(s.fixed.values())
    others = [j for j in range(n) if j not in s.fixed]
    if rest <= 0.0:
        named = ", ".join(f"weight.{base.ids[j]}" for j in s.fixed)
        left = ", ".join(base.ids[j] for j in others)
        return f"{named}: the shares sum to {amount(1.0 - rest)}, leaving none for {left}"
    w_others = math.fsum(w[j] for j in others)
    return [s.fixed[j] if j in s.fixed else w[j] * rest / w_others for j in range(n)]


def _sizes(base: SweepBase, s: _Settings) -> tuple[list[float], list[float]] | str:
    """(quantity, notional) of every position, or the reason the point cannot be sized.

    Each position's own notional if any is set, else the gross notional (the base's if not
    swept) split by the weights; with neither, the base's quantities.
    """
    qty = [p.quantity for p in base.positions]
    entry = [p.entry_price for p in base.positions]
    notional = [q * e for q, e in zip(qty, entry, strict=True)]
    if s.own_notional:
        for t, v in s.own_notional.items():
            notional[t] = v
            qty[t] = v / entry[t]
        return qty, notional
    if s.gross is None and s.weights is None and not s.fixed:
        return qty, notional
    total = math.fsum(notional)
    w = _split(base, s, notional, total)
    if isinstance(w, str):
        return w
    g = s.gross if s.gross is not None else total
    notional = [g * x for x in w]
    qty = [x / e for x, e in zip(notional, entry, strict=True)]
    for j in range(len(qty)):
        if qty[j] <= 0.0:  # a Dirichlet draw can underflow to an exact zero
            return f"positions[{j}].notional: expected > 0, got 0"
    return qty, notional


def _margins(
    base: SweepBase, share: float | None, wallet: float, notional: list[float]
) -> tuple[list[str], list[float | None]]:
    """(margin mode, given margin) of every position; None leaves the initial margin.

    The isolated share splits that part of the wallet over the isolated positions by notional;
    a share of 0 makes them cross. Without one, the base's given margins stay.
    """
    mode = [p.margin_mode for p in base.positions]
    margin = list(base.given_margin)
    if share is None:
        return mode, margin
    iso = [j for j in range(len(mode)) if mode[j] == "isolated"]
    iso_notional = math.fsum(notional[j] for j in iso)
    for j in iso:
        if share == 0.0:
            mode[j], margin[j] = "cross", None
        else:
            margin[j] = share * wallet * notional[j] / iso_notional
    return mode, margin


def build_point(
    base: SweepBase, params: list[Param], values: Values
) -> tuple[float, tuple[ResolvedPosition, ...] | None, str | None]:
    """(wallet, positions, None) of one point, or (wallet, None, reason) if it cannot exist.

    Order of application: wallet; sides and leverages (a position's own parameter over the
    whole-portfolio one, so `params` must list whole-portfolio parameters first); sizes (each
    position's own notional, or the gross notional split by the weights); margins (the isolated
    share, else a margin given in the base, else the initial margin).
    """
    s = _settings(base, params, values)
    sized = _sizes(base, s)
    if isinstance(sized, str):
        return s.wallet, None, sized
    qty, notional = sized
    mode, margin = _margins(base, s.share, s.wallet, notional)
    positions = tuple(
        ResolvedPosition(
            id=b.id,
            asset=b.asset,
            asset_index=b.asset_index,
            side=s.side[j],
            quantity=qty[j],
            entry_price=b.entry_price,
            leverage=s.leverage[j],
            margin_mode=mode[j],
            # the default, as resolve_position computes it: exactly the initial margin
            margin=margin[j] if margin[j] is not None else qty[j] * b.entry_price / s.leverage[j],
            stop_loss=b.stop_loss,
            reduce=b.reduce,
            top_up=b.top_up,
        )
        for j, b in enumerate(base.positions)
    )
    return s.wallet, positions, None
