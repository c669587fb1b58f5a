"""Running it: streaming pass-through timing, health, metrics, JSON logs, graceful SIGTERM, workers."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine, inspect

from relaygate.store.database import HEAD_REVISION, MIGRATIONS, Database
from tests.conftest import Relaygate, Tenant, _postgres_database, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _stream_lines(rg: Relaygate, key: str, on_first: threading.Event | None = None) -> list[str]:
    lines = []
    with httpx.stream("POST", rg.base_url + "/chat/completions", headers={"Authorization": f"Bearer {key}"},
                      json={**CHAT, "stream": True}, timeout=30) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line:
                lines.append(line)
                if on_first is not None and '"content"' in line:
                    on_first.set()
    return lines


def test_chunks_reach_the_client_before_the_upstream_finishes(relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [fresh_mock.base_url])
    fresh_mock.stream_delay = 0.2
    fresh_mock.stream_chunks = 6
    first_seen: list[float] = []
    with httpx.stream("POST", relaygate.base_url + "/chat/completions", headers={"Authorization": f"Bearer {t.key}"},
                      json={**CHAT, "stream": True}, timeout=30) as resp:
        for line in resp.iter_lines():
            if '"content":"hello' in line.replace(" ", "") and not first_seen:
                first_seen.append(time.monotonic())
    assert first_seen and fresh_mock.streams_finished_at
    assert first_seen[0] < fresh_mock.streams_finished_at[0] - 0.5


def test_health_readiness_and_metrics(relaygate: Relaygate, tenant: Tenant) -> None:
    assert relaygate.http.get("/healthz").json() == {"status": "ok"}
    assert relaygate.http.get("/readyz").json() == {"status": "ready"}
    relaygate.client(tenant.key).chat.completions.create(**CHAT)  # type: ignore[call-overload]
    relaygate.http.post("/v1/chat/completions", headers={"Authorization": "Bearer sk-bad"}, json=CHAT)
    text = relaygate.http.get("/metrics").text
    assert 'relaygate_requests_total{model="gpt-4o-mini",route="chat",status="200"}' in text
    assert 'relaygate_requests_total{model="other",route="chat",status="401"}' in text
    assert "relaygate_request_duration_seconds_bucket" in text
    assert 'relaygate_tokens_total{kind="prompt",model="gpt-4o-mini"}' in text


def test_upstream_errors_are_counted_per_channel(relaygate: Relaygate, fresh_mock: MockOpenAI) -> None:
    t = make_tenant(relaygate, [fresh_mock.base_url])
    fresh_mock.fail_next("500")
    relaygate.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {t.key}"}, json=CHAT)
    assert f'relaygate_upstream_errors_total{{channel="{t.group}-ch0",reason="500"}} 1.0' in relaygate.http.get(
        "/metrics").text


def test_logs_are_json_lines_with_the_request_id(relaygate: Relaygate, tenant: Tenant) -> None:
    resp = relaygate.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {tenant.key}"}, json=CHAT)
    rid = resp.headers["X-Request-Id"]
    relaygate.wait_for(lambda: rid in relaygate.stderr_path.read_text())
    entries = [json.loads(line) for line in relaygate.stderr_path.read_text().splitlines() if line.startswith("{")]
    [entry] = [e for e in entries if e.get("request_id") == rid]
    assert entry["status"] == 200 and entry["path"] == "/v1/chat/completions" and entry["level"] == "info"


def test_log_lines_are_written_in_batches_but_warnings_at_once_and_in_order() -> None:
    import io
    import logging

    from relaygate.server.logs import BatchingHandler, JsonFormatter

    out = io.StringIO()
    handler = BatchingHandler(out, interval=0.3)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.batching")
    logger.handlers[:], logger.propagate, logger.level = [handler], False, logging.INFO
    logger.info("first", extra={"request_id": "req_1"})
    handler.add('{"msg":"preformatted"}')
    assert out.getvalue() == ""  # held for the batch
    logger.warning("trouble")  # a warning goes out at once, after what was waiting
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == ["first", "preformatted", "trouble"]
    assert lines[0]["request_id"] == "req_1" and lines[2]["level"] == "warning"
    logger.info("later")
    deadline = time.monotonic() + 5
    while "later" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(out.getvalue().splitlines()[-1])["msg"] == "later"  # written by the flush thread


def test_lines_still_waiting_for_their_batch_are_written_at_exit() -> None:
    script = ("import logging, sys\n"
              "from relaygate.server.logs import BatchingHandler\n"
              "logging.getLogger().handlers[:] = [BatchingHandler(sys.stderr, interval=600)]\n"
              "logging.getLogger('x').warning('now'); logging.getLogger('x').error('at once')\n"
              "logging.getLogger('x').setLevel('INFO'); logging.getLogger('x').info('waiting')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stderr.splitlines() == ["now", "at once", "waiting"]


def test_sigterm_drains_in_flight_streams_then_exits(tmp_path: Path, fresh_mock: MockOpenAI) -> None:
    rg = Relaygate(tmp_path, env={"RELAYGATE_DRAIN_SECONDS": "1"}).start()
    try:
        t = make_tenant(rg, [fresh_mock.base_url])
        fresh_mock.stream_delay = 0.3
        fresh_mock.stream_chunks = 8
        first = threading.Event()
        result: list[list[str]] = []
        worker = threading.Thread(target=lambda: result.append(_stream_lines(rg, t.key, first)))
        worker.start()
        assert first.wait(10)
        assert rg.proc is not None
        rg.proc.send_signal(signal.SIGTERM)
        rg.wait_for(lambda: rg.http.get("/readyz").status_code == 503, timeout=5)
        worker.join(20)
        assert result and result[0][-1] == "data: [DONE]"
        assert rg.proc.wait(20) == 0
    finally:
        rg.close()
    restarted = Relaygate(tmp_path).start()
    try:
        [row] = restarted.ok("GET", f"/api/logs?key_id={t.key_id}")
        assert row["status"] == 200 and row["is_stream"] is True and row["first_chunk_ms"] > 0
    finally:
        restarted.close()


def test_two_workers_share_the_port(tmp_path: Path, postgres_url: str, mock: MockOpenAI) -> None:
    rg = Relaygate(tmp_path, env={"RELAYGATE_DATABASE_URL": postgres_url}).start("--workers", "2")
    try:
        t = make_tenant(rg, [mock.base_url])
        # Each worker sees the new key once its catalog poll (0.2 s here) has run.
        models = rg.base_url + "/models"
        rg.wait_for(lambda: all(httpx.get(models, headers={"Authorization": f"Bearer {t.key}"}).status_code == 200
                                for _ in range(10)))
        statuses = {httpx.post(rg.base_url + "/chat/completions", headers={"Authorization": f"Bearer {t.key}"},
                               json=CHAT, timeout=30).status_code for _ in range(20)}
        assert statuses == {200}
        assert len(rg.ok("GET", f"/api/logs?key_id={t.key_id}")) == 20
    finally:
        assert rg.stop() == 0
        rg.close()


def test_head_revision_is_alembics_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def test_a_migrated_database_starts_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    probe = ("import sys; from relaygate.store.database import Database; db = Database(sys.argv[1]); "
             "before = db.revision(); db.migrate(); print(before, db.revision(), 'alembic' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, check=True)
    assert first.stdout.split() == ["None", HEAD_REVISION, "False"]  # a new database: created and stamped
    again = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, check=True)
    assert again.stdout.split() == [HEAD_REVISION, HEAD_REVISION, "False"]


def _alembic_upgrade(url: str, revision: str) -> None:
    db = Database(url)
    db.upgrade(revision)
    db.close()


def _schema(url: str) -> dict[str, object]:
    """Everything about the tables a schema difference could show in: columns, keys, indexes, revision."""
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        out: dict[str, object] = {}
        for table in sorted(insp.get_table_names()):
            out[table] = {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                                  for c in insp.get_columns(table)),
                "pk": insp.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                              for f in insp.get_foreign_keys(table)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in insp.get_indexes(table)),
                "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            }
        with engine.connect() as conn:
            out["revision"] = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        return out
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_new_database_gets_the_schema_every_migration_makes(backend: str, tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            created, migrated = f"sqlite:///{tmp_path}/created.db", f"sqlite:///{tmp_path}/migrated.db"
        else:
            created, migrated = (stack.enter_context(_postgres_database()) for _ in range(2))
        db = Database(created)
        db.migrate()
        db.close()
        _alembic_upgrade(migrated, "head")
        assert _schema(created) == _schema(migrated)


def test_a_database_at_an_older_revision_is_migrated_by_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    _alembic_upgrade(url, "0001")
    db = Database(url)
    assert db.revision() == "0001"
    db.migrate()
    assert db.revision() == HEAD_REVISION
    db.close()
    fresh = f"sqlite:///{tmp_path}/fresh.db"
    _alembic_upgrade(fresh, "head")
    assert _schema(url) == _schema(fresh)


def test_the_embedded_default_carries_no_postgresql_or_redis_driver_in_memory(tmp_path: Path) -> None:
    """SQLite and the in-process limiter are the default: psycopg and redis-py (≈ 15 MiB between them) are
    imported only when the configuration names PostgreSQL or Redis; the audio, password and charset libraries
    only when a transcription, a log-in or a text file in another encoding needs them."""
    lazy = ('psycopg', 'redis', 'hiredis', 'mutagen', 'argon2', 'charset_normalizer')
    code = ("import sys, relaygate.server.app, relaygate.cli; "
            f"print(sorted(m for m in {lazy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.strip() == "[]"
