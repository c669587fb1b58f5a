"""Fixtures: real relaygate servers (subprocesses on free ports) and real fake upstreams."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2 as httpx
import openai
import pytest
import trustme

from tests.file_relay import SEED_URL, SeedServer, seed_pdf
from tests.fileserver import ConnectLog, FileServer, InternalServer, LoopThread
from tests.upstreams.midjourney_mock import MockMidjourney

if TYPE_CHECKING:
    from tests.midjourney_env import MjTenant
from tests.upstreams.openai_mock import MockOpenAI

ADMIN_KEY = "sk-admin-" + secrets.token_hex(16)
UPSTREAM_KEY = "sk-upstream-test"
MJ_UPSTREAM_SECRET = "mj-upstream-secret"
PG_ADMIN_URL = os.environ.get("RELAYGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
"""scripts/test-services.sh names the server it found or started (a private cluster on its own port) here."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Relaygate:
    """One `relaygate serve` process with its own data directory and log files."""

    def __init__(self, workdir: Path, *, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + "/v1"
        self.env = {
            **os.environ,
            "RELAYGATE_PORT": str(self.port),
            "RELAYGATE_DATA_DIR": str(workdir / "data"),
            "RELAYGATE_ADMIN_KEY": ADMIN_KEY,
            "RELAYGATE_CONFIG_POLL_INTERVAL": "0.2",
            "RELAYGATE_PROBE_INTERVAL": "0.5",
            "RELAYGATE_UPSTREAM_TIMEOUT": "5",
            **(env or {}),
        }
        self.stdout_path = workdir / f"relaygate-{self.port}.out"
        self.stderr_path = workdir / f"relaygate-{self.port}.err"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def start(self, *args: str) -> Relaygate:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "relaygate.cli", "serve", *args], env=self.env, stdout=out, stderr=err,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"relaygate exited early:\n{self.logs()}")
            try:
                if self.http.get("/readyz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"relaygate did not become ready:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def close(self) -> None:
        self.stop()
        self.http.close()

    def logs(self) -> str:
        parts = [p.read_text(errors="replace") for p in (self.stdout_path, self.stderr_path) if p.exists()]
        return "\n".join(parts)

    def admin(self, method: str, path: str, json: Any = None, key: str = ADMIN_KEY) -> httpx.Response:
        return self.http.request(method, path, json=json, headers={"Authorization": f"Bearer {key}"})

    def ok(self, method: str, path: str, json: Any = None) -> Any:
        resp = self.admin(method, path, json)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def client(self, key: str, **kw: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=kw.pop("timeout", 30), **kw)

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError("condition not reached in time")


@dataclass
class Tenant:
    """A group with its own user, key and channels, so tests never see each other's routing."""

    group: str
    user_id: int
    key_id: int
    key: str
    channel_ids: list[int]


def make_tenant(
    rg: Relaygate,
    upstreams: list[str],
    *,
    models: list[str] | None = None,
    mapping: dict[str, str] | None = None,
    balance: int = 10**12,
    quota: int | None = None,
    key_fields: dict[str, Any] | None = None,
    channel_fields: dict[str, Any] | None = None,
) -> Tenant:
    group = "g" + secrets.token_hex(4)
    rg.ok("PUT", "/api/groups", {"name": group, "multiplier": 1.0})
    user = rg.ok("POST", "/api/users", {"name": "u-" + group, "group": group, "balance": balance})
    channel_ids = []
    for i, base_url in enumerate(upstreams):
        ch = rg.ok("POST", "/api/channels", {
            "name": f"{group}-ch{i}", "base_url": base_url, "credentials": [UPSTREAM_KEY],
            "models": models or ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"],
            "model_mapping": mapping or {}, "groups": [group], **(channel_fields or {}),
        })
        channel_ids.append(ch["id"])
    key = rg.ok("POST", "/api/keys", {"user_id": user["id"], "name": "t", "quota": quota, **(key_fields or {})})
    rg.wait_for(lambda: rg.http.get("/v1/models", headers={"Authorization": f"Bearer {key['key']}"}).status_code != 401)
    return Tenant(group, user["id"], key["id"], key["key"], channel_ids)


@pytest.fixture(scope="session")
def mock() -> Iterator[MockOpenAI]:
    server = MockOpenAI(api_keys=[UPSTREAM_KEY]).start()
    yield server
    server.stop()


@pytest.fixture
def upstream(mock: MockOpenAI) -> Iterator[MockOpenAI]:
    """The session's fake OpenAI upstream with its default behaviour and nothing recorded (audio and image tests),
    given back to the other tests as it was found."""
    mock.reset()
    yield mock
    mock.reset()


@pytest.fixture
def fresh_mock() -> Iterator[MockOpenAI]:
    server = MockOpenAI(api_keys=[UPSTREAM_KEY]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def midjourney_upstream() -> Iterator[MockMidjourney]:
    server = MockMidjourney(secret=MJ_UPSTREAM_SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def midjourney(midjourney_upstream: MockMidjourney) -> MockMidjourney:
    """The fake midjourney-proxy, with no tasks, no recorded requests and default behaviour."""
    midjourney_upstream.reset()
    return midjourney_upstream


@pytest.fixture
def mj(midjourney: MockMidjourney) -> MockMidjourney:
    """The fake midjourney-proxy with tasks that move on every 20 ms (a module may define its own)."""
    midjourney.step_seconds = 0.02
    return midjourney


@pytest.fixture
def t(rg: Relaygate, mj: MockMidjourney) -> MjTenant:
    """A MidJourney tenant on the module's own relaygate `rg` (which each MidJourney test module defines)."""
    from tests.midjourney_env import mj_tenant  # it imports this module

    return mj_tenant(rg, mj)


@pytest.fixture(scope="session")
def relaygate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relaygate]:
    rg = Relaygate(tmp_path_factory.mktemp("relaygate")).start()
    yield rg
    rg.close()


@pytest.fixture
def tenant(relaygate: Relaygate, mock: MockOpenAI) -> Tenant:
    return make_tenant(relaygate, [mock.base_url])


def _postgres_reachable() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    import psycopg

    problem = _postgres_reachable()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable at {PG_ADMIN_URL}: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL} ({problem}); run the tests through "
                    "scripts/test-services.sh (make test does)")
    name = "relaygate_t_" + secrets.token_hex(4)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped after it."""
    with _postgres_database() as url:
        yield url


@contextlib.contextmanager
def _store_server(backend: str, workdir: Path, env: dict[str, str] | None = None) -> Iterator[Relaygate]:
    with contextlib.ExitStack() as stack:
        env = dict(env or {})
        if backend == "postgres":
            env["RELAYGATE_DATABASE_URL"] = stack.enter_context(_postgres_database())
        rg = Relaygate(workdir, env=env).start()
        stack.callback(rg.close)
        yield rg


@pytest.fixture(scope="session")
def aio() -> Iterator[LoopThread]:
    """An event loop in a thread shared by the fetcher's tests (fetchers and extraction workers live on it)."""
    loop = LoopThread()
    yield loop
    loop.stop()


