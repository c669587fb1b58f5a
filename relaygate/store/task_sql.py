"""MidJourney tasks in the store: the task rows, what the poller reads and writes each round, the notifyHook
outbox, the statements a refund is made of, and the signing key of image links."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, astuple, dataclass, fields
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, and_, bindparam, case, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from relaygate.core.types import JsonObject, JsonValue
from relaygate.store.tables import keys, mj_notifications, mj_tasks, request_logs, reservations, signing_keys

CHARGED, KEPT, REFUNDED = "charged", "kept", "refunded"
"""A task's billing state: charged at submission; kept once it succeeds; refunded (once) when it does not."""
REFUNDABLE_STATUSES = ("FAILURE", "CANCEL")


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A task as stored: relaygate's id and owner, the upstream's id and what the upstream last said."""

    id: str
    upstream_id: str
    channel_id: int
    key_id: int
    user_id: int
    request_id: str
    """The submission that charged for it (its log row holds the charge)."""
    action: str
    mode: str
    status: str
    submit_time: int
    updated_at: float
    modal_request_id: str | None = None
    """The submit/modal that confirmed it, charged on its own."""
    finished: bool = False
    progress: str = "0%"
    prompt: str | None = None
    prompt_en: str | None = None
    description: str | None = None
    state: str | None = None
    image_url: str | None = None
    """The upstream's URL: never shown to a client (they get relaygate's signed link)."""
    buttons: list[JsonValue] | None = None
    properties: JsonObject | None = None
    start_time: int | None = None
    finish_time: int | None = None
    fail_reason: str | None = None
    timed_out: bool = False
    billing: str = CHARGED
    refunded: int = 0
    notify_hook: str | None = None
    seed: str | None = None
    version: int = 0


_ROW_FIELDS = tuple(f.name for f in fields(TaskRow))


def _row(r: Any) -> TaskRow:
    values = {name: r[name] for name in _ROW_FIELDS}
    values["buttons"] = values["buttons"] or []
    values["properties"] = values["properties"] or {}
    return TaskRow(**values)


_INSERT = f"INSERT INTO mj_tasks ({', '.join(_ROW_FIELDS)}) VALUES ({', '.join('?' for _ in _ROW_FIELDS)})"
_JSON_FIELDS = (_ROW_FIELDS.index("buttons"), _ROW_FIELDS.index("properties"))


def insert_task(conn: Connection, row: TaskRow) -> None:
    """One statement on the driver's cursor (every submission makes one): SQLAlchemy's statement building cost
    five times the insert itself."""
    values: list[Any] = list(astuple(row))
    buttons, properties = _JSON_FIELDS
    values[buttons] = orjson.dumps(row.buttons or []).decode()
    values[properties] = orjson.dumps(row.properties or {}).decode()
    sql = _INSERT if conn.dialect.name == "sqlite" else _INSERT.replace("?", "%s")
    conn.connection.dbapi_connection.cursor().execute(sql, values)  # type: ignore[union-attr]


def task_by_id(conn: Connection, task_id: str) -> TaskRow | None:
    found = conn.execute(select(mj_tasks).where(mj_tasks.c.id == task_id)).mappings().first()
    return _row(found) if found is not None else None


def tasks_of_key(conn: Connection, key_id: int, ids: Sequence[str]) -> list[TaskRow]:
    """The key's own tasks among `ids`, in the order asked (another key's, or unknown ones, are left out)."""
    if not ids:
        return []
    rows = conn.execute(select(mj_tasks).where(mj_tasks.c.id.in_(ids), mj_tasks.c.key_id == key_id)).mappings()
    by_id = {r["id"]: _row(r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def confirm_modal(conn: Connection, task_id: str, *, request_id: str, prompt: str, mode: str, now: float) -> bool:
    """A MODAL task confirmed by submit/modal: it runs from the start (its timeout counted from now), and its
    confirmation is charged on its own."""
    stmt = update(mj_tasks).where(mj_tasks.c.id == task_id, mj_tasks.c.status == "MODAL").values(
        status="NOT_START", progress="0%", prompt=prompt, mode=mode, modal_request_id=request_id,
        submit_time=int(now * 1000), version=mj_tasks.c.version + 1, updated_at=now)
    return conn.execute(stmt).rowcount > 0


def set_seed(conn: Connection, task_id: str, seed: str) -> None:
    conn.execute(update(mj_tasks).where(mj_tasks.c.id == task_id).values(seed=seed[:64]))


# ---------------------------------------------------------------- the poller


@dataclass(frozen=True, slots=True)
class PollRow:
    """What the poller compares of an unfinished task with the upstream's answer."""

    id: str
    upstream_id: str
    channel_id: int
    status: str
    progress: str
    image_url: str | None
    fail_reason: str | None
    submit_time: int
    version: int


