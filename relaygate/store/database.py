"""The database handle: one engine per process, blocking SQL run on worker threads, migrations."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"
WAL_RESTART_FRAMES = 16384
"""WAL frames (pages) after which the background checkpoint rewinds the WAL (≈ 16 MiB at 1 KiB pages)."""
PAGE_SIZE = 1024
"""Page size of a new SQLite database. A commit writes each page it touched whole to the WAL, and a request
touches about eight (key, user, log row, three log indexes): at SQLite's default 4 KiB that was ~33 KiB of WAL
per request, all written back to disk at the next checkpoint, whose burst set the c=1 p99. An existing database
keeps its page size (VACUUM in rollback-journal mode changes it)."""
RESTART_PATIENCE_MS = 20
"""How long a restarting checkpoint waits for readers and writers, holding new writers back meanwhile."""
BOOTSTRAP_LOCK = 0x72656C6179
"""PostgreSQL advisory lock key held while a process migrates and seeds the store (replicas starting together)."""
HEAD_REVISION = "0009"
"""The newest revision in migrations/versions (a test holds it to Alembic's own head). A database already there
starts without importing Alembic, which would stay in the server's memory (≈ 11 MiB) for nothing."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL + synchronous=NORMAL: a commit is in the OS once COMMIT returns, so it survives SIGKILL of
    # the process (not a power cut); busy_timeout lets several processes share the file.
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA page_size={PAGE_SIZE}")  # only takes on a new, empty file; set before WAL mode
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    # A checkpoint fsyncs; left to SQLite it runs inside whichever commit crosses 1,000 pages, which
    # is then a request waiting. The server checkpoints from a background task instead.
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


class Database:
    """Owns the engine and the threads that run blocking SQL for the event loop."""

    def __init__(self, url: str, *, threads: int = 4, background_checkpoint: bool = False,
                 wal_restart_frames: int = WAL_RESTART_FRAMES) -> None:
        self.url = url
        self.wal_restart_frames = wal_restart_frames
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 10}, pool_size=threads + 2
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            if background_checkpoint:
                event.listen(self.engine, "connect", _no_autocheckpoint)
        else:
            self.engine = create_engine(url, pool_size=threads + 2, max_overflow=4, pool_pre_ping=True)
        self.background_checkpoint = self.is_sqlite and background_checkpoint
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="relaygate-db")
        self._inline: Connection | None = None
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint_conn: Any = None

    @property
    def shown_url(self) -> str:
        """The URL without its password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def unusable(self, exc: DBAPIError) -> str:
        """A one-line reason this database cannot be used, naming it (never its password)."""
        lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
        return f"cannot use the database {self.shown_url}: {lines[0] if lines else type(exc).__name__}"

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run fn(connection) inside one transaction on a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self.run_sync, fn))

    @property
    def can_run_inline(self) -> bool:
        return self.is_sqlite

    def run_inline(self, fn: Callable[[Connection], T]) -> T:
        """SQLite only: fn(connection) in one transaction on the calling thread (the event loop), never waiting
        for a lock: when another writer holds it, this raises at once (sqlite3.OperationalError) and the
        transaction rolls back, so the caller can go the waiting way instead. A write here takes tens of µs
        (WAL, no fsync on commit), less than handing it to a thread and back."""
        if self._inline is None:
            self._inline = self.engine.connect()
            self._inline.connection.dbapi_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
        try:
            with self._inline.begin():
                return fn(self._inline)
        except BaseException:
            # never back into the pool: its busy timeout of 0 would make a worker thread's writes fail
            self._inline.invalidate()
            self._inline.close()
            self._inline = None
            raise

    @contextlib.asynccontextmanager
    async def exclusive(self, lock: int) -> AsyncIterator[None]:
        """One process at a time across every replica (a PostgreSQL session advisory lock; SQLite is shared only
        by one host's workers, whose parent bootstraps alone, so there it locks nothing)."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        loop = asyncio.get_running_loop()
        # its own thread: waiting for the lock must not take one of the threads db.run needs meanwhile
        conn = await loop.run_in_executor(None, self.engine.connect)
        try:
            await loop.run_in_executor(None, conn.exec_driver_sql, f"SELECT pg_advisory_lock({lock})")
            yield
        finally:
            def unlock() -> None:
                with contextlib.suppress(DBAPIError):
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({lock})")
                conn.close()

            await loop.run_in_executor(None, unlock)

    def run_sync(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn)

    async def checkpoint_forever(self, interval: float = 1.0) -> None:
        """Fold the SQLite WAL into the database file off the request path. Once a second: pages every request
        writes are copied once per checkpoint, and four a second cost c=64 chat a quarter of its throughput."""
        if not self.background_checkpoint:
            return
        while True:
            await asyncio.sleep(interval)
            await self.checkpoint()

    async def checkpoint(self) -> tuple[int, int]:
        """Passive (writers never wait for it), then restarting once the WAL holds `wal_restart_frames`: under
        steady load a passive checkpoint never catches up, and SQLite rewinds only a fully copied WAL, so it
        grew ~10 MiB/s at c=64 and never shrank. Returns (frames in the WAL, frames copied) of the passive step."""
        if self._checkpointer is None:
            self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relaygate-checkpoint")
        return await asyncio.get_running_loop().run_in_executor(self._checkpointer, self._checkpoint_sync)

    def _checkpoint_sync(self) -> tuple[int, int]:
        if self._checkpoint_conn is None:
            self._checkpoint_conn = self.engine.raw_connection()
            # writers wait while a restarting checkpoint is pending: never long (it gives up, busy, until next time)
            self._checkpoint_conn.execute(f"PRAGMA busy_timeout={RESTART_PATIENCE_MS}")
        _busy, in_wal, done = self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if in_wal >= self.wal_restart_frames:
            self._checkpoint_conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        return int(in_wal), int(done)

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def revision(self) -> str | None:
        """The schema's Alembic revision, None for a database never migrated."""
        try:
            with self.engine.connect() as conn:
                value = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        except DBAPIError:
            return None
        return None if value is None else str(value)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision. A brand-new database (none of relaygate's tables)
        gets the schema tables.py declares, created in one go and stamped at head, without importing Alembic
        (it would stay in memory, ≈ 11 MiB); a test holds that schema equal to every migration applied."""
        current = self.revision()
        if current == HEAD_REVISION:
            return
        if current is None and self._create_fresh():
            return
        self.upgrade("head")

    def upgrade(self, revision: str) -> None:
        """Run the Alembic migrations up to `revision`."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.connect() as conn:
            if self.is_sqlite:
                # A migration that rebuilds a table (SQLite's only way to change it) drops the old one, which
                # foreign keys pointing at it would refuse. The pragma only takes outside a transaction.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, revision)
                    if self.is_sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                        raise RuntimeError("the migration left rows whose foreign keys point nowhere")
            finally:
                if self.is_sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()

    def _create_fresh(self) -> bool:
        from relaygate.store.tables import metadata

        with self.engine.begin() as conn:
            existing = set(inspect(conn).get_table_names())
            if existing & (set(metadata.tables) | {"alembic_version"}):
                return False  # something of ours is there already: only Alembic may change it
            metadata.create_all(conn)
            # the table and key Alembic itself creates, so later migrations run on it as on any other
            conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                                 "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD_REVISION})
        return True

    def close(self) -> None:
        if self._inline is not None:
            self._inline.invalidate()
            self._inline.close()
            self._inline = None
        if self._checkpointer is not None:
            self._checkpointer.shutdown(wait=True)
            if self._checkpoint_conn is not None:
                self._checkpoint_conn.invalidate()  # its short busy timeout must not reach the pool
                self._checkpoint_conn.close()
        self._executor.shutdown(wait=True)
        self.engine.dispose()


def throwaway_engine(url: str) -> Engine:
    """An engine without a pool, for one-off administrative statements."""
    return create_engine(url, poolclass=NullPool)
