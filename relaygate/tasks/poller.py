"""The poller: follows every unfinished MidJourney task with batched list-by-condition calls, one replica at a time
(a lease), and writes what changed — queuing a notifyHook call per change — in one transaction a round; then
gives up tasks past the timeout and refunds those that ended without a result.

A task that keeps changing is asked about every `interval` seconds; one that does not is asked less and less often
(×1.5 a time, up to `max_interval`); a channel whose list call fails is left alone for twice as long each time
(up to a minute). That schedule lives in memory: a restarted or new lease holder asks about every task at once,
then settles into it again. Everything else is in the database, so a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from relaygate.billing.refunds import Refund, refund_ended_tasks
from relaygate.core.records import ChannelRecord
from relaygate.core.types import MIDJOURNEY
from relaygate.protocols.midjourney import LIST_ROUTE, path_for
from relaygate.protocols.midjourney_answers import Task, client_properties, tasks_from_upstream
from relaygate.providers.base import CallSpec
from relaygate.providers.registry import provider_for
from relaygate.relay.catalog import CatalogCache
from relaygate.relay.routing import ChannelHealth
from relaygate.relay.upstream import Transport, UpstreamBroken, UpstreamUnavailable
from relaygate.store import task_sql
from relaygate.store.database import Database
from relaygate.store.leases import Lease, run_while_held
from relaygate.store.task_sql import PollRow, TaskChange, TaskRow
from relaygate.tasks.metrics import TaskMetrics

log = logging.getLogger("relaygate.tasks")

_GROWTH = 1.5
_CHANNEL_BACKOFF_MAX = 60.0


@dataclass(frozen=True, slots=True)
class PollSettings:
    interval: float = 2.0
    """Seconds between rounds, and between two questions about a task that is changing."""
    max_interval: float = 30.0
    batch: int = 100
    """Task ids in one list-by-condition call."""
    timeout: float = 3600.0
    """Seconds after its submission an unfinished task is given up (and refunded)."""
    concurrency: int = 4
    """list-by-condition calls in flight per channel."""
    read_timeout: float = 30.0


@dataclass(slots=True)
class _Due:
    at: float
    delay: float


@dataclass(slots=True)
class RoundStats:
    unfinished: int = 0
    asked: int = 0
    calls: int = 0
    failed_calls: int = 0
    written: list[TaskRow] = field(default_factory=list)
    refunded: int = 0


class Schedule:
    """When each task (and each failing channel) is next due; in memory, rebuilt by whoever holds the lease."""

    def __init__(self, settings: PollSettings) -> None:
        self._settings = settings
        self._tasks: dict[str, _Due] = {}
        self._channels: dict[int, _Due] = {}

    def due(self, task_id: str, now: float) -> bool:
        entry = self._tasks.get(task_id)
        return entry is None or entry.at <= now

    def seen(self, task_id: str, now: float, *, changed: bool) -> None:
        entry = self._tasks.get(task_id)
        delay = self._settings.interval
        if not changed and entry is not None:
            delay = min(self._settings.max_interval, entry.delay * _GROWTH)
        self._tasks[task_id] = _Due(now + delay, delay)

    def keep_only(self, task_ids: set[str]) -> None:
        for gone in self._tasks.keys() - task_ids:
            del self._tasks[gone]

    def channel_due(self, channel_id: int, now: float) -> bool:
        entry = self._channels.get(channel_id)
        return entry is None or entry.at <= now

    def channel_failed(self, channel_id: int, now: float) -> None:
        entry = self._channels.get(channel_id)
        delay = min(_CHANNEL_BACKOFF_MAX, entry.delay * 2) if entry else self._settings.interval * 2
        self._channels[channel_id] = _Due(now + delay, delay)

    def channel_answered(self, channel_id: int) -> None:
        self._channels.pop(channel_id, None)


def change_for(row: PollRow, task: Task) -> TaskChange | None:
    """What to write when the upstream's task differs from the stored one in status, progress, image or failure."""
    if (task.status.value, task.progress, task.image_url, task.fail_reason) == (
            row.status, row.progress, row.image_url, row.fail_reason):
        return None
    properties = client_properties(task.properties)
    return TaskChange(
        id=row.id, version=row.version, status=task.status.value, progress=task.progress,
        finished=task.status.finished, image_url=task.image_url, fail_reason=task.fail_reason,
        start_time=task.start_time, finish_time=task.finish_time,
        buttons=[b.to_json() for b in task.buttons] if task.buttons else None, prompt_en=task.prompt_en,
        description=task.description, properties=properties or None)


def timed_out(row: PollRow, timeout: float) -> TaskChange:
    return TaskChange(id=row.id, version=row.version, status="FAILURE", progress=row.progress, finished=True,
                      image_url=row.image_url, timed_out=True,
                      fail_reason=f"The upstream did not finish the task within {timeout:g} s; it was given up and "
                                  "refunded.")


