"""create_app: the aiohttp application and the lifespan that builds and closes every service."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from relaygate.admin.config_file import apply_config, load_config_file
from relaygate.admin.logins import Logins
from relaygate.admin.service import Operator
from relaygate.billing.ledger import Ledger
from relaygate.billing.tokens import TokenCounter
from relaygate.config import Settings
from relaygate.core.records import PriceRecord
from relaygate.fetch import (
    DocumentCache,
    DocumentReader,
    ExtractLimits,
    Extractor,
    FetchPolicy,
    GuardedFetcher,
    StaticResolver,
    SystemResolver,
)
from relaygate.fetch.resolver import parse_host_table
from relaygate.limits.base import RateLimiter
from relaygate.limits.memory import MemoryRateLimiter
from relaygate.relay.attempts import Attempts
from relaygate.relay.catalog import Catalog, CatalogCache
from relaygate.relay.metrics import RelayMetrics
from relaygate.relay.operation import OperationContext
from relaygate.relay.operations import build_operations
from relaygate.relay.pipeline import Relay
from relaygate.relay.prober import ChannelProber
from relaygate.relay.response_memory import ResponseMemory
from relaygate.relay.routing import ChannelHealth, ProcessChannelHealth
from relaygate.relay.steps.file_analysis import FileAnalysis
from relaygate.relay.steps.midjourney import MidjourneyPreparation
from relaygate.relay.upstream import AiohttpTransport
from relaygate.server import (
    admin_routes,
    billing_routes,
    console_routes,
    docs_routes,
    midjourney_routes,
    openai_routes,
    ops_routes,
    relay_routes,
)
from relaygate.server.cors import CORS, CorsPolicy
from relaygate.server.state import SERVICES, Services
from relaygate.store.database import BOOTSTRAP_LOCK, Database
from relaygate.store.leases import Lease
from relaygate.store.notices import follow_config_changes
from relaygate.tasks.metrics import TaskMetrics
from relaygate.tasks.runtime import start_tasks

if TYPE_CHECKING:
    from relaygate.limits.redis_link import RedisLink

log = logging.getLogger("relaygate.app")


def create_app(settings: Settings, *, bootstrap: bool = True) -> web.Application:
    """The app; with bootstrap, its start-up also migrates, creates the admin and applies the YAML file."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app.cleanup_ctx.append(lambda a: _lifespan(a, settings, bootstrap))
    policy = app[CORS] = CorsPolicy(settings)
    if policy.active:
        app.on_response_prepare.append(policy.on_response_prepare)
    relay_routes.add_routes(app)
    midjourney_routes.add_routes(app)
    billing_routes.add_routes(app)
    openai_routes.add_routes(app)
    admin_routes.add_routes(app)
    docs_routes.add_routes(app)
    ops_routes.add_routes(app)
    console_routes.add_routes(app)
    app.router.add_route("*", "/{tail:.*}", openai_routes.unknown_route)
    return app


def _unpriced(settings: Settings) -> PriceRecord | None:
    if not settings.allow_unpriced_models:
        return None
    return PriceRecord("*", settings.unpriced_input_per_1m, settings.unpriced_output_per_1m)


@dataclass(frozen=True, slots=True)
class FirstAccess:
    """What the first start made for the admin and shows this once: an admin key, a console password."""

    key: str | None = None
    password: str | None = None

    def announce(self) -> None:
        if self.key is not None:
            print(f"relaygate: created the admin; its key is shown this once: {self.key}", file=sys.stdout,
                  flush=True)
        if self.password is not None:
            print(f"relaygate: the console (/) log-in is user 'admin', password shown this once: {self.password}",
                  file=sys.stdout, flush=True)


async def bootstrap_store(db: Database, settings: Settings) -> FirstAccess:
    """Migrate, make sure an admin exists (with a key and a console password), apply the YAML file; returns what
    to show once. Replicas starting together take turns (else two would create the schema, or the admin, at
    once)."""
    config = load_config_file(settings.config_file) if settings.config_file is not None else None
    async with db.exclusive(BOOTSTRAP_LOCK):
        await asyncio.get_running_loop().run_in_executor(None, db.migrate)
        operator = Operator(db)
        first_key = await operator.ensure_admin(settings.admin_key or None)
        password = await operator.ensure_admin_password(settings.admin_password or None)
        if config is not None and settings.config_file is not None:
            await apply_config(operator, config, settings.config_file)
    return FirstAccess(first_key, password)


def _shared_state(settings: Settings, metrics: RelayMetrics) -> tuple[RedisLink | None, RateLimiter, ChannelHealth]:
    """Rate limits and channel health: in this process, or in Redis (shared by every replica) when configured."""
    if not settings.redis_url:
        return None, MemoryRateLimiter(), ProcessChannelHealth(settings.auto_disable_after)
    # imported only with Redis configured: the embedded default does not carry redis-py in its memory
    from relaygate.limits.redis import RedisRateLimiter
    from relaygate.limits.redis_link import RedisLink
    from relaygate.relay.shared_health import RedisChannelHealth

    link = RedisLink(settings.redis_url, prefix=settings.redis_prefix, timeout=settings.redis_timeout)
    metrics.watch_redis(link)
    limiter = RedisRateLimiter(link, fail_open=settings.redis_fail_mode == "open")
    return link, limiter, RedisChannelHealth(link, settings.auto_disable_after)


