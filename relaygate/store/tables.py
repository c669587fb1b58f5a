"""The relational schema (SQLAlchemy Core); Alembic migrations are generated from it.

Users, keys and channels never reuse an id (SQLite AUTOINCREMENT; PostgreSQL sequences never do), so a log or
audit row always names the thing it was about. Request logs are never deleted, so their plain rowid cannot be
reused, and AUTOINCREMENT would cost every request a write to sqlite_sequence.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

groups = Table(
    "groups",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("multiplier", Float, nullable=False, default=1.0),
    Column("description", String(255), nullable=False, default=""),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("role", String(16), nullable=False, default="user"),
    Column("group_name", String(64), nullable=False, default="default"),
    Column("balance", BigInteger, nullable=False, default=0),
    Column("used_quota", BigInteger, nullable=False, default=0),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("password_hash", String(255), nullable=True),
    sqlite_autoincrement=True,
)

keys = Table(
    "keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("kind", String(16), nullable=False, default="client"),
    Column("name", String(128), nullable=False, default=""),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_hint", String(16), nullable=False),
    Column("unlimited", Boolean, nullable=False, default=False),
    Column("remain_quota", BigInteger, nullable=False, default=0),
    Column("used_quota", BigInteger, nullable=False, default=0),
    Column("expires_at", Float, nullable=True),
    Column("allowed_models", JSON, nullable=True),
    Column("allowed_ips", JSON, nullable=True),
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
    Column("group_name", String(64), nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("mj_mode", String(8), nullable=True),
    sqlite_autoincrement=True,
)

channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("type", String(32), nullable=False, default="openai"),
    Column("base_url", String(512), nullable=False),
    Column("credentials", JSON, nullable=False),
    Column("models", JSON, nullable=False),
    Column("model_mapping", JSON, nullable=False),
    Column("groups", JSON, nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("weight", Integer, nullable=False, default=1),
    Column("timeout", Float, nullable=True),
    Column("status", String(16), nullable=False, default="enabled"),
    Column("status_reason", String(255), nullable=False, default=""),
    Column("test_model", String(128), nullable=True),
    Column("options", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,
)

prices = Table(
    "prices",
    metadata,
    Column("model", String(128), primary_key=True),
    Column("input_per_1m", Float, nullable=False, default=0.0),
    Column("output_per_1m", Float, nullable=True),
    Column("completion_ratio", Float, nullable=False, default=1.0),
    Column("per_call", Float, nullable=True),
    Column("cache_read_per_1m", Float, nullable=True),
    Column("cache_write_per_1m", Float, nullable=True),
    Column("image_input_per_1m", Float, nullable=True),
    Column("per_1m_characters", Float, nullable=True),
    Column("per_second", Float, nullable=True),
    Column("per_image", JSON, nullable=True),
)

request_logs = Table(
    "request_logs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("key_id", Integer, nullable=True),
    Column("user_id", Integer, nullable=True),
    Column("channel_id", Integer, nullable=True),
    Column("endpoint", String(32), nullable=False),
    Column("model", String(128), nullable=False),
    Column("upstream_model", String(128), nullable=False, default=""),
    Column("is_stream", Boolean, nullable=False, default=False),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("cached_tokens", Integer, nullable=False, default=0, server_default="0"),
    Column("cache_write_tokens", Integer, nullable=False, default=0, server_default="0"),
    Column("reasoning_tokens", Integer, nullable=False, default=0, server_default="0"),
    Column("characters", Integer, nullable=False, default=0, server_default="0"),
    Column("audio_seconds", Float, nullable=False, default=0.0, server_default="0"),
    Column("images", Integer, nullable=False, default=0, server_default="0"),
    Column("cost", BigInteger, nullable=False, default=0),
    Column("latency_ms", Float, nullable=False, default=0.0),
    Column("first_chunk_ms", Float, nullable=True),
    Column("status", Integer, nullable=False),
    Column("error_code", String(64), nullable=True),
    Index("ix_request_logs_key_created", "key_id", "created_at"),
    Index("ix_request_logs_user_created", "user_id", "created_at"),
    Index("ix_request_logs_request_id", "request_id"),
)

ledger_holders = Table(
    "ledger_holders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
"""Processes that hold reservations, each with a lease it renews; a lapsed lease (or, on the same host, a
process that is gone) lets any process release what it held."""

reservations = Table(
    "reservations",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("holder", Integer, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("key_id", Integer, nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("key_limited", Boolean, nullable=False),
    Column("endpoint", String(32), nullable=False),
    Column("model", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
)
"""Quota set aside by requests in flight: written with the reservation, deleted with its settlement."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("actor_key_id", Integer, nullable=True),
    Column("actor_user_id", Integer, nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("changes", JSON, nullable=False),
    Index("ix_audit_log_created", "created_at"),
    sqlite_autoincrement=True,
)

