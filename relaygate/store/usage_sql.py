"""What the dashboards read: sums over the hourly usage rollup (never the request logs themselves)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, func, select

from relaygate.store.tables import channels, keys, usage_rollup, users

_R = usage_rollup.c


@dataclass(frozen=True, slots=True)
class Sums:
    requests: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: int = 0


_SUMS = (func.sum(_R.requests), func.sum(_R.failures), func.sum(_R.prompt_tokens), func.sum(_R.completion_tokens),
         func.sum(_R.cost))


def _sums(values: tuple[object, ...]) -> Sums:
    return Sums(*(int(v or 0) for v in values))  # type: ignore[call-overload]


def _where(start: int, end: int, user_id: int | None) -> list[ColumnElement[bool]]:
    clauses = [_R.bucket >= start, _R.bucket < end]
    if user_id is not None:
        clauses.append(_R.user_id == user_id)
    return clauses


def by_hour(conn: Connection, start: int, end: int, user_id: int | None = None) -> dict[int, Sums]:
    rows = conn.execute(select(_R.bucket, *_SUMS).where(*_where(start, end, user_id)).group_by(_R.bucket))
    return {int(r[0]): _sums(tuple(r[1:])) for r in rows}


def by_model(conn: Connection, start: int, end: int, user_id: int | None = None) -> dict[str, Sums]:
    rows = conn.execute(select(_R.model, *_SUMS).where(*_where(start, end, user_id)).group_by(_R.model))
    return {str(r[0]): _sums(tuple(r[1:])) for r in rows}


def by_model_and_channel(conn: Connection, start: int, end: int,
                         user_id: int | None = None) -> dict[tuple[str, int], Sums]:
    """Per model and channel: one scan of the range serves both breakdowns (models × channels rows come back)."""
    rows = conn.execute(select(_R.model, _R.channel_id, *_SUMS).where(*_where(start, end, user_id))
                        .group_by(_R.model, _R.channel_id))
    return {(str(r[0]), int(r[1])): _sums(tuple(r[2:])) for r in rows}


def channel_names(conn: Connection) -> dict[int, str]:
    return {int(i): str(n) for i, n in conn.execute(select(channels.c.id, channels.c.name))}


def balance(conn: Connection, user_id: int) -> tuple[int, int] | None:
    """(balance, used quota) of a user."""
    row = conn.execute(select(users.c.balance, users.c.used_quota).where(users.c.id == user_id)).first()
    return None if row is None else (int(row[0]), int(row[1]))


def key_quota(conn: Connection, key_id: int) -> tuple[bool, int, int, float | None, int] | None:
    """(unlimited, remaining quota, used quota, expires_at, owner) of a key, for the OpenAI-style billing routes."""
    row = conn.execute(select(keys.c.unlimited, keys.c.remain_quota, keys.c.used_quota, keys.c.expires_at,
                              keys.c.user_id).where(keys.c.id == key_id)).first()
    return None if row is None else (bool(row[0]), int(row[1]), int(row[2]), row[3], int(row[4]))
