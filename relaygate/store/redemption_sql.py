"""Redemption codes: created in batches, stored as SHA-256, redeemed exactly once by one conditional update.

The UPDATE that marks a code redeemed is also the check that it was not: of any number of concurrent redeems
only one changes the row (PostgreSQL re-checks the WHERE after the row lock; SQLite has one writer at a time), and
the balance is credited in that same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import Connection, and_, delete, or_, select, update

from relaygate.core.bounds import MAX_QUOTA
from relaygate.store.rows import Row
from relaygate.store.tables import redemption_codes, request_logs, users

Refusal = Literal["unknown", "used", "expired"]


def create_codes(conn: Connection, codes: Sequence[tuple[str, str]], name: str, amount: int,
                 expires_at: float | None) -> list[int]:
    """Store (hash, hint) pairs of one batch; their ids in order."""
    now = time.time()
    ids = []
    for code_hash, hint in codes:
        result = conn.execute(redemption_codes.insert().values(
            code_hash=code_hash, hint=hint, name=name, amount=amount, created_at=now, expires_at=expires_at))
        ident = result.inserted_primary_key
        ids.append(int(ident[0]) if ident else 0)
    return ids


def list_codes(conn: Connection, limit: int, redeemed_by: int | None = None) -> list[Row]:
    stmt = select(redemption_codes).order_by(redemption_codes.c.id.desc()).limit(limit)
    if redeemed_by is not None:
        stmt = stmt.where(redemption_codes.c.redeemed_by == redeemed_by)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def delete_code(conn: Connection, code_id: int) -> Row | None:
    row = conn.execute(select(redemption_codes).where(redemption_codes.c.id == code_id)).mappings().first()
    if row is not None:
        conn.execute(delete(redemption_codes).where(redemption_codes.c.id == code_id))
    return dict(row) if row is not None else None


def redeem(conn: Connection, code_hash: str, user_id: int, now: float) -> tuple[Row, int, int] | Refusal:
    """Mark the code redeemed by the user and credit its amount: (the code, balance before, after); or why not."""
    claimed = conn.execute(
        update(redemption_codes)
        .where(redemption_codes.c.code_hash == code_hash, redemption_codes.c.redeemed_at.is_(None),
               or_(redemption_codes.c.expires_at.is_(None), redemption_codes.c.expires_at > now))
        .values(redeemed_at=now, redeemed_by=user_id)
        .returning(redemption_codes.c.id, redemption_codes.c.hint, redemption_codes.c.name,
                   redemption_codes.c.amount)
    ).mappings().first()
    if claimed is None:
        row = conn.execute(select(redemption_codes.c.redeemed_at)
                           .where(redemption_codes.c.code_hash == code_hash)).first()
        if row is None:
            return "unknown"
        return "used" if row[0] is not None else "expired"
    amount = int(claimed["amount"])
    after = conn.execute(
        update(users).where(and_(users.c.id == user_id, users.c.balance <= MAX_QUOTA - amount))
        .values(balance=users.c.balance + amount).returning(users.c.balance)).scalar()
    if after is None:
        raise BalanceFull  # the transaction rolls back: the code stays unused
    return dict(claimed), int(after) - amount, int(after)


def log_redemption(conn: Connection, request_id: str, user_id: int, amount: int, now: float) -> None:
    """The redemption's row in the request log: endpoint `redeem`, the amount credited as a negative cost."""
    conn.execute(request_logs.insert().values(
        created_at=now, request_id=request_id, key_id=None, user_id=user_id, channel_id=None, endpoint="redeem",
        model="redemption code", upstream_model="", is_stream=False, prompt_tokens=0, completion_tokens=0,
        cost=-amount, latency_ms=0.0, status=200))


class BalanceFull(Exception):
    """The balance would pass MAX_QUOTA (or the user is gone); the redeem is undone."""
