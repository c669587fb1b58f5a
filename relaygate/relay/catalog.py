"""The in-memory catalog of keys, channels and prices, reloaded when the configuration version moves."""

from __future__ import annotations

import asyncio
import logging
from fnmatch import fnmatchcase

from relaygate.billing.default_prices import DEFAULT_PRICES
from relaygate.core.records import ChannelRecord, KeyRecord, PriceRecord
from relaygate.store import catalog as catalog_sql
from relaygate.store.catalog import CatalogRows
from relaygate.store.database import Database

log = logging.getLogger("relaygate.catalog")

_PATTERN_CHARS = frozenset("*?[")


def is_pattern(name: str) -> bool:
    return not _PATTERN_CHARS.isdisjoint(name)


class Catalog:
    """One consistent view of the configuration, indexed for the lookups every request makes."""

    def __init__(self, rows: CatalogRows, *, unpriced: PriceRecord | None = None) -> None:
        self.version = rows.version
        self._keys = rows.keys_by_hash
        self.channels = rows.channels
        self._groups = rows.groups
        self._unpriced = unpriced
        self._exact: dict[str, list[ChannelRecord]] = {}
        self._patterns: list[tuple[str, ChannelRecord]] = []
        for ch in sorted(rows.channels, key=lambda c: -c.priority):
            for name in ch.models:
                if is_pattern(name):
                    self._patterns.append((name, ch))
                else:
                    self._exact.setdefault(name, []).append(ch)
        self._prices = {**DEFAULT_PRICES, **rows.prices}
        self._price_patterns = [(m, p) for m, p in self._prices.items() if is_pattern(m)]
        self._route_cache: dict[tuple[str, str], tuple[ChannelRecord, ...]] = {}
        self._price_cache: dict[str, PriceRecord | None] = {}

    def key(self, key_hash: str) -> KeyRecord | None:
        return self._keys.get(key_hash)

    def multiplier(self, group: str) -> float:
        rec = self._groups.get(group)
        return rec.multiplier if rec is not None else 1.0

    def channels_for(self, model: str, group: str) -> tuple[ChannelRecord, ...]:
        """Every channel (enabled or not) serving `model` to `group`, highest priority first."""
        cached = self._route_cache.get((model, group))
        if cached is not None:
            return cached
        found = [ch for ch in self._exact.get(model, ()) if group in ch.groups]
        if not found:
            found = [ch for pat, ch in self._patterns if group in ch.groups and fnmatchcase(model, pat)]
        result = tuple(sorted(found, key=lambda c: -c.priority))
        if len(self._route_cache) < 10_000:
            self._route_cache[(model, group)] = result
        return result

    def price(self, model: str) -> PriceRecord | None:
        if model in self._price_cache:
            return self._price_cache[model]
        price = self._prices.get(model)
        if price is None:
            price = next((p for pat, p in self._price_patterns if fnmatchcase(model, pat)), self._unpriced)
        if len(self._price_cache) < 10_000:
            self._price_cache[model] = price
        return price

    def priced(self, model: str, channels: tuple[ChannelRecord, ...]) -> bool:
        """Whether a request for `model` has a price: its own, or (a mapped name) the upstream model's."""
        return self.price(model) is not None or any(self.price(ch.upstream_model(model)) is not None
                                                    for ch in channels)

    def can_call(self, key: KeyRecord, model: str) -> bool:
        """Whether a chat with this key and model gets past the checks before the upstream: allowed for the key,
        served to its group (by name or pattern, any channel status: a disabled one answers 503, not 404) and
        priced."""
        if key.allowed_models is not None and model not in key.allowed_models:
            return False
        channels = self.channels_for(model, key.group)
        return bool(channels) and self.priced(model, channels)

    def models_for(self, key: KeyRecord) -> list[str]:
        """The model names this key can call (can_call); a pattern (gpt-4-gizmo-*) is no name and is not listed,
        though every name it matches can be called and looked up."""
        names = {name for name, chans in self._exact.items() if any(key.group in c.groups for c in chans)}
        if key.allowed_models is not None:
            names |= {m for m in key.allowed_models if not is_pattern(m)}
        return sorted(name for name in names if self.can_call(key, name))


class CatalogCache:
    """Holds the current Catalog; polls the store's version stamp and swaps in a fresh one on change."""

    def __init__(self, db: Database, *, unpriced: PriceRecord | None, poll_interval: float) -> None:
        self._db = db
        self._unpriced = unpriced
        self._poll_interval = poll_interval
        self.current: Catalog | None = None
        self._lock = asyncio.Lock()

    @property
    def catalog(self) -> Catalog:
        assert self.current is not None, "CatalogCache.reload() runs in the app start-up"
        return self.current

    async def reload(self) -> Catalog:
        async with self._lock:
            rows = await self._db.run(catalog_sql.load_catalog)
            self.current = Catalog(rows, unpriced=self._unpriced)
            return self.current

    async def poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                version = await self._db.run(catalog_sql.config_version)
                if self.current is None or version != self.current.version:
                    await self.reload()
            except Exception:
                log.exception("catalog refresh failed; serving the previous configuration")