def _document_reader(settings: Settings, catalogs: CatalogCache) -> DocumentReader:
    """The guarded fetcher (following the allow-list kept in the store as the catalog reloads), the extractor and
    the document cache, as the file-analysis step and image inlining share them."""
    hosts = parse_host_table(settings.fetch_hosts)
    fetcher = GuardedFetcher(FetchPolicy.from_settings(settings),
                             StaticResolver(hosts, SystemResolver()) if hosts else None)
    fetcher.exempt(catalogs.catalog.fetch_allow)
    cache = DocumentCache(settings.fetch_cache_ttl, settings.fetch_cache_max_bytes)

    def follow(catalog: Catalog) -> None:
        if fetcher.exempt(catalog.fetch_allow):
            cache.clear()  # what a removed entry let in must not outlive it

    catalogs.listeners.append(follow)
    return DocumentReader(fetcher, Extractor(ExtractLimits.from_settings(settings)), cache)


def _return_freed_memory() -> None:
    """Hands back to the system what start-up freed (the tokenizer's load, migrations, the admin's password hash)
    and glibc would otherwise keep: ≈ 7 MiB of RSS. Elsewhere than glibc there is nothing to do."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


async def _lifespan(app: web.Application, settings: Settings, bootstrap: bool) -> AsyncIterator[None]:
    db = Database(settings.resolved_database_url(), background_checkpoint=True)
    loop = asyncio.get_running_loop()
    try:
        first = await bootstrap_store(db, settings) if bootstrap else FirstAccess()
    except BaseException:
        await loop.run_in_executor(None, db.close)
        raise
    catalogs = CatalogCache(db, unpriced=_unpriced(settings), poll_interval=settings.config_poll_interval)
    operator = Operator(db)
    await catalogs.reload()
    operator.changed = catalogs.reload
    ledger = Ledger(db, durable=settings.durable_settlement, lease_seconds=settings.reservation_lease_seconds)
    await ledger.holding.start()
    upstream = AiohttpTransport(connect_timeout=settings.upstream_connect_timeout)
    await upstream.start()
    metrics = RelayMetrics()
    link, limiter, health = _shared_state(settings, metrics)
    prober = ChannelProber(db, catalogs, upstream, health, settings.probe_interval,
                           Lease(db, "channel-prober", ttl=settings.lease_ttl))
    attempts = Attempts(transport=upstream, health=health, metrics=metrics, on_channel_down=prober.channel_down,
                        retry_count=settings.retry_count, default_timeout=settings.upstream_timeout)
    tokens = TokenCounter()
    reader = _document_reader(settings, catalogs)
    operations = build_operations(OperationContext(
        tokens, settings.default_max_tokens, settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes,
        images=reader, store=db, keep_seconds=settings.responses_ttl))
    files = FileAnalysis(reader, catalogs, tokens, max_files=settings.file_analysis_max_files,
                         max_upload_bytes=settings.fetch_max_bytes)
    relay = Relay(catalogs=catalogs, ledger=ledger, limiter=limiter, attempts=attempts, metrics=metrics,
                  operations=operations, steps=[files, MidjourneyPreparation(db)])
    # MidJourney's webhooks and image proxying go through the same guarded fetcher as files and images
    midjourney = await start_tasks(settings, db=db, catalogs=catalogs, transport=upstream, health=health,
                                   fetcher=reader.fetcher, metrics=TaskMetrics(metrics.registry))
    logins = Logins(operator, settings.session_hours, settings.registration)
    app[SERVICES] = Services(settings, db, catalogs, ledger, upstream, relay, operator, metrics, logins,
                             midjourney)
    tasks = [loop.create_task(catalogs.poll_forever()), loop.create_task(prober.run_forever()),
             loop.create_task(prober.lease.keep_forever()), loop.create_task(db.checkpoint_forever()),
             loop.create_task(ledger.holding.run_forever()),
             loop.create_task(follow_config_changes(db, catalogs.stale)),
             loop.create_task(ResponseMemory(db, settings.responses_ttl).purge_forever()),
             *(loop.create_task(work) for work in midjourney.background())]
    follow = getattr(health, "follow_forever", None)  # shared health hears other replicas' notices
    if follow is not None:
        tasks.append(loop.create_task(follow()))
    # Everything built so far lives as long as the process: move it out of the collector's sight, so a full
    # collection under load scans only what requests allocate (without this, one takes tens of ms and
    # shows up as the p99 of every load test).
    gc.collect()
    gc.freeze()
    _return_freed_memory()
    first.announce()
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await relay.drain()
        await reader.close()
        await ledger.close()
        await midjourney.close()
        await upstream.close()
        if link is not None:
            await link.close()
        await loop.run_in_executor(None, db.close)
