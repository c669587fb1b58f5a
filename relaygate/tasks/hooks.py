"""notifyHook calls: relaygate POSTs the task (as its client sees it) to the hook the client gave, once per state
change, in order, through the guarded fetcher — the hook is never passed upstream.

The calls wait in the database (written with each change), so they survive a restart and move with the lease.
Each task's calls go one at a time, oldest first; a call that fails is retried after `retry_seconds`, doubling
each time (at most five minutes), until `attempts` were made; the task's next call waits for it. A hook whose
address the fetcher refuses (private, loopback, …, unless allow-listed) is given up at once. Sending runs beside
the poller, never in its way: the poller only writes rows and wakes this.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable

from relaygate.core.errors import FetchFailed, FetchRefused
from relaygate.fetch import GuardedFetcher
from relaygate.store import task_sql
from relaygate.store.database import Database
from relaygate.store.leases import Lease
from relaygate.store.task_sql import Notification
from relaygate.tasks.metrics import TaskMetrics
from relaygate.tasks.views import linked

log = logging.getLogger("relaygate.tasks.hooks")

_MAX_DELAY = 300.0
_IDLE_CHECK = 1.0
"""Seconds between looks at the outbox when nothing woke the sender (retries fall due; another replica's rows)."""


class HookSender:
    def __init__(self, *, db: Database, fetcher: GuardedFetcher, lease: Lease, link: Callable[[str], str],
                 attempts: int, retry_seconds: float, metrics: TaskMetrics, concurrency: int = 16) -> None:
        self._db = db
        self._fetcher = fetcher
        self._lease = lease
        self._link = link
        self._attempts = attempts
        self._retry = retry_seconds
        self._metrics = metrics
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._sending: dict[str, asyncio.Task[None]] = {}
        self._retry_at = float("inf")
        """The soonest retry this process scheduled: the sender looks again then rather than at its next tick."""

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        try:
            while True:
                wait = min(_IDLE_CHECK, max(0.0, self._retry_at - time.time()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                self._wake.clear()
                if self._retry_at <= time.time():
                    self._retry_at = float("inf")
                if not self._lease.held:
                    continue
                try:
                    await self.dispatch()
                except Exception:
                    log.exception("sending notifyHook calls failed; retrying")
        finally:
            for task in list(self._sending.values()):
                task.cancel()
            await asyncio.gather(*self._sending.values(), return_exceptions=True)

    async def dispatch(self) -> None:
        """Start the calls that are due: the oldest of each task not already being sent."""
        room = self._concurrency - len(self._sending)
        if room <= 0:
            return
        due = await self._db.run(functools.partial(task_sql.due_notifications, now=time.time(),
                                                   limit=room + len(self._sending)))
        for item in due:
            if item.task_id in self._sending or len(self._sending) >= self._concurrency:
                continue
            task = asyncio.get_running_loop().create_task(self._send(item))
            self._sending[item.task_id] = task
            task.add_done_callback(functools.partial(self._sent, item.task_id))

    def _sent(self, task_id: str, task: asyncio.Task[None]) -> None:
        self._sending.pop(task_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("a notifyHook call failed unexpectedly", exc_info=task.exception())
        self._wake.set()  # the task's next call, if any, may go now

    async def _send(self, item: Notification) -> None:
        try:
            status = await self._fetcher.post(item.url, linked(item.payload, self._link), "application/json")
            ok, final, reason = 200 <= status < 300, False, f"HTTP {status}"
        except FetchRefused as refused:
            ok, final, reason = False, refused.code == "url_not_allowed", refused.message
        except FetchFailed as failed:
            ok, final, reason = False, False, failed.message
        attempts = item.attempts + 1
        if not ok and not final and attempts < self._attempts:
            retry_at = time.time() + min(_MAX_DELAY, self._retry * 2 ** (attempts - 1))
            await self._db.run(functools.partial(task_sql.notification_retry, task_id=item.task_id,
                                                 version=item.version, attempts=attempts, next_attempt_at=retry_at))
            self._retry_at = min(self._retry_at, retry_at)
            self._metrics.notifications.labels("retried").inc()
            return
        outcome = "delivered" if ok else "refused" if final else "given_up"
        if not ok:
            log.warning("gave up a notifyHook call", extra={"task_id": item.task_id, "attempts": attempts,
                                                            "reason": reason})
        await self._db.run(functools.partial(task_sql.notification_done, task_id=item.task_id, version=item.version))
        self._metrics.notifications.labels(outcome).inc()