@pytest.fixture(scope="session")
def connect_log() -> ConnectLog:
    return ConnectLog()


@pytest.fixture(scope="session")
def file_server() -> Iterator[FileServer]:
    server = FileServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def internal_server() -> Iterator[InternalServer]:
    server = InternalServer()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store_relaygate(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relaygate]:
    """A relaygate on each store backend, of this module's own, for the tests that must hold on both."""
    with _store_server(request.param, tmp_path_factory.mktemp(request.param)) as rg:
        yield rg


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def shared_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relaygate]:
    """A relaygate on each store backend shared by every module that uses it (tenants keep tests apart); one
    that changes what is not its own (the first admin, server settings) takes store_relaygate instead."""
    with _store_server(request.param, tmp_path_factory.mktemp("shared-" + request.param)) as rg:
        yield rg


@pytest.fixture(scope="session")
def files_upstream() -> Iterator[MockOpenAI]:
    """The fake OpenAI upstream serving the all-tools models' base models."""
    server = MockOpenAI(api_keys=[UPSTREAM_KEY], models=["gpt-4", "gpt-4o", "gpt-4o-mini"]).start()
    yield server
    server.stop()


@dataclass
class FileRelay:
    """A relaygate that reads files from the test file servers (allow-listed), with what it reads them from."""

    rg: Relaygate
    files: FileServer
    seed: SeedServer | None
    """https://www.bt.cn on port 443 of a loopback address, when this machine lets the tests listen there."""
    seed_problem: str | None


@pytest.fixture(scope="session")
def file_relay(tmp_path_factory: pytest.TempPathFactory, file_server: FileServer) -> Iterator[FileRelay]:
    workdir = tmp_path_factory.mktemp("files")
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(workdir / "ca.pem"))
    seed: SeedServer | None = SeedServer(authority)
    assert seed is not None
    seed.files[SEED_URL.removeprefix("https://www.bt.cn")] = seed_pdf()
    problem = None
    try:
        seed.start()
    except RuntimeError as exc:
        problem, seed = f"cannot listen on {seed.address}:443 ({exc.__cause__})", None
    allow = f"127.0.0.1:{file_server.port}" + (f",{seed.address}:443" if seed is not None else "")
    env = {"RELAYGATE_FETCH_ALLOW": allow, "SSL_CERT_FILE": str(workdir / "ca.pem"),
           "RELAYGATE_FETCH_HOSTS": "wiki.test=10.0.0.8,intranet.test=127.0.0.1"
                                    + (f",www.bt.cn={seed.address}" if seed is not None else ""),
           "RELAYGATE_FETCH_TOTAL_TIMEOUT": "2", "RELAYGATE_FETCH_FIRST_BYTE_TIMEOUT": "2",
           "RELAYGATE_FETCH_MAX_BYTES": str(8 * 1024 * 1024)}
    rg = Relaygate(workdir, env=env).start()
    yield FileRelay(rg, file_server, seed, problem)
    rg.close()
    if seed is not None:
        seed.stop()
