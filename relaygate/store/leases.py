"""Leases in the database: periodic background work runs on one replica at a time and moves when its holder dies.

A lease is a row (name, holder, expires_at). A replica claims it when it is free, expired or already its own, and
renews it every third of its time to live; one that stops renewing (killed, frozen, cut off) loses it once it
expires, and one that shuts down releases it. Used by the channel prober, and meant for every periodic job that
must not run twice at once (MidJourney task polling). Expiry is read on the claiming replica's clock: replicas
need clocks that agree to well within the time to live (NTP does).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from relaygate.store.database import Database
from relaygate.store.tables import leases

log = logging.getLogger("relaygate.leases")


def claim_lease(conn: Connection, name: str, holder: str, now: float, ttl: float) -> bool:
    """One statement: take the lease if nobody has it, it expired, or it is `holder`'s; True if now held."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(leases).values(name=name, holder=holder, expires_at=now + ttl)
    upsert = stmt.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
        where=(leases.c.holder == holder) | (leases.c.expires_at < now),
    ).returning(leases.c.holder)
    # RETURNING, not rowcount: a driver may report -1 for an INSERT whose DO UPDATE did nothing
    return conn.execute(upsert).scalar() is not None


def release_lease(conn: Connection, name: str, holder: str) -> None:
    conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))


def lease_holder(conn: Connection, name: str, now: float) -> str | None:
    row = conn.execute(select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)).first()
    return row.holder if row is not None and row.expires_at >= now else None


def process_identity() -> str:
    """Who this process is, in a lease's holder column: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{os.urandom(4).hex()}"


class Lease:
    """One named lease this process competes for. `held` is true while the last renewal is recent enough that no
    other replica can have taken it over (half its time to live)."""

    def __init__(self, db: Database, name: str, *, ttl: float, holder: str | None = None) -> None:
        self.db = db
        self.name = name
        self.ttl = ttl
        self.holder = holder or process_identity()
        self._held_until = 0.0

    @property
    def held(self) -> bool:
        return time.monotonic() < self._held_until

    async def claim(self) -> bool:
        """Take or renew the lease once; whether it is ours now."""
        started = time.monotonic()
        try:
            ok = await self.db.run(functools.partial(claim_lease, name=self.name, holder=self.holder,
                                                     now=time.time(), ttl=self.ttl))
        except Exception:
            log.exception("could not claim the %s lease", self.name)
            ok = False
        was = self.held
        self._held_until = started + self.ttl / 2 if ok else 0.0
        if ok != was:
            log.info("%s the %s lease", "took" if ok else "lost", self.name)
        return ok

    async def release(self) -> None:
        self._held_until = 0.0
        await self.db.run(functools.partial(release_lease, name=self.name, holder=self.holder))

    async def keep_forever(self) -> None:
        """Claim, then renew every third of the time to live, until cancelled; then hand the lease back so
        another replica takes it at its next claim rather than at expiry."""
        try:
            while True:
                await self.claim()
                await asyncio.sleep(self.ttl / 3)
        finally:
            if self._held_until:
                with contextlib.suppress(Exception):
                    await self.release()


async def run_while_held(lease: Lease, interval: float, work: Callable[[], Awaitable[None]]) -> None:
    """Every `interval` seconds, run `work` if this replica holds `lease` (kept by lease.keep_forever)."""
    while True:
        await asyncio.sleep(interval)
        if not lease.held:
            continue
        try:
            await work()
        except Exception:
            log.exception("%s work failed", lease.name)
