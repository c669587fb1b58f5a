"""How the operator's verbs touch the store: one transaction per change, its audit entry inside it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Self, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from relaygate.admin.actor import START_UP, Actor
from relaygate.core.errors import BadRequest, Conflict, RelayError, ServiceUnavailable
from relaygate.store import audit_sql
from relaygate.store.database import Database

T = TypeVar("T")
Audit = Callable[[str, str, Mapping[str, Any]], None]
"""audit(action, target, changes): records one entry in the change's own transaction."""

_SECRET_FIELDS = frozenset({"credentials", "key_hash"})


def redacted(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes with secrets replaced by what may be shown of them (how many credentials, never a value)."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "key_hint" or name not in _SECRET_FIELDS:
            out[name] = value
        elif name == "credentials":
            out[name] = _count(value)
        else:
            out[name] = "changed"
    return out


def _count(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"from", "to"}:
        return {"from": _count(value["from"]), "to": _count(value["to"])}
    return f"{len(value)} credential(s)" if isinstance(value, list) else "changed"


class OperatorBase:
    """The store, the reload hook and who is acting; `by(actor)` gives the same operator acting for someone."""

    def __init__(self, db: Database, changed: Callable[[], Awaitable[Any]] | None = None,
                 actor: Actor = START_UP) -> None:
        self.db = db
        self.changed = changed
        self.actor = actor

    def by(self, actor: Actor) -> Self:
        return type(self)(self.db, self.changed, actor)

    async def _write(self, fn: Callable[[Connection, Audit], T], *, reload: bool = True) -> T:
        """fn(connection, audit) in one transaction; then `changed` (the caches reload) unless the change is none
        of theirs (`reload=False`: passwords, redemption codes)."""
        actor = self.actor

        def run(conn: Connection) -> T:
            def audit(action: str, target: str, changes: Mapping[str, Any]) -> None:
                audit_sql.record(conn, actor=actor.label, actor_key_id=actor.key_id, actor_user_id=actor.user_id,
                                 request_id=actor.request_id, action=action, target=target,
                                 changes=redacted(changes))
            return fn(conn, audit)

        result = await self._run(run)
        if reload and self.changed is not None:
            await self.changed()
        return result

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        return await self._run(fn)

    async def unaudited(self, fn: Callable[[Connection], T]) -> T:
        """fn in one transaction that is no change of the operator's (a log-in, a lookup): no audit entry, and
        the caches are not reloaded."""
        return await self._run(fn)

    async def _run(self, fn: Callable[[Connection], T]) -> T:
        try:
            return await self.db.run(fn)
        except RelayError:
            raise
        except IntegrityError:
            # the checks before each write missed a concurrent one: the database's unique index caught it
            raise Conflict("That name or key value is already taken; choose another.") from None
        except DataError:
            raise BadRequest("A value is out of the range the database holds.") from None
        except OperationalError:
            raise ServiceUnavailable("The database is busy or unreachable; try again shortly.",
                                     code="store_unavailable") from None
