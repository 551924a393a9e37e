"""Venue presets: shipped data files of what each venue documents, and how a config uses them.

``exchange: {preset: bybit}`` starts the exchange block from ``presets/bybit.yaml``: its tier
tables (BTC, ETH, SOL and a default for other assets), liquidation fee, funding interval and cap,
order-book liquidity and liquidation process. Fields written in the config override the preset's,
key by key (``funding: {rate: 0.0003}`` keeps the preset's interval and cap). A market written
for an asset replaces the preset's tier table for that asset whole, since half a tier table is
not a table, but keeps the preset's order book unless it writes ``liquidity`` itself. A
``liquidation`` block naming a process replaces the preset's whole (its parameters belong to its
own process). Each file states its sources, its snapshot date and what no public source
confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from stress.config.checks import check_exchange
from stress.config.read import message
from stress.config.schema import PRESETS, Config, Exchange
from stress.errors import ConfigError

FOLDER = Path(__file__).resolve().parent / "presets"


@dataclass(frozen=True)
class Preset:
    """One venue's shipped data (see the files in ``presets/``)."""

    name: str
    title: str
    snapshot: str
    sources: tuple[str, ...]
    models: str
    unverified: tuple[str, ...]
    exchange: dict[str, Any]  # the exchange block, as written in the file


@lru_cache(maxsize=len(PRESETS))
def load_preset(name: str) -> Preset:
    """The preset called ``name`` (one of `PRESETS`), read from its file once."""
    if name not in PRESETS:
        raise ConfigError(f"exchange.preset: expected one of {', '.join(PRESETS)}, got {name!r}")
    data = yaml.safe_load((FOLDER / f"{name}.yaml").read_text(encoding="utf-8"))
    return Preset(
        name=data["name"],
        title=data["title"],
        snapshot=str(data["snapshot"]),
        sources=tuple(data["sources"]),
        models=" ".join(data["models"].split()),
        unverified=tuple(data.get("unverified", ())),
        exchange=data["exchange"],
    )


def presets() -> list[Preset]:
    """Every shipped preset, in `PRESETS` order."""
    return [load_preset(name) for name in PRESETS]


def _merged(base: dict[str, Any], written: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``written`` laid over it, key by key; a market replaces a market whole."""
    out = dict(base)
    for key, value in written.items():
        if key == "markets":
            out["markets"] = {**base.get("markets", {}), **_with_books(base, value)}
        elif key == "liquidation" and "process" in value:
            out[key] = value  # another process: the preset's parameters were for its own
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merged(base[key], value)
        else:
            out[key] = value
    return out


def _with_books(base: dict[str, Any], written: dict[str, Any]) -> dict[str, Any]:
    """Written markets, each keeping the preset's order book unless it writes its own
    ``liquidity`` (``liquidity: null`` removes it): new tiers do not make a market thinner."""
    books = {a: m.get("liquidity") for a, m in base.get("markets", {}).items()}
    return {
        asset: market
        if "liquidity" in market or books.get(asset) is None
        else {**market, "liquidity": books[asset]}
        for asset, market in written.items()
    }


def apply_preset(cfg: Config) -> Config:
    """The config with its exchange block laid over its preset (unchanged without a preset).

    The preset's markets are kept for the model's assets only (its default market covers the
    others). Needs the model's assets, so for a history model it runs after its files are read.

    Raises
    ------
    ConfigError
        A field the merged block breaks (``exchange.<field>: ... (with preset <name>)``).
    """
    name = cfg.exchange.preset
    if name is None:
        return cfg
    base = dict(load_preset(name).exchange)
    base["markets"] = {a: m for a, m in base.get("markets", {}).items() if a in cfg.model.assets}
    written = cfg.exchange.model_dump(exclude_unset=True, exclude={"preset"})
    try:
        exchange = Exchange.model_validate({**_merged(base, written), "preset": name})
    except ValidationError as exc:
        first = message(exc.errors(include_url=False)[0], Exchange)
        raise ConfigError(f"exchange.{first} (with preset {name})") from None
    merged = cfg.model_copy(update={"exchange": exchange})
    try:
        check_exchange(merged)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (with preset {name})") from None
    return merged
