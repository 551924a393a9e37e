"""The trader's rules a config can hold and the engine can run (`stress.margin.trader_rules`).

A rule that would fire at the first mark (a long's stop above today's price, a hard stop above
the starting equity) or never (a long's ladder rung 100 % against it) is a mistake in the file,
refused with its field named rather than simulated.
"""

from __future__ import annotations

from stress.config.schema import Config, Position
from stress.errors import amount, fail
from stress.portfolios.resolve import listed_books

RULE_PROCESSES = ("full_close", "fillable_price", "tier_step_down")
"""Processes the rules kernel runs (not yet ``slices``, whose cooldowns and backstop it lacks)."""


def _rule_fields(positions: list[Position], prefix: str) -> list[str]:
    out = []
    for i, pos in enumerate(positions):
        for name in ("stop_loss", "reduce", "top_up"):
            if getattr(pos, name) is not None:
                out.append(f"{prefix}positions[{i}].{name}")
    return out


def _books_with_rules(cfg: Config) -> list[tuple[str, object, list[Position]]]:
    if cfg.sweep is not None:
        return [("sweep.base.", cfg.sweep.base.account, cfg.sweep.base.positions)]
    return [(prefix, account, positions) for _, account, positions, prefix in listed_books(cfg)]


def _check_position(cfg: Config, pos: Position, at: str) -> None:
    mark = cfg.model.assets[pos.asset].price
    long = pos.side == "long"
    stop = pos.stop_loss
    if stop is not None and stop.price is not None:
        if long and stop.price >= mark or not long and stop.price <= mark:
            side = "below" if long else "above"
            fail(
                f"{at}.stop_loss.price",
                f"a {pos.side}'s stop {side} its asset's price now ({amount(mark)}), "
                f"else it fires at the first mark, got {amount(stop.price)}",
            )
    for j, rung in enumerate(pos.reduce or ()):
        falls = long != (rung.direction == "favour")
        if falls and rung.move >= 1.0:
            fail(
                f"{at}.reduce[{j}].move",
                f"below 1 for a fall of the price (a {pos.side}, {rung.direction}): a price "
                f"cannot fall 100 %, got {rung.move}",
            )


def check_rules(cfg: Config) -> None:
    """Every rule of the config's portfolios can be simulated as written."""
    books = _books_with_rules(cfg)
    fields = [f for prefix, _, positions in books for f in _rule_fields(positions, prefix)]
    fields += [
        f"{prefix}account.hard_stop"
        for prefix, account, _ in books
        if account is not None and account.hard_stop is not None
    ]
    if not fields:
        return
    process = cfg.exchange.liquidation.process
    if process not in RULE_PROCESSES:
        fail(
            fields[0],
            "the trader's rules run with exchange.liquidation.process full_close, "
            f"fillable_price or tier_step_down, got process {process}",
        )
    for i, sc in enumerate(cfg.scenarios):
        if sc.adl is not None:
            fail(
                f"scenarios[{i}].adl",
                f"not simulated together with the trader's rules (set at {fields[0]}); "
                "run ADL without rules",
            )
    for prefix, _, positions in books:
        for i, pos in enumerate(positions):
            _check_position(cfg, pos, f"{prefix}positions[{i}]")


def check_hard_stops(cfg: Config, portfolios) -> None:
    """A hard stop's equity level lies below the portfolio's starting equity (else it closes the
    book at the first mark). `portfolios` are the resolved ones, in the config's order."""
    prefixes = [prefix for prefix, _, _ in _books_with_rules(cfg)]
    for k, port in enumerate(portfolios):
        stop = port.hard_stop
        if stop is None or stop.equity is None:
            continue
        start = port.wallet + sum(
            p.sign * p.quantity * (cfg.model.assets[p.asset].price - p.entry_price)
            for p in port.positions
        )
        if stop.equity >= start:
            prefix = prefixes[min(k, len(prefixes) - 1)]
            fail(
                f"{prefix}account.hard_stop.equity",
                f"below the starting equity ({amount(start)} in {port.name}), else it closes "
                f"the book at the first mark, got {amount(stop.equity)}",
            )
