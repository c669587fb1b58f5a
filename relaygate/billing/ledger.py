"""Reserve → settle → release, group-committed: one transaction serves every request waiting on it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Connection

from relaygate.billing.recovery import Holding
from relaygate.core.errors import QuotaExhausted, ServiceUnavailable
from relaygate.core.records import LogRow
from relaygate.store.database import Database
from relaygate.store.ledger_sql import LedgerStatements

log = logging.getLogger("relaygate.ledger")

Shortfall = Literal["key", "user"]
Also = Callable[[Connection, LogRow], None]
"""Statements a settled request adds to its settlement's transaction (what it made, for later requests to find)."""


@dataclass(slots=True)
class Reservation:
    """Quota set aside for one request; settled or released exactly once. Its record in the store lets another
    process give it back if this one dies first."""

    id: int
    key_id: int
    user_id: int
    amount: int
    key_limited: bool
    request_id: str
    endpoint: str
    model: str
    holder: int
    closed: bool = False


@dataclass(slots=True)
class _Op:
    kind: Literal["reserve", "settle", "release", "record"]
    reservation: Reservation | None
    actual: int = 0
    log_row: LogRow | None = None
    future: asyncio.Future[int | str | None] | None = field(default=None)
    also: Also | None = None


class Ledger:
    """The only writer of balances and request logs; batches concurrent operations into one commit."""

    def __init__(self, db: Database, *, durable: bool = True, lease_seconds: float = 30.0) -> None:
        self._db = db
        self._durable = durable
        self.holding = Holding(db, lease_seconds=lease_seconds)
        self._pending: list[_Op] = []
        self._flusher: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._open = 0  # reservations not yet settled or released: requests in flight
        self._loop: asyncio.AbstractEventLoop | None = None

    async def reserve(self, key_id: int, user_id: int, amount: int, *, key_limited: bool, request_id: str = "",
                      endpoint: str = "", model: str = "") -> Reservation:
        """Set `amount` aside from the key (if limited) and the user, or refuse with what fell short."""
        holder = self.holding.holder if self.holding.holder is not None else await self.holding.start()
        res = Reservation(self.holding.next_id(), key_id, user_id, amount, key_limited, request_id, endpoint,
                          model[:128], holder)
        short = await self._submit(_Op("reserve", res), wait=True)
        if short == "key":
            raise QuotaExhausted(
                f"This request could cost up to {amount} quota units, more than this API key has left; lower "
                "max_tokens, or ask the operator to raise the key's quota.", code="insufficient_token_quota"
            )
        if short == "user":
            raise QuotaExhausted(
                f"This request could cost up to {amount} quota units, more than your balance holds; lower "
                "max_tokens, or top up your balance.", code="insufficient_user_quota"
            )
        self._open += 1
        return res

    async def settle(self, res: Reservation, actual: int, log_row: LogRow, *, also: Also | None = None) -> int:
        """Charge the real cost (refunding the rest) and write the log row, and what `also` writes, in one
        transaction, durably unless relaxed; returns what was charged (the cost, or less when it ran past the
        reservation and the balance)."""
        self._close(res)
        charged = await self._submit(_Op("settle", res, actual, log_row, also=also), wait=self._durable)
        return charged if isinstance(charged, int) else actual

    async def release(self, res: Reservation, log_row: LogRow) -> None:
        """Give the whole reservation back (a failed request costs nothing) and log the failure."""
        self._close(res)
        await self._submit(_Op("release", res, 0, log_row), wait=self._durable)

    async def record(self, log_row: LogRow) -> None:
        """Log a request that never reserved anything (refused before it could cost)."""
        await self._submit(_Op("record", None, 0, log_row), wait=False)

    async def drain(self) -> None:
        """Wait until every queued operation is committed."""
        while self._pending or self._flusher is not None:
            await self._idle.wait()

    async def close(self) -> None:
        """Commit what is queued and give up this process's lease (nothing is held once requests are done)."""
        await self.drain()
        await self.holding.stop()

    def _close(self, res: Reservation) -> None:
        if res.closed:
            raise RuntimeError("reservation settled twice")
        res.closed = True
        self._open = max(0, self._open - 1)

    async def _submit(self, op: _Op, *, wait: bool) -> int | str | None:
        if self._open == 0 and self._flusher is None and self._db.can_run_inline:
            # A lone request (nothing else in flight, nothing queued) has no one to share a commit with: run
            # its transaction here rather than through a worker thread and back, two thread hand-offs saved.
            # A store that is busy (another process writing) or failing sends it down the queued path,
            # which waits for the lock, retries and reports; the failed attempt rolled back whole.
            try:
                return self._db.run_inline(_batch_runner([op]))[0]  # type: ignore[return-value]
            except Exception:
                log.debug("inline ledger write fell back to the queue", exc_info=True)
        loop = self._loop
        if loop is None or loop.is_closed():
            # asyncio.get_running_loop() makes a getpid() system call on Python 3.11, two a request here:
            # 4 % of the gateway's CPU where system calls are dear (measured, py-spy --native)
            loop = self._loop = asyncio.get_running_loop()
        op.future = loop.create_future()
        self._pending.append(op)
        if self._flusher is None:
            self._idle.clear()
            self._flusher = loop.create_task(self._flush_loop())
        if not wait:
            return None
        return await asyncio.shield(op.future)

    async def _flush_loop(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._db.run(_batch_runner(batch))
                except Exception:
                    log.exception("ledger batch failed; retrying its operations one by one")
                    results = [await self._run_single(op) for op in batch]
                for op, result in zip(batch, results, strict=True):
                    _resolve(op, result)
        finally:
            self._flusher = None
            self._idle.set()

    async def _run_single(self, op: _Op) -> int | str | BaseException | None:
        try:
            return (await self._db.run(_batch_runner([op])))[0]
        except Exception as exc:
            log.exception("ledger operation %s failed", op.kind)
            return exc


def _resolve(op: _Op, result: int | str | BaseException | None) -> None:
    fut = op.future
    if fut is None or fut.done():
        return
    if isinstance(result, BaseException):
        fut.set_exception(ServiceUnavailable("The billing store is unavailable; try again shortly.",
                                             code="store_unavailable"))
        fut.exception()  # nobody may await a relaxed settlement; mark it retrieved
    else:
        fut.set_result(result)


Result = int | str | BaseException | None


def _batch_runner(batch: list[_Op]) -> Callable[[Connection], list[Result]]:
    """One transaction for a batch: settlements first (their refunds may let a reservation fit), then
    reservations one by one; refunds and charges are summed per key and per user."""

    def run(conn: Connection) -> list[Result]:
        sql = LedgerStatements(conn)
        results: dict[int, Result] = {}
        closing = [op.reservation.id for op in batch if op.kind != "reserve" and op.reservation is not None]
        held = sql.unhold(closing)
        key_sums: dict[int, list[int]] = {}
        user_sums: dict[int, list[int]] = {}
        rows: list[tuple[LogRow, int]] = []
        for i, op in enumerate(batch):
            if op.kind == "reserve":
                continue
            res, charged = op.reservation, 0
            if res is not None and op.kind == "settle":
                charged = op.actual
                # A reservation released by recovery (this process lost its lease) was given back whole already.
                reserved = res.amount if res.id in held else 0
                if charged > reserved:
                    # Past the reservation: settle what is pending, then charge only what is left.
                    sql.apply(key_sums, user_sums)
                    key_sums, user_sums = {}, {}
                    charged = reserved + min(charged - reserved,
                                             sql.available(res.key_id, res.user_id, res.key_limited))
                _add(key_sums, user_sums, res, reserved - charged, charged)
            elif res is not None and res.id in held:
                _add(key_sums, user_sums, res, res.amount, 0)
            if op.log_row is not None:
                rows.append((op.log_row, charged))
            results[i] = charged
        sql.apply(key_sums, user_sums)
        sql.insert_logs(rows)
        for op in batch:
            if op.also is not None and op.log_row is not None:
                op.also(conn, op.log_row)
        _reserve_grouped(sql, batch, results)
        return [results[i] for i in range(len(batch))]

    return run


def _add(key_sums: dict[int, list[int]], user_sums: dict[int, list[int]], res: Reservation, refund: int,
         charged: int) -> None:
    k = key_sums.setdefault(res.key_id, [0, 0])
    k[0] += refund if res.key_limited else 0
    k[1] += charged
    u = user_sums.setdefault(res.user_id, [0, 0])
    u[0] += refund
    u[1] += charged


def _reserve_grouped(sql: LedgerStatements, batch: list[_Op], results: dict[int, Result]) -> None:
    """Reservations of one key and user are taken in one conditional statement for their sum; when the sum
    does not fit, each is tried on its own in order, so a group ends as it would one by one. Every reservation
    taken is recorded in the same transaction."""
    groups: dict[tuple[int, int, bool], list[tuple[int, Reservation]]] = {}
    for i, op in enumerate(batch):
        if op.kind == "reserve" and op.reservation is not None:
            r = op.reservation
            groups.setdefault((r.key_id, r.user_id, r.key_limited), []).append((i, r))
    taken: list[Reservation] = []
    for (key_id, user_id, key_limited), members in groups.items():
        if len(members) > 1 and sql.reserve(key_id, user_id, sum(r.amount for _, r in members), key_limited) is None:
            for i, r in members:
                results[i] = None
                taken.append(r)
            continue
        for i, r in members:
            results[i] = short = sql.reserve(key_id, user_id, r.amount, key_limited)
            if short is None:
                taken.append(r)
    now = time.time()
    sql.hold([(r.id, r.holder, r.request_id, r.key_id, r.user_id, r.amount, r.key_limited, r.endpoint, r.model, now)
              for r in taken])
