"""The MidJourney background work and query services of one process, built in the app start-up: the poller and
the notifyHook sender (under one lease: one replica does both), the queries, the image proxy and its links."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from relaygate.fetch import GuardedFetcher
from relaygate.relay.catalog import CatalogCache
from relaygate.relay.routing import ChannelHealth
from relaygate.relay.upstream import Transport
from relaygate.store import task_sql
from relaygate.store.database import Database
from relaygate.store.leases import Lease
from relaygate.tasks.hooks import HookSender
from relaygate.tasks.images import ImageProxy
from relaygate.tasks.links import ImageLinks
from relaygate.tasks.metrics import TaskMetrics
from relaygate.tasks.poller import PollSettings, TaskPoller
from relaygate.tasks.queries import TaskQueries
from relaygate.tasks.views import ImageLink, snapshot

LEASE = "mj-tasks"
SIGNING_KEY = "mj-image-links"


class TaskSettings(Protocol):
    """The fields of relaygate.config.Settings the task services read."""

    @property
    def public_url(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def lease_ttl(self) -> float: ...
    @property
    def upstream_timeout(self) -> float: ...
    @property
    def fetch_max_bytes(self) -> int: ...
    @property
    def mj_poll_interval(self) -> float: ...
    @property
    def mj_poll_max_interval(self) -> float: ...
    @property
    def mj_poll_batch(self) -> int: ...
    @property
    def mj_task_timeout(self) -> float: ...
    @property
    def mj_image_url_ttl(self) -> float: ...
    @property
    def mj_image_secret(self) -> str: ...
    @property
    def mj_hook_attempts(self) -> int: ...
    @property
    def mj_hook_retry_seconds(self) -> float: ...
    @property
    def mj_hook_timeout(self) -> float: ...


@dataclass(slots=True)
class MidjourneyTasks:
    queries: TaskQueries
    images: ImageProxy
    links: ImageLinks
    poller: TaskPoller
    hooks: HookSender
    lease: Lease
    public_url: str
    hook_fetcher: GuardedFetcher

    def link_for(self, base: str) -> ImageLink:
        """Signed image links under `base` (the configured public URL wins over what a request says)."""
        root = self.public_url or base
        return lambda task_id: self.links.url(root, task_id, time.time())

    def background(self) -> list[Coroutine[Any, Any, None]]:
        return [self.lease.keep_forever(), self.poller.run_forever(), self.hooks.run_forever()]

    async def close(self) -> None:
        await self.hook_fetcher.close()


async def start_tasks(settings: TaskSettings, *, db: Database, catalogs: CatalogCache, transport: Transport,
                      health: ChannelHealth, fetcher: GuardedFetcher, metrics: TaskMetrics) -> MidjourneyTasks:
    secret = settings.mj_image_secret or await db.run(functools.partial(task_sql.signing_secret, name=SIGNING_KEY))
    links = ImageLinks(secret, settings.mj_image_url_ttl)
    lease = Lease(db, LEASE, ttl=settings.lease_ttl)
    own = settings.public_url or f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::') else settings.host}" \
                                 f":{settings.port}"
    hook_policy = dataclasses.replace(fetcher.policy, total_timeout=settings.mj_hook_timeout,
                                      first_byte_timeout=min(fetcher.policy.first_byte_timeout,
                                                             settings.mj_hook_timeout))
    hook_fetcher = GuardedFetcher(hook_policy)
    hooks = HookSender(db=db, fetcher=hook_fetcher, lease=lease,
                       link=lambda task_id: links.url(own, task_id, time.time()),
                       attempts=settings.mj_hook_attempts, retry_seconds=settings.mj_hook_retry_seconds,
                       metrics=metrics)
    poll = PollSettings(interval=settings.mj_poll_interval, max_interval=settings.mj_poll_max_interval,
                        batch=settings.mj_poll_batch, timeout=settings.mj_task_timeout,
                        read_timeout=min(settings.upstream_timeout, 60.0))
    poller = TaskPoller(db=db, catalogs=catalogs, transport=transport, health=health, lease=lease, settings=poll,
                        snapshot=snapshot, on_queued=hooks.wake, metrics=metrics)
    queries = TaskQueries(db=db, catalogs=catalogs, transport=transport, health=health,
                          timeout=min(settings.upstream_timeout, 60.0))
    images = ImageProxy(db=db, catalogs=catalogs, transport=transport, fetcher=fetcher,
                        max_bytes=settings.fetch_max_bytes, timeout=min(settings.upstream_timeout, 60.0))
    return MidjourneyTasks(queries, images, links, poller, hooks, lease, settings.public_url, hook_fetcher)