class TaskPoller:
    def __init__(self, *, db: Database, catalogs: CatalogCache, transport: Transport, health: ChannelHealth,
                 lease: Lease, settings: PollSettings, snapshot: Callable[[TaskRow], str],
                 on_queued: Callable[[], None], metrics: TaskMetrics) -> None:
        self._db = db
        self._catalogs = catalogs
        self._transport = transport
        self._health = health
        self.lease = lease
        self.settings = settings
        self._snapshot = snapshot
        self._on_queued = on_queued
        self._metrics = metrics
        self.schedule = Schedule(settings)

    async def run_forever(self) -> None:
        await run_while_held(self.lease, self.settings.interval, self._round)

    async def _round(self) -> None:
        await self.round()

    async def round(self) -> RoundStats:
        """One pass over every unfinished task."""
        stats = RoundStats()
        rows = await self._db.run(task_sql.unfinished_tasks)
        stats.unfinished = len(rows)
        now = time.time()
        self.schedule.keep_only({r.id for r in rows})
        deadline_ms = (now - self.settings.timeout) * 1000
        changes = [timed_out(r, self.settings.timeout) for r in rows if r.submit_time < deadline_ms]
        by_channel: dict[int, list[PollRow]] = {}
        for r in rows:
            if r.submit_time >= deadline_ms and self.schedule.due(r.id, now):
                by_channel.setdefault(r.channel_id, []).append(r)
        channels = {c.id: c for c in self._catalogs.catalog.channels}
        polled = await asyncio.gather(*(self._poll_channel(channels.get(cid), due, stats)
                                        for cid, due in by_channel.items()))
        changes.extend(change for found in polled for change in found)
        if changes:
            stats.written = await self._db.run(functools.partial(
                task_sql.apply_changes, changes=changes, snapshot=self._snapshot, now=time.time()))
            if any(row.notify_hook for row in stats.written):
                self._on_queued()
        refunds = await refund_ended_tasks(self._db)
        stats.refunded = len(refunds)
        self._count(stats, refunds)
        return stats

    async def _poll_channel(self, channel: ChannelRecord | None, rows: Sequence[PollRow],
                            stats: RoundStats) -> list[TaskChange]:
        now = time.time()
        if channel is None or channel.type != MIDJOURNEY or not self.schedule.channel_due(channel.id, now):
            return []  # a deleted channel's tasks run out their time and are refunded
        ids = list(dict.fromkeys(r.upstream_id for r in rows))
        gate = asyncio.Semaphore(self.settings.concurrency)
        batches = [ids[i:i + self.settings.batch] for i in range(0, len(ids), self.settings.batch)]
        answers = await asyncio.gather(*(self._list(channel, batch, gate) for batch in batches))
        stats.asked += len(ids)
        stats.calls += len(batches)
        failed = sum(1 for a in answers if a is None)
        stats.failed_calls += failed
        if failed:
            self.schedule.channel_failed(channel.id, now)
        else:
            self.schedule.channel_answered(channel.id)
        found = {task.id: task for answer in answers for task in answer or ()}
        answered = {i for batch, answer in zip(batches, answers, strict=True) if answer is not None for i in batch}
        changes = []
        for row in rows:
            if row.upstream_id not in answered:
                continue
            task = found.get(row.upstream_id)
            change = change_for(row, task) if task is not None else None
            self.schedule.seen(row.id, now, changed=change is not None)
            if change is not None:
                changes.append(change)
        return changes

    async def _list(self, channel: ChannelRecord, ids: list[str], gate: asyncio.Semaphore) -> list[Task] | None:
        """The upstream's tasks among `ids`; None when the call failed (the tasks are asked again later)."""
        spec = CallSpec(MIDJOURNEY, path_for(LIST_ROUTE, None), {"ids": list(ids)}, MIDJOURNEY, stream=False,
                        client_wants_usage=False)
        request = provider_for(channel.type).build(channel, self._health.credential(channel), spec)
        async with gate:
            try:
                resp = await self._transport.open(request, channel.timeout or self.settings.read_timeout)
                try:
                    raw = await resp.read()
                finally:
                    resp.release()
            except (UpstreamUnavailable, UpstreamBroken) as exc:
                log.warning("listing tasks on channel %s failed: %s", channel.name, exc)
                return None
        if resp.status >= 400:
            log.warning("listing tasks on channel %s: HTTP %d", channel.name, resp.status)
            return None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, list):
            log.warning("listing tasks on channel %s: the answer is not a list", channel.name)
            return None
        return tasks_from_upstream(value)

    def _count(self, stats: RoundStats, refunds: Sequence[Refund]) -> None:
        m = self._metrics
        m.rounds.inc()
        m.unfinished.set(stats.unfinished)
        m.polled.inc(stats.asked)
        m.upstream_calls.labels("ok").inc(stats.calls - stats.failed_calls)
        m.upstream_calls.labels("failed").inc(stats.failed_calls)
        notified = sum(1 for row in stats.written if row.notify_hook)
        # a refund writes the task, and when it gives quota back the key, the user and a log row
        m.rows_written.inc(len(stats.written) + notified + sum(4 if r.amount else 1 for r in refunds))
        for refund in refunds:
            m.refunds.labels(refund.reason).inc()
