"""Reservations that outlive their process: each process holds its reservations under a lease it renews, and any
process gives back, exactly once and with a log row, what a process that is gone held."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable

from sqlalchemy import Connection

from relaygate.core.records import LogRow
from relaygate.store.database import Database
from relaygate.store.ledger_sql import HeldReservation, Holder, LedgerStatements

log = logging.getLogger("relaygate.ledger")

RELEASED = "released_after_crash"
"""The error code of the log row written when a reservation is given back for a process that died."""
_ID_BITS = 40


class Holding:
    """This process's lease on the reservations it takes, and the sweep that releases those of dead processes."""

    def __init__(self, db: Database, *, lease_seconds: float) -> None:
        self._db = db
        self._lease = lease_seconds
        self._host = socket.gethostname()[:255]
        self._pid = os.getpid()
        self._counter = 0
        self._lock = asyncio.Lock()
        self.holder: int | None = None

    def next_id(self) -> int:
        """A reservation id no other process can make: this holder's id above a counter."""
        assert self.holder is not None
        self._counter = (self._counter + 1) & ((1 << _ID_BITS) - 1)
        return (self.holder << _ID_BITS) | self._counter

    async def start(self) -> int:
        """Register this process (once) and release what dead processes held; returns the holder id."""
        async with self._lock:
            if self.holder is None:
                now = time.time()
                self.holder = await self._db.run(
                    lambda c: LedgerStatements(c).new_holder(self._host, self._pid, now, now + self._lease))
                await self.sweep()
            return self.holder

    async def renew(self) -> None:
        """Extend the lease; a process whose lease lapsed (it stalled, and another released what it held) takes a
        new one — its settlements then find their reservations gone and charge without a refund."""
        holder = self.holder
        if holder is None:
            return
        expires = time.time() + self._lease
        if not await self._db.run(lambda c: LedgerStatements(c).renew_holder(holder, expires)):
            log.warning("this process's reservation lease lapsed and was taken over; registering again")
            self.holder = None
            await self.start()

    async def sweep(self) -> int:
        """Release the reservations of every holder that is gone; returns how many were released."""
        mine = self.holder
        holders = await self._db.run(lambda c: LedgerStatements(c).holders())
        gone = [h.id for h in holders if h.id != mine and not self._alive(h, time.time())]
        released = 0
        for holder in gone:
            released += await self._db.run(_take_over(holder))
        released += await self._db.run(_take_over(None))
        return released

    def _alive(self, holder: Holder, now: float) -> bool:
        if holder.expires_at < now:
            return False
        if holder.host != self._host:
            return True
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return False  # on this host and gone: no need to wait for its lease to lapse
        except PermissionError:
            pass
        return True

    async def run_forever(self) -> None:
        """Renew the lease and sweep, several times per lease."""
        while True:
            await asyncio.sleep(self._lease / 6)
            try:
                await self.renew()
                await self.sweep()
            except Exception:
                log.exception("reservation lease upkeep failed; retrying")

    async def stop(self) -> None:
        """Give up the lease at shutdown, releasing anything still held (nothing, once requests are done)."""
        holder, self.holder = self.holder, None
        if holder is not None:
            await self._db.run(_take_over(holder))


def _take_over(holder: int | None) -> Callable[[Connection], int]:
    """One transaction: remove the holder (None: reservations whose holder is already gone), give each of its
    reservations back to its key and user, and log each release."""

    def run(conn: Connection) -> int:
        sql = LedgerStatements(conn)
        held = sql.orphans() if holder is None else sql.take_over(holder)
        if not held:
            return 0
        keys: dict[int, list[int]] = {}
        users: dict[int, list[int]] = {}
        for r in held:
            if r.key_limited:
                keys.setdefault(r.key_id, [0, 0])[0] += r.amount
            users.setdefault(r.user_id, [0, 0])[0] += r.amount
        sql.apply(keys, users)
        now = time.time()
        sql.insert_logs((_release_row(r, now), 0) for r in held)
        log.warning("released %d reservations held by a process that is gone", len(held),
                    extra={"holder": holder, "quota": sum(r.amount for r in held)})
        return len(held)

    return run


def _release_row(r: HeldReservation, now: float) -> LogRow:
    return LogRow(created_at=now, request_id=r.request_id, key_id=r.key_id, user_id=r.user_id, channel_id=None,
                  endpoint=r.endpoint, model=r.model, upstream_model="", is_stream=False, prompt_tokens=0,
                  completion_tokens=0, cached_tokens=0, cache_write_tokens=0, reasoning_tokens=0, characters=0,
                  audio_seconds=0.0, images=0, latency_ms=0.0, first_chunk_ms=None, status=500,
                  error_code=RELEASED)
