"""Ids are never handed out twice, so a log or audit row always names what it was about; the built-in default
group is listed like any other."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from relaygate.store.database import HEAD_REVISION, Database
from tests.conftest import Relaygate


def test_deleted_channels_users_and_keys_never_give_their_id_to_a_new_one(store_relaygate: Relaygate) -> None:
    rg = store_relaygate
    body = {"base_url": "https://upstream.example", "credentials": ["k"], "models": ["m"]}
    first = rg.ok("POST", "/api/channels", {**body, "name": "ids-a"})
    rg.ok("DELETE", f"/api/channels/{first['id']}")
    second = rg.ok("POST", "/api/channels", {**body, "name": "ids-b"})
    assert second["id"] > first["id"]
    user = rg.ok("POST", "/api/users", {"name": "ids-user"})
    key = rg.ok("POST", "/api/keys", {"user_id": user["id"]})
    rg.ok("DELETE", f"/api/users/{user['id']}")
    again = rg.ok("POST", "/api/users", {"name": "ids-user"})
    assert again["id"] > user["id"]
    assert rg.ok("POST", "/api/keys", {"user_id": again["id"]})["id"] > key["id"]


def test_the_default_group_is_listed_until_the_operator_sets_it(store_relaygate: Relaygate) -> None:
    rg = store_relaygate
    [default] = [g for g in rg.ok("GET", "/api/groups") if g["name"] == "default"]
    assert (default["multiplier"], default["builtin"]) == (1.0, True)
    rg.ok("PUT", "/api/groups", {"name": "default", "multiplier": 1.2})
    [default] = [g for g in rg.ok("GET", "/api/groups") if g["name"] == "default"]
    assert (default["multiplier"], default["builtin"]) == (1.2, False)


def test_an_older_sqlite_database_keeps_counting_past_ids_it_deleted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    db = Database(url)
    db.upgrade("0002")
    db.close()
    conn = sqlite3.connect(tmp_path / "old.db")
    channel = ("INSERT INTO channels (name, type, base_url, credentials, models, model_mapping, groups, priority, "
               "weight, status, status_reason, created_at) VALUES (?, 'openai', 'https://x', '[]', '[]', '{}', '[]', "
               "0, 1, 'enabled', '', 0)")
    for name in ("a", "b", "c"):
        conn.execute(channel, (name,))
    conn.execute("INSERT INTO users (name, role, group_name, balance, used_quota, enabled, created_at) "
                 "VALUES ('u', 'user', 'default', 0, 0, 1, 0)")
    conn.execute("INSERT INTO keys (user_id, kind, name, key_hash, key_hint, unlimited, remain_quota, used_quota, "
                 "enabled, created_at) VALUES (1, 'client', '', 'h', 'x', 1, 0, 0, 1, 0)")
    conn.execute("INSERT INTO request_logs (created_at, request_id, key_id, user_id, channel_id, endpoint, model, "
                 "upstream_model, is_stream, prompt_tokens, completion_tokens, cost, latency_ms, status) "
                 "VALUES (0, 'r', 5, 4, 7, 'chat', 'm', 'm', 0, 0, 0, 0, 0, 200)")
    conn.execute("DELETE FROM channels WHERE id = 3")
    conn.commit()
    conn.close()
    db = Database(url)
    db.migrate()
    assert db.revision() == HEAD_REVISION
    db.close()
    conn = sqlite3.connect(tmp_path / "old.db")
    try:
        for table in ("users", "keys", "channels"):
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
            assert "AUTOINCREMENT" in sql, sql
        conn.execute(channel, ("d",))
        assert [r[0] for r in conn.execute("SELECT id FROM channels ORDER BY id")] == [1, 2, 8]  # past log row's 7
        assert conn.execute("SELECT count(*) FROM keys").fetchone()[0] == 1  # rows and foreign keys kept
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert dict(conn.execute("SELECT name, seq FROM sqlite_sequence"))["keys"] == 5
    finally:
        conn.close()


def test_a_new_sqlite_database_never_reuses_ids_either(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/new.db")
    db.migrate()
    db.close()
    conn = sqlite3.connect(tmp_path / "new.db")
    try:
        for table in ("users", "keys", "channels", "audit_log"):
            assert "AUTOINCREMENT" in conn.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                                   (table,)).fetchone()[0]
    finally:
        conn.close()
