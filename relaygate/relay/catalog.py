"""The in-memory catalog of keys, channels and prices, reloaded when the configuration version moves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from fnmatch import fnmatchcase

from relaygate.billing.prices import PriceBook, is_pattern
from relaygate.core.records import ChannelRecord, KeyRecord, PriceRecord
from relaygate.fetch.allow import AllowEntry, parse_allow_entry
from relaygate.providers.registry import PROVIDERS, with_options
from relaygate.relay.all_tools import AllToolsBook
from relaygate.store import catalog as catalog_sql
from relaygate.store.catalog import CatalogRows
from relaygate.store.database import Database

log = logging.getLogger("relaygate.catalog")

_CACHE_LIMIT = 10_000


class Catalog:
    """One consistent view of the configuration, indexed for the lookups every request makes."""

    def __init__(self, rows: CatalogRows, *, unpriced: PriceRecord | None = None) -> None:
        self.version = rows.version
        self._keys = rows.keys_by_hash
        self.channels = tuple(with_options(ch) for ch in rows.channels)
        self._groups = rows.groups
        self.prices = PriceBook(rows.prices, unpriced=unpriced)
        self.all_tools = AllToolsBook(rows.all_tools)
        self.fetch_allow = _allow_entries(rows.fetch_allow)
        self._exact: dict[str, list[ChannelRecord]] = {}
        self._patterns: list[tuple[str, ChannelRecord]] = []
        for ch in sorted(self.channels, key=lambda c: -c.priority):
            for name in ch.models:
                if is_pattern(name):
                    self._patterns.append((name, ch))
                else:
                    self._exact.setdefault(name, []).append(ch)
        self._route_cache: dict[tuple[str, str, str], tuple[ChannelRecord, ...]] = {}

    def key(self, key_hash: str) -> KeyRecord | None:
        return self._keys.get(key_hash)

    def multiplier(self, group: str) -> float:
        rec = self._groups.get(group)
        return rec.multiplier if rec is not None else 1.0

    def channels_for(self, model: str, group: str, operation: str | None = None) -> tuple[ChannelRecord, ...]:
        """Every channel (enabled or not) serving `model` to `group` — and, when given, whose type can relay
        `operation` — highest priority first."""
        cache_key = (model, group, operation or "")
        cached = self._route_cache.get(cache_key)
        if cached is not None:
            return cached
        found = [ch for ch in self._exact.get(model, ()) if group in ch.groups]
        if not found:
            found = [ch for pat, ch in self._patterns if group in ch.groups and fnmatchcase(model, pat)]
        if operation is not None:
            found = [ch for ch in found if ch.type in PROVIDERS and operation in PROVIDERS[ch.type].serves]
        result = tuple(sorted(found, key=lambda c: -c.priority))
        if len(self._route_cache) < _CACHE_LIMIT:
            self._route_cache[cache_key] = result
        return result

    def priced(self, model: str, channels: tuple[ChannelRecord, ...]) -> bool:
        """Whether a request for `model` has a price: its own, or (a mapped name) the upstream model's."""
        return self.prices.price(model) is not None or any(
            self.prices.price(ch.upstream_model(model)) is not None for ch in channels)

    def can_call(self, key: KeyRecord, model: str) -> bool:
        """Whether a chat with this key and model gets past the checks before the upstream: allowed for the key,
        served to its group (by name or pattern, any channel status: a disabled one answers 503, not 404) and
        priced."""
        if key.allowed_models is not None and model not in key.allowed_models:
            return False
        mark = self.all_tools.get(model)
        if mark is not None:  # answered by its base model, billed as itself when it has a price
            base = self.channels_for(mark.base_model, key.group)
            return bool(base) and (self.prices.price(model) is not None or self.priced(mark.base_model, base))
        channels = self.channels_for(model, key.group)
        return bool(channels) and self.priced(model, channels)

    def models_for(self, key: KeyRecord) -> list[str]:
        """The model names this key can call (can_call), all-tools models whose base model is served included; a
        pattern (gpt-4-gizmo-*) is no name and is not listed, though every name it matches can be called."""
        names = {name for name, chans in self._exact.items() if any(key.group in c.groups for c in chans)}
        names |= {m.model for m in self.all_tools.models() if self.channels_for(m.base_model, key.group)}
        if key.allowed_models is not None:
            names |= {m for m in key.allowed_models if not is_pattern(m)}
        return sorted(name for name in names if self.can_call(key, name))


def _allow_entries(stored: tuple[str, ...]) -> tuple[AllowEntry, ...]:
    entries = []
    for text in stored:
        try:
            entries.append(parse_allow_entry(text))
        except ValueError:  # checked when it was added; an entry no longer valid is skipped, not fatal
            log.warning("skipping the stored fetch allow-list entry %r: it does not parse", text)
    return tuple(entries)


class CatalogCache:
    """Holds the current Catalog; checks the store's version stamp when told a change was committed (stale())
    and every poll interval regardless, and swaps in a fresh catalog when the stamp moved."""

    def __init__(self, db: Database, *, unpriced: PriceRecord | None, poll_interval: float) -> None:
        self._db = db
        self._unpriced = unpriced
        self._poll_interval = poll_interval
        self.current: Catalog | None = None
        self._lock = asyncio.Lock()
        self._stale = asyncio.Event()
        self.listeners: list[Callable[[Catalog], None]] = []
        """Called with every catalog loaded (the fetcher follows the stored allow-list this way)."""

    @property
    def catalog(self) -> Catalog:
        assert self.current is not None, "CatalogCache.reload() runs in the app start-up"
        return self.current

    async def reload(self) -> Catalog:
        async with self._lock:
            rows = await self._db.run(catalog_sql.load_catalog)
            self.current = Catalog(rows, unpriced=self._unpriced)
            for listener in self.listeners:
                listener(self.current)
            return self.current

    def stale(self) -> None:
        """A change was committed somewhere: check the version now rather than at the next poll."""
        self._stale.set()

    async def poll_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stale.wait(), self._poll_interval)
            self._stale.clear()
            try:
                version = await self._db.run(catalog_sql.config_version)
                if self.current is None or version != self.current.version:
                    await self.reload()
            except Exception:
                log.exception("catalog refresh failed; serving the previous configuration")