_POLL_COLUMNS = (mj_tasks.c.id, mj_tasks.c.upstream_id, mj_tasks.c.channel_id, mj_tasks.c.status,
                 mj_tasks.c.progress, mj_tasks.c.image_url, mj_tasks.c.fail_reason, mj_tasks.c.submit_time,
                 mj_tasks.c.version)


def unfinished_tasks(conn: Connection) -> list[PollRow]:
    rows = conn.execute(select(*_POLL_COLUMNS).where(mj_tasks.c.finished.is_(False)))
    return [PollRow(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class TaskChange:
    """What the upstream now says of a task (or that it timed out), applied if the task is still at `version`."""

    id: str
    version: int
    status: str
    progress: str
    finished: bool
    image_url: str | None = None
    fail_reason: str | None = None
    start_time: int | None = None
    finish_time: int | None = None
    buttons: list[JsonValue] | None = None
    prompt_en: str | None = None
    description: str | None = None
    properties: JsonObject | None = None
    timed_out: bool = False


_JSON_OR_NULL = JSON(none_as_null=True)
"""A change's None means "as it was" (SQL NULL for COALESCE), not JSON null."""
_CHANGE = update(mj_tasks).where(mj_tasks.c.id == bindparam("t_id"), mj_tasks.c.version == bindparam("t_version"))


def apply_changes(conn: Connection, changes: Sequence[TaskChange], snapshot: Callable[[TaskRow], str],
                  now: float) -> list[TaskRow]:
    """Write each change whose task is still at the version it was read at (another replica may have written
    it meanwhile), and for each one written queue a notifyHook call with `snapshot(row)`, in one transaction.
    A success keeps its charge. Returns the rows as written."""
    if not changes:
        return []
    stmt = _CHANGE.values(
        status=bindparam("t_status"), progress=bindparam("t_progress"), finished=bindparam("t_finished"),
        image_url=bindparam("t_image_url"), fail_reason=bindparam("t_fail_reason"),
        start_time=bindparam("t_start_time"), finish_time=bindparam("t_finish_time"),
        buttons=func.coalesce(bindparam("t_buttons", type_=_JSON_OR_NULL), mj_tasks.c.buttons),
        prompt_en=func.coalesce(bindparam("t_prompt_en"), mj_tasks.c.prompt_en),
        description=func.coalesce(bindparam("t_description"), mj_tasks.c.description),
        properties=func.coalesce(bindparam("t_properties", type_=_JSON_OR_NULL), mj_tasks.c.properties),
        timed_out=bindparam("t_timed_out"),
        billing=case((and_(bindparam("t_status") == "SUCCESS", mj_tasks.c.billing == CHARGED), KEPT),
                     else_=mj_tasks.c.billing),
        version=mj_tasks.c.version + 1, updated_at=now)
    conn.execute(stmt, [{f"t_{k}": v for k, v in asdict(c).items()} for c in changes])
    expected = {c.id: c.version + 1 for c in changes}
    written = [_row(r) for r in conn.execute(select(mj_tasks).where(mj_tasks.c.id.in_(list(expected)))).mappings()
               if r["version"] == expected[r["id"]]]
    queue_notifications(conn, [(row, snapshot(row)) for row in written if row.notify_hook], now)
    return written


def queue_notifications(conn: Connection, items: Iterable[tuple[TaskRow, str]], now: float) -> None:
    values = [{"task_id": row.id, "version": row.version, "url": row.notify_hook, "payload": payload,
               "attempts": 0, "next_attempt_at": now, "created_at": now} for row, payload in items]
    if values:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(mj_notifications).on_conflict_do_nothing(), values)


# ---------------------------------------------------------------- the notifyHook outbox


@dataclass(frozen=True, slots=True)
class Notification:
    task_id: str
    version: int
    url: str
    payload: str
    attempts: int


def due_notifications(conn: Connection, now: float, limit: int) -> list[Notification]:
    """The first waiting call of each task whose next attempt is due (a task's later calls wait for it)."""
    n = mj_notifications.alias("n")
    first = select(func.min(mj_notifications.c.version)).where(
        mj_notifications.c.task_id == n.c.task_id).scalar_subquery()
    rows = conn.execute(select(n.c.task_id, n.c.version, n.c.url, n.c.payload, n.c.attempts)
                        .where(n.c.next_attempt_at <= now, n.c.version == first)
                        .order_by(n.c.next_attempt_at).limit(limit))
    return [Notification(*r) for r in rows]


def notification_done(conn: Connection, task_id: str, version: int) -> None:
    conn.execute(mj_notifications.delete().where(mj_notifications.c.task_id == task_id,
                                                 mj_notifications.c.version == version))


def notification_retry(conn: Connection, task_id: str, version: int, attempts: int, next_attempt_at: float) -> None:
    conn.execute(update(mj_notifications).where(mj_notifications.c.task_id == task_id,
                                                mj_notifications.c.version == version)
                 .values(attempts=attempts, next_attempt_at=next_attempt_at))


def next_notification_at(conn: Connection) -> float | None:
    value = conn.execute(select(func.min(mj_notifications.c.next_attempt_at))).scalar()
    return float(value) if value is not None else None


# ---------------------------------------------------------------- refunds (billing/refunds.py runs them)


@dataclass(frozen=True, slots=True)
class RefundCandidate:
    id: str
    key_id: int
    user_id: int
    channel_id: int
    request_ids: tuple[str, ...]
    status: str
    timed_out: bool


def refund_candidates(conn: Connection, limit: int) -> list[RefundCandidate]:
    """Tasks that ended without a result and still hold their charge."""
    t = mj_tasks.c
    rows = conn.execute(select(t.id, t.key_id, t.user_id, t.channel_id, t.request_id, t.modal_request_id, t.status,
                               t.timed_out).where(t.billing == CHARGED, t.status.in_(REFUNDABLE_STATUSES))
                        .limit(limit))
    return [RefundCandidate(r.id, r.key_id, r.user_id, r.channel_id,
                            tuple(i for i in (r.request_id, r.modal_request_id) if i), r.status, r.timed_out)
            for r in rows]


def claim_refund(conn: Connection, task_id: str, request_ids: Sequence[str]) -> bool:
    """Move the task from charged to refunded, unless another process did first or one of its charges is still
    being settled (its reservation is held: the charge is not in the log yet; a later round refunds it)."""
    in_flight = exists().where(reservations.c.request_id.in_(request_ids))
    stmt = update(mj_tasks).where(mj_tasks.c.id == task_id, mj_tasks.c.billing == CHARGED, ~in_flight) \
        .values(billing=REFUNDED)
    return conn.execute(stmt).rowcount > 0


def charged_for(conn: Connection, request_ids: Sequence[str]) -> int:
    """What the requests were charged, as their log rows say (a refund row, negative, is not a charge)."""
    value = conn.execute(select(func.coalesce(func.sum(request_logs.c.cost), 0))
                         .where(request_logs.c.request_id.in_(request_ids), request_logs.c.cost > 0)).scalar()
    return int(value or 0)


def record_refund(conn: Connection, task_id: str, amount: int) -> None:
    conn.execute(update(mj_tasks).where(mj_tasks.c.id == task_id).values(refunded=amount))


def key_limited(conn: Connection, key_id: int) -> bool:
    """Whether the key has a quota to give back to (an unlimited key's remaining quota is not counted)."""
    return conn.execute(select(keys.c.unlimited).where(keys.c.id == key_id)).scalar() is False


# ---------------------------------------------------------------- signing keys


def signing_secret(conn: Connection, name: str) -> str:
    """The named secret, made (randomly, once, by whichever process comes first) when missing."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(signing_keys).values(name=name, secret=secrets.token_urlsafe(48), created_at=time.time())
                 .on_conflict_do_nothing())
    return str(conn.execute(select(signing_keys.c.secret).where(signing_keys.c.name == name)).scalar_one())
