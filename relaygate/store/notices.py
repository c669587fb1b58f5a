"""Configuration changes pushed by PostgreSQL: LISTEN/NOTIFY tells every replica about a committed change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import Connection, text

from relaygate.store.database import Database

log = logging.getLogger("relaygate.notices")

CONFIG_CHANNEL = "relaygate_config"


def notify_config_changed(conn: Connection) -> None:
    """Inside the change's transaction: PostgreSQL delivers the notice at commit, and never for a rollback."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CONFIG_CHANNEL})


async def follow_config_changes(db: Database, changed: Callable[[], None], *, retry_every: float = 1.0) -> None:
    """Call `changed` for every configuration change committed by any process, until cancelled (PostgreSQL only;
    elsewhere it returns at once). Also called on every (re)connection, for what was missed while not listening."""
    if db.engine.dialect.name != "postgresql":
        return
    import psycopg  # only on PostgreSQL: a SQLite relay does not carry the driver in its memory

    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                await conn.execute(f"LISTEN {CONFIG_CHANNEL}")
                changed()
                async for _ in conn.notifies():
                    changed()
        except psycopg.Error as exc:
            log.warning("configuration notices interrupted (%s); polling until they are back", exc)
        await asyncio.sleep(retry_every)
