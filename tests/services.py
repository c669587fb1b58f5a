"""Test services beyond PostgreSQL: the shared Redis, private redis-servers to stop and freeze, HAProxy."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

SHARED_REDIS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parent.parent


def _port_free() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unavailable(what: str, why: str) -> None:
    """A service this test needs is missing: a failure in CI, a skip (with the reason) elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI: {why}")
    pytest.skip(f"{what}: {why}; run scripts/test-services.sh")


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def shared_redis() -> tuple[str, str]:
    """The Redis the machine runs on 6379 (never stopped by a test) and a key prefix of this test's own."""
    if not _answers_ping(6379):
        _unavailable("Redis on 127.0.0.1:6379", "it does not answer PING")
    return SHARED_REDIS, "rgtest-" + secrets.token_hex(4)


class PrivateRedis:
    """A redis-server of this test's own on a free port, to stop, restart, freeze and thaw."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _unavailable("redis-server", "the binary is not installed")
        self.binary = str(binary)
        self.workdir = workdir
        self.port = _port_free()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _answers_ping(self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.thaw()
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def freeze(self) -> None:
        """Stopped by SIGSTOP: connections open and accept, nothing ever answers."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)


class HAProxy:
    """HAProxy (Debian's package) run as this test's own process on the shipped recipe, deploy/haproxy.cfg."""

    CONFIG = ROOT / "deploy" / "haproxy.cfg"

    def __init__(self, workdir: Path, replicas: list[str]) -> None:
        binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
        if binary is None:
            _unavailable("haproxy", "the binary is not installed")
        self.binary = str(binary)
        self.workdir = workdir
        self.port = _port_free()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "RELAYGATE_LB_BIND": f"127.0.0.1:{self.port}"}
        for i, address in enumerate(replicas, start=1):
            self.env[f"RELAYGATE_REPLICA_{i}"] = address
        self.log = workdir / "haproxy.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HAProxy:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([self.binary, "-db", "-f", str(self.CONFIG)], env=self.env, stdout=out,
                                         stderr=out, cwd=self.workdir)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"haproxy did not start:\n{self.log.read_text(errors='replace')}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
