"""Runtime configuration, built once from RELAYGATE_* variables and handed down."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from relaygate.core.bounds import MAX_USD

_KEY = re.compile(r"[\x21-\x7e]{8,256}")
"""A key value relaygate accepts (an imported key's rule): 8 to 256 printable ASCII characters, no spaces."""
_PUBLIC_URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")
_DATABASE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg"})
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ORIGIN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s/,*]+$|^\*$")
"""What a browser sends as Origin: scheme://host[:port] (https://chat.example.com, chrome-extension://id)."""


class ConfigError(Exception):
    """A mistake in the operator's settings, in a message that names the file, field or variable."""


class Settings(BaseSettings):
    """Everything an operator can set; environment variables are RELAYGATE_<NAME>."""

    # allow_inf_nan=False: "inf" seconds of grace or a NaN price is a typing mistake, refused at start
    model_config = SettingsConfigDict(env_prefix="RELAYGATE_", extra="ignore", allow_inf_nan=False)

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)
    data_dir: Path = Path("data")
    database_url: str = ""
    redis_url: str = ""
    redis_fail_mode: Literal["open", "closed"] = Field(
        default="open", description="Redis unreachable: open serves and counts in process, closed answers 503")
    redis_timeout: float = Field(default=0.25, gt=0, description="seconds a Redis call may take before it counts "
                                 "as unreachable")
    redis_prefix: str = Field(default="relaygate", min_length=1, description="prefix of every Redis key and channel")
    lease_ttl: float = Field(default=10.0, gt=0, description="seconds a dead replica keeps background work before "
                             "another takes it over")
    admin_key: str = ""
    admin_password: str = Field(default="", description="the console password `admin` gets at first start (else "
                                "one is printed beside the admin key)")
    registration: bool = Field(default=False, description="whether people may create their own console account")
    session_hours: float = Field(default=168.0, gt=0, le=24 * 366, description="how long a console log-in lasts")
    time_zone: str = Field(default="UTC", description="the IANA zone the dashboards count days in")
    config_file: Path | None = None

    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, description="largest multipart upload (an "
                                  "audio file to transcribe, images to edit); 413 as soon as a body passes it")
    retry_count: int = Field(default=2, ge=0, description="extra channels tried after a retryable failure")
    auto_disable_after: int = Field(default=5, ge=1, description="consecutive failures that disable a channel")
    probe_interval: float = Field(default=30.0, gt=0, description="seconds between probes of disabled channels")
    config_poll_interval: float = Field(default=1.0, gt=0, description="seconds between cache freshness checks")
    upstream_connect_timeout: float = Field(default=10.0, gt=0)
    upstream_timeout: float = Field(default=300.0, gt=0, description="default read timeout per channel")
    default_max_tokens: int = Field(default=4096, ge=1, description="reserved output when a request sets none")
    responses_ttl: float = Field(
        default=30 * 86400.0, gt=0, description="seconds a Responses API response is remembered for its follow-ups "
        "(its channel and key; on Claude and Gemini channels its conversation too)")
    allow_unpriced_models: bool = False
    unpriced_input_per_1m: float = Field(default=0.0, ge=0, le=MAX_USD)
    unpriced_output_per_1m: float = Field(default=0.0, ge=0, le=MAX_USD)
    trust_forwarded_for: bool = False
    drain_seconds: float = Field(default=0.0, ge=0, description="readiness 503 before the listener closes")
    shutdown_grace: float = Field(default=30.0, ge=0, description="seconds in-flight requests get on SIGTERM")
    log_level: str = "INFO"
    access_log: bool = True
    durable_settlement: bool = True
    reservation_lease_seconds: float = Field(
        default=30.0, ge=1, description="a process's lease on its reservations; a dead process's are released after")
    workers: int = Field(default=1, ge=1, le=256)
    cors_origins: str = Field(default="*", description="origins browsers may call /v1 and the native front doors "
                                                       "from: '*' or a comma-separated list; empty = none")
    admin_cors_origins: str = Field(default="", description="origins browsers may call /api from; empty = none")

    @field_validator("cors_origins", "admin_cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in _split(value):
            if not _ORIGIN.match(origin):
                raise ValueError(f"'{origin}' is not an origin like https://chat.example.com or *")
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if not value:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            driver = make_url(value).drivername
        except (ArgumentError, ValueError):  # never echoed: the URL may hold a password
            driver = None
        if driver not in _DATABASE_DRIVERS:
            raise ValueError("must be a PostgreSQL URL (postgresql://user:password@host:5432/name) or a SQLite one "
                             "(sqlite:////absolute/path/relaygate.db); empty means SQLite in RELAYGATE_DATA_DIR")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix:// (e.g. redis://127.0.0.1:6379/0)")
        return value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str) -> str:
        if value and not _PUBLIC_URL.fullmatch(value):
            raise ValueError("must be an http:// or https:// address such as https://relay.example.com")
        return value

    @field_validator("admin_key")
    @classmethod
    def _admin_key(cls, value: str) -> str:
        if value and not _KEY.fullmatch(value):
            raise ValueError("an admin key is 8 to 256 printable ASCII characters without spaces (e.g. sk-...)")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return value.upper()

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a time zone like UTC, Asia/Shanghai or Europe/Berlin") from None
        return value

    @field_validator("admin_password")
    @classmethod
    def _password(cls, value: str) -> str:
        if value and not 8 <= len(value) <= 256:
            raise ValueError("the admin password must be 8 to 256 characters")
        return value

    def allowed_origins(self, admin: bool) -> frozenset[str]:
        return frozenset(_split(self.admin_cors_origins if admin else self.cors_origins))

    public_url: str = Field(default="", description="the address clients reach relaygate at "
                            "(https://relay.example.com), for the links it hands out; empty: each request's own "
                            "host, and http://HOST:PORT in notifyHook calls")
    mj_poll_interval: float = Field(default=2.0, gt=0, description="seconds between MidJourney poll rounds, and "
                                    "between two questions about a task that is changing")
    mj_poll_max_interval: float = Field(default=30.0, gt=0, description="seconds at most between two questions about "
                                        "a task that is not changing")
    mj_poll_batch: int = Field(default=100, ge=1, le=1000, description="task ids in one list-by-condition call")
    mj_task_timeout: float = Field(default=3600.0, gt=0, description="seconds after which an unfinished MidJourney "
                                   "task is given up and refunded")
    mj_image_url_ttl: float = Field(default=86400.0, gt=0, description="seconds a signed /mj/image link works")
    mj_image_secret: str = Field(default="", description="key signing image links; empty: a random one made once "
                                 "and kept in the database (shared by every replica)")
    mj_hook_attempts: int = Field(default=8, ge=1, description="notifyHook calls tried per change")
    mj_hook_retry_seconds: float = Field(default=2.0, gt=0, description="first notifyHook retry delay (doubling, at "
                                         "most 300 s)")
    mj_hook_timeout: float = Field(default=10.0, gt=0, description="seconds one notifyHook call may take")

    fetch_allow: str = Field(default="", description="comma-separated host:port and CIDR entries exempt from "
                             "the fetcher's private-address block, e.g. 127.0.0.1:8080,10.1.0.0/16")
    fetch_hosts: str = Field(default="", description="comma-separated name=address entries the fetcher resolves "
                             "itself (several addresses joined by |); the addresses are vetted like any other")
    fetch_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1, description="largest file the fetcher downloads")
    fetch_connect_timeout: float = Field(default=5.0, gt=0, description="seconds to resolve and connect")
    fetch_first_byte_timeout: float = Field(default=10.0, gt=0, description="seconds until the response headers")
    fetch_total_timeout: float = Field(default=30.0, gt=0, description="seconds for a whole download with redirects")
    fetch_max_redirects: int = Field(default=5, ge=0)
    fetch_cache_ttl: float = Field(default=900.0, ge=0, description="seconds a read document is kept (0: no cache)")
    fetch_cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0, description="memory the document cache may use")
    file_analysis_max_files: int = Field(default=3, ge=1, description="files (URLs, file parts, images) one "
                                         "request to an all-tools model may name")
    extract_max_pages: int = Field(default=500, ge=1)
    extract_max_sheets: int = Field(default=50, ge=1)
    extract_max_rows: int = Field(default=100_000, ge=1, description="table rows across a workbook's sheets or a CSV")
    extract_max_slides: int = Field(default=500, ge=1)
    extract_max_unpacked_bytes: int = Field(default=256 * 1024 * 1024, ge=1,
                                            description="largest inflated size of a DOCX/XLSX/PPTX")
    extract_max_archive_entries: int = Field(default=10_000, ge=1)
    extract_workers: int = Field(default=2, ge=1, description="files read at once, each in its own process")
    extract_memory_bytes: int = Field(default=1024 * 1024 * 1024, ge=64 * 1024 * 1024,
                                      description="address-space cap of each extraction process")
    extract_timeout: float = Field(default=30.0, gt=0, description="seconds one file's extraction may take")

    @field_validator("fetch_allow")
    @classmethod
    def _valid_allow_list(cls, value: str) -> str:
        from relaygate.fetch.allow import parse_allow_list

        parse_allow_list(value)
        return value

    @field_validator("fetch_hosts")
    @classmethod
    def _valid_host_table(cls, value: str) -> str:
        from relaygate.fetch.resolver import parse_host_table

        parse_host_table(value)
        return value

    def store_dir_error(self, exc: OSError) -> ConfigError:
        """The one line for a SQLite directory that cannot be made (a file in its way, no permission)."""
        source = "RELAYGATE_DATABASE_URL" if self.database_url else "RELAYGATE_DATA_DIR"
        where = f" {exc.filename}" if exc.filename else ""
        return ConfigError(f"{source}: cannot create the database's directory{where}: "
                           f"{(exc.strerror or str(exc)).lower()}")

    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: the configured one (psycopg 3 for PostgreSQL) or SQLite under data_dir."""
        url = self.database_url
        if not url:
            return f"sqlite:///{(self.data_dir / 'relaygate.db').resolve()}"
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url


def _split(value: str) -> list[str]:
    return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
