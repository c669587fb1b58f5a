"""Leases: background work on one replica at a time, taken over when its holder dies or stops."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from relaygate.store.database import Database
from relaygate.store.leases import Lease, claim_lease, lease_holder, run_while_held
from tests.conftest import _postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path}/leases.db"
        if request.param == "postgres":
            url = stack.enter_context(_postgres_database()).replace("postgresql://", "postgresql+psycopg://")
        database = Database(url)
        database.migrate()
        stack.callback(database.close)
        yield database


def test_a_lease_has_one_holder_until_it_expires(db: Database) -> None:
    now = 1_000.0
    claims = [db.run_sync(lambda c, who=who, at=at: claim_lease(c, "job", who, at, 10))  # type: ignore[misc]
              for who, at in [("a", now), ("b", now + 1), ("a", now + 5), ("b", now + 14), ("b", now + 16)]]
    # a takes it, b cannot, a renews (to now + 15), b cannot before that expiry, b takes it after
    assert claims == [True, False, True, False, True]
    assert db.run_sync(lambda c: lease_holder(c, "job", now + 17)) == "b"
    assert db.run_sync(lambda c: lease_holder(c, "job", now + 27)) is None


def test_work_runs_on_the_holder_only_and_moves_when_it_dies_or_stops(db: Database) -> None:
    async def go() -> tuple[list[str], list[str], list[str]]:
        ran: list[str] = []
        leases = {name: Lease(db, "prober", ttl=0.6, holder=name) for name in ("a", "b", "c")}
        keepers = {name: asyncio.create_task(lease.keep_forever()) for name, lease in leases.items()}
        workers = [asyncio.create_task(run_while_held(lease, 0.05, lambda name=name: _note(ran, name)))
                   for name, lease in leases.items()]
        await asyncio.sleep(0.5)
        alone = list(ran)
        holder = alone[-1]
        # the holder dies: it stops renewing and never hands the lease back; another takes over after expiry
        keepers[holder].cancel()
        leases[holder]._held_until = 0.0
        leases[holder].release = _never  # type: ignore[method-assign]
        with contextlib.suppress(asyncio.CancelledError):
            await keepers[holder]
        ran.clear()
        await asyncio.sleep(1.2)
        after_death = list(ran)
        # the new holder shuts down cleanly: it hands the lease back and the last one takes it at once
        second = after_death[-1]
        keepers[second].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keepers[second]
        ran.clear()
        await asyncio.sleep(0.4)
        after_stop = list(ran)
        for task in [*keepers.values(), *workers]:
            task.cancel()
        await asyncio.gather(*keepers.values(), *workers, return_exceptions=True)
        return alone, after_death, after_stop

    alone, after_death, after_stop = asyncio.run(go())
    assert len(set(alone)) == 1 and len(alone) >= 5
    assert len(set(after_death)) == 1 and set(after_death) != set(alone)
    assert len(set(after_stop)) == 1 and set(after_stop).isdisjoint(set(alone) | set(after_death))


async def _note(ran: list[str], name: str) -> None:
    ran.append(name)


async def _never() -> None:
    raise AssertionError("a dead replica hands nothing back")


def test_a_replica_holds_a_lease_only_while_it_renews_in_time(db: Database) -> None:
    async def go() -> tuple[bool, bool, bool]:
        lease = Lease(db, "held", ttl=0.4)
        taken = await lease.claim()
        right_after = lease.held
        await asyncio.sleep(0.25)  # past half the time to live without renewing
        return taken, right_after, lease.held

    started = time.monotonic()
    assert asyncio.run(go()) == (True, True, False)
    assert time.monotonic() - started < 5
