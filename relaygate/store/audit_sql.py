"""The audit log: who changed what in the operator's configuration, one row per change."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from relaygate.store.rows import Row
from relaygate.store.tables import audit_log


def record(conn: Connection, *, actor: str, actor_key_id: int | None, actor_user_id: int | None,
           request_id: str | None, action: str, target: str, changes: Mapping[str, Any]) -> None:
    conn.execute(audit_log.insert().values(
        created_at=time.time(), actor=actor[:255], actor_key_id=actor_key_id, actor_user_id=actor_user_id,
        request_id=request_id, action=action, target=target[:255], changes=dict(changes)))


def query(conn: Connection, *, target: str | None = None, action: str | None = None, actor_user_id: int | None = None,
          since: float | None = None, limit: int = 100) -> list[Row]:
    stmt = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if target is not None:
        stmt = stmt.where(audit_log.c.target == target)
    if action is not None:
        stmt = stmt.where(audit_log.c.action == action)
    if actor_user_id is not None:
        stmt = stmt.where(audit_log.c.actor_user_id == actor_user_id)
    if since is not None:
        stmt = stmt.where(audit_log.c.created_at >= since)
    return [dict(r) for r in conn.execute(stmt).mappings()]
