"""A failure nobody foresaw still answers JSON with a request id and is logged: in an admin route, in any other
route (aiohttp's own 500), and when a worker process dies the server's exit status says so."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from pathlib import Path

import aiohttp
import httpx2 as httpx
import pytest
from aiohttp import web

from relaygate.config import Settings
from relaygate.server import runner
from relaygate.server.admin_api import AdminCall, AdminRoute, handler
from relaygate.server.app import create_app
from relaygate.server.protocol import JsonErrorRunner
from tests.conftest import ADMIN_KEY, Relaygate, free_port


async def _boom(_: object) -> None:
    raise RuntimeError("a bug with a secret sk-should-not-leak in it")


async def _answers(tmp_path: Path) -> list[tuple[int, str, dict[str, object]]]:
    settings = Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, port=free_port(), config_poll_interval=3600,
                        probe_interval=3600)
    app = create_app(settings)

    async def call(c: AdminCall) -> None:
        await _boom(c)

    app.router.add_get("/api/boom", handler(AdminRoute("GET", "/api/boom", call, "fails")))
    app.router.add_get("/boom", _boom)
    runner = JsonErrorRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    answers = []
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{settings.port}") as http:
            for path in ("/api/boom", "/boom"):
                async with http.get(path, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as resp:
                    answers.append((resp.status, resp.headers.get("X-Request-Id", ""), await resp.json()))
    finally:
        await runner.cleanup()
    return answers


def test_an_unforeseen_failure_is_a_logged_json_500(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        answers = asyncio.run(_answers(tmp_path))
    for status, request_id, body in answers:
        assert status == 500 and request_id.startswith("req_")
        error = body["error"]
        assert isinstance(error, dict) and set(error) == {"message", "type", "param", "code"}
        assert "sk-should-not-leak" not in str(body) and "Traceback" not in str(body)
        assert any(getattr(r, "request_id", None) == request_id for r in caplog.records), request_id


def _workers(pid: int) -> list[int]:
    """The serving processes of `relaygate serve --workers N` (multiprocessing's resource tracker is no worker)."""
    children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def _listeners(port: int) -> int:
    """Sockets listening on `port` (each worker of `--workers N` has its own, through SO_REUSEPORT)."""
    found = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            found += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
    return found


def _serves(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_a_worker_that_cannot_start_stops_the_others_with_a_non_zero_exit(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # serve() tries the address first; this is the race it cannot close (the port taken after that try)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, port=taken.getsockname()[1], workers=2)
        asyncio.run(runner._bootstrap(settings))
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            assert runner._supervise(settings) == 1
        finally:  # _supervise forwards these to its workers: this process's own come back
            for sig, previous in handlers.items():
                signal.signal(sig, previous)
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert f"relaygate: cannot listen on 127.0.0.1:{settings.port}" in err
    assert err.strip().splitlines()[-1].endswith("exited while starting; stopped the others")


def test_a_worker_that_dies_makes_the_exit_status_non_zero(tmp_path: Path) -> None:
    rg = Relaygate(tmp_path).start("--workers", "2")
    try:
        assert rg.proc is not None
        deadline = time.monotonic() + 20
        while len(_workers(rg.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _workers(rg.proc.pid)
        assert len(workers) == 2
        rg.wait_for(lambda: _listeners(rg.port) == 2, timeout=20)  # both started: a death now is a later failure
        os.kill(workers[0], signal.SIGKILL)
        rg.wait_for(lambda: _serves(rg.url))  # the other still does (a new connection: the old may be the dead one's)
        assert rg.stop() == 1
    finally:
        rg.close()