settings_kv = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False, default=0),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
)

all_tools_models = Table(
    "all_tools_models",
    metadata,
    Column("model", String(128), primary_key=True),
    Column("base_model", String(128), nullable=False),
    Column("vision", Boolean, nullable=True),
    Column("context_tokens", Integer, nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
)
"""Models the operator marks all-tools (they read the files their messages name), or un-marks (enabled false)."""

fetch_allow = Table(
    "fetch_allow",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry", String(255), nullable=False, unique=True),
    Column("note", String(255), nullable=False, default=""),
)
"""Allow-list entries (host:port, IP, CIDR) exempt from the fetcher's private-address block, beside
RELAYGATE_FETCH_ALLOW."""

kept_responses = Table(
    "kept_responses",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("key_id", Integer, nullable=False),
    Column("channel_id", Integer, nullable=False),
    Column("model", String(128), nullable=False),
    Column("relayed", Boolean, nullable=False),
    Column("billed", Boolean, nullable=False),
    Column("conversation", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_kept_responses_expires_at", "expires_at"),
)
"""Responses API responses relaygate remembers: which key made each on which channel (follow-ups go there, and
only that key's), and, for those it produced itself over a chat channel (`relayed`), the conversation so far as
JSON items. `billed` is false for a background response whose usage is not yet charged."""

mj_tasks = Table(
    "mj_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("upstream_id", String(64), nullable=False),
    Column("channel_id", Integer, nullable=False),
    Column("key_id", Integer, nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("modal_request_id", String(64), nullable=True),
    Column("action", String(32), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("finished", Boolean, nullable=False, default=False),
    Column("progress", String(8), nullable=False, default="0%"),
    Column("prompt", Text, nullable=True),
    Column("prompt_en", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("state", Text, nullable=True),
    Column("image_url", Text, nullable=True),
    Column("buttons", JSON, nullable=False),
    Column("properties", JSON, nullable=False),
    Column("submit_time", BigInteger, nullable=False),
    Column("start_time", BigInteger, nullable=True),
    Column("finish_time", BigInteger, nullable=True),
    Column("fail_reason", Text, nullable=True),
    Column("timed_out", Boolean, nullable=False, default=False),
    Column("billing", String(16), nullable=False),
    Column("refunded", BigInteger, nullable=False, default=0),
    Column("notify_hook", Text, nullable=True),
    Column("seed", String(64), nullable=True),
    Column("version", Integer, nullable=False, default=0),
    Column("updated_at", Float, nullable=False),
    Index("ix_mj_tasks_key", "key_id", "submit_time"),
    Index("ix_mj_tasks_unfinished", "finished", "submit_time"),
    Index("ix_mj_tasks_billing", "billing", "status"),
)
"""MidJourney tasks: relaygate's id, the upstream's, who owns it, what the upstream last said, and its billing
state (charged → kept when it succeeds, or refunded exactly once when it fails, is cancelled or times out)."""

mj_notifications = Table(
    "mj_notifications",
    metadata,
    Column("task_id", String(32), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("url", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_mj_notifications_due", "next_attempt_at"),
)
"""A task's notifyHook calls still to make, one per state change, written with the change; sent in version
order and deleted once the hook answered (or after the last retry)."""

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
)
"""Random secrets made once and shared by every replica (the key signing MidJourney image links)."""

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_sessions_user", "user_id"),
)
"""Console log-ins: the cookie's token is stored only as its SHA-256; logging out deletes the row."""

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(128), nullable=False),
    Column("address", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_login_failures_who", "username", "address", "created_at"),
)
"""Wrong passwords by username and client address, counted over a window to slow and then lock guessing."""

redemption_codes = Table(
    "redemption_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),
    Column("name", String(128), nullable=False, default=""),
    Column("amount", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("redeemed_at", Float, nullable=True),
    Column("redeemed_by", Integer, nullable=True),
    sqlite_autoincrement=True,
)
"""Codes that top up a balance once: stored as SHA-256 only; redeemed by one conditional update."""

usage_rollup = Table(
    "usage_rollup",
    metadata,
    Column("bucket", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", Integer, primary_key=True, autoincrement=False),
    Column("channel_id", Integer, primary_key=True, autoincrement=False),
    Column("model", String(128), primary_key=True),
    Column("requests", BigInteger, nullable=False, default=0),
    Column("failures", BigInteger, nullable=False, default=0),
    Column("prompt_tokens", BigInteger, nullable=False, default=0),
    Column("completion_tokens", BigInteger, nullable=False, default=0),
    Column("cost", BigInteger, nullable=False, default=0),
    Index("ix_usage_rollup_user", "user_id", "bucket"),
    sqlite_with_rowid=False,
)
"""Request logs summed per hour (bucket: its first second, UTC), user, channel and model; written with the log
rows in the ledger's transaction, so the dashboard reads hours, not rows (0 stands for no user / channel)."""
