"""Refunds of MidJourney tasks that end without a result (FAILURE, CANCEL, or forgotten by the upstream past the
timeout): what their submissions were charged goes back to the key's quota and the user's balance, exactly once.

Each refund is one conditional update of the task's billing state (charged → refunded) in the same transaction
as the balance change and its log row, so two processes sweeping at once (or one sweeping twice after a crash)
refund a task once. A task whose charge is still being settled (its reservation held) waits for a later sweep:
the amount refunded is what the charge's log row says it cost.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

from sqlalchemy import Connection

from relaygate.core.records import LogRow
from relaygate.core.types import MIDJOURNEY
from relaygate.store import task_sql
from relaygate.store.database import Database
from relaygate.store.ledger_sql import LedgerStatements
from relaygate.store.task_sql import RefundCandidate

log = logging.getLogger("relaygate.refunds")

REFUND_FAILURE, REFUND_CANCEL, REFUND_TIMEOUT = "refunded_failure", "refunded_cancel", "refunded_timeout"
"""The error codes of refund log rows (their cost is the amount given back, negative)."""


@dataclass(frozen=True, slots=True)
class Refund:
    task_id: str
    key_id: int
    user_id: int
    amount: int
    reason: str


async def refund_ended_tasks(db: Database, *, limit: int = 500) -> list[Refund]:
    """Refund every task that ended without a result and still holds its charge (up to `limit` at once)."""
    refunds = await db.run(functools.partial(_refund_batch, limit=limit, now=time.time()))
    for r in refunds:
        log.info("refunded a MidJourney task", extra={"task_id": r.task_id, "quota": r.amount, "reason": r.reason})
    return refunds


def _reason(task: RefundCandidate) -> str:
    if task.timed_out:
        return REFUND_TIMEOUT
    return REFUND_CANCEL if task.status == "CANCEL" else REFUND_FAILURE


def _refund_batch(conn: Connection, limit: int, now: float) -> list[Refund]:
    sql = LedgerStatements(conn)
    done: list[Refund] = []
    for task in task_sql.refund_candidates(conn, limit):
        if not task_sql.claim_refund(conn, task.id, task.request_ids):
            continue
        amount = task_sql.charged_for(conn, task.request_ids)
        task_sql.record_refund(conn, task.id, amount)
        reason = _reason(task)
        if amount:
            limited = task_sql.key_limited(conn, task.key_id)
            sql.apply({task.key_id: [amount if limited else 0, -amount]}, {task.user_id: [amount, -amount]})
            sql.insert_logs([(_refund_row(task, reason, now), -amount)])
        done.append(Refund(task.id, task.key_id, task.user_id, amount, reason))
    return done


def _refund_row(task: RefundCandidate, reason: str, now: float) -> LogRow:
    return LogRow(created_at=now, request_id=task.request_ids[0], key_id=task.key_id, user_id=task.user_id,
                  channel_id=task.channel_id, endpoint=MIDJOURNEY, model=MIDJOURNEY, upstream_model="",
                  is_stream=False, prompt_tokens=0, completion_tokens=0, cached_tokens=0, cache_write_tokens=0,
                  reasoning_tokens=0, characters=0, audio_seconds=0.0, images=0, latency_ms=0.0, first_chunk_ms=None,
                  status=200, error_code=reason)
