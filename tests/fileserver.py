"""Servers and helpers for the fetcher's tests: a file server, an "internal" server that must never be reached,
a long-lived event loop the tests submit coroutines to, and a record of every socket connect the process makes."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import socket
import sys
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from tests.upstreams.server import MockServer

T = TypeVar("T")


@dataclass
class Served:
    body: bytes
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)


class FileServer(MockServer):
    """Serves registered files under /files/<name>, plus redirects, endless and dripping bodies on purpose."""

    NAME = "FileServer"

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, Served] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, name: str, body: bytes, content_type: str = "application/octet-stream", **headers: str) -> str:
        self.files[name] = Served(body, content_type, headers)
        return f"{self.base_url}/files/{name}"

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.requests.append(request)
        parts = request.path.strip("/").split("/")
        route = getattr(self, "_route_" + parts[0].replace("-", "_"), None)
        if route is None:
            return web.Response(status=404, text="no such route")
        response: web.StreamResponse = await route(request, parts[1:])
        return response

    async def _route_files(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        served = self.files.get("/".join(rest))
        if served is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=served.body, headers={"Content-Type": served.content_type, **served.headers})

    async def _route_gzip(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        served = self.files["/".join(rest)]
        return web.Response(body=gzip.compress(served.body),
                            headers={"Content-Type": served.content_type, "Content-Encoding": "gzip"})

    async def _route_redirect(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        return web.Response(status=int(request.query.get("status", "302")), headers={"Location": request.query["to"]})

    async def _route_chain(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        left = int(rest[0])
        if left == 0:
            return web.Response(text="the end of the chain", content_type="text/plain")
        return web.Response(status=302, headers={"Location": f"/chain/{left - 1}"})

    async def _route_status(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        return web.Response(status=int(rest[0]), text="SECRET-ERROR-BODY " * 10)

    async def _route_endless(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        line = b"endless text line that never stops coming\n" * 1500
        for _ in range(20_000):  # bounded: 1.2 GB at most, far past any cap
            await response.write(line)
        return response

    async def _route_drip(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for _ in range(600):
            await response.write(b"d")
            await asyncio.sleep(0.05)
        return response

    async def _route_slow_headers(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        await asyncio.sleep(float(rest[0]))
        return web.Response(text="late")

    async def _route_lies(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        """Declares a Content-Length over the cap (and sends nothing of it)."""
        response = web.StreamResponse(headers={"Content-Length": str(int(rest[0]))})
        await response.prepare(request)
        return response


class InternalServer:
    """A TCP listener standing for an intranet service: it counts every connection it is ever offered.

    It listens on 127.0.0.1 and, where the machine has IPv6, on [::1] at the same port, so that a connection to
    either loopback (`localhost`, `[::1]`, `[::ffff:127.0.0.1]`, …) is counted.
    """

    def __init__(self) -> None:
        self._socks = [self._listen(socket.AF_INET, "127.0.0.1", 0)]
        self.port = int(self._socks[0].getsockname()[1])
        with contextlib.suppress(OSError):  # no IPv6 loopback here (or the port is taken on it): IPv4 only
            self._socks.append(self._listen(socket.AF_INET6, "::1", self.port))
        self.connections = 0
        self._count = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, args=(sock,), name="InternalServer", daemon=True)
                         for sock in self._socks]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _listen(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(16)
        except OSError:
            sock.close()
            raise
        sock.settimeout(0.1)
        return sock

    @property
    def hosts(self) -> list[str]:
        return [str(sock.getsockname()[0]) for sock in self._socks]

    def _accept(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._count:
                self.connections += 1
            with conn:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\nINTERNAL-SECRET")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        for sock in self._socks:
            sock.close()


class LoopThread:
    """One event loop in a thread for a whole test module, so fetchers and extractors outlive single tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fetch-tests-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class ConnectLog:
    """Every socket connect this process makes, seen through an audit hook; non-loopback targets are blocked.

    The fetcher must refuse before it connects: a connect to a refused address is both recorded and stopped
    here, so a regression shows up as a failed test and never as traffic leaving the machine.
    """

    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "socket.connect" or not isinstance(args[1], tuple):
            return
        host, port = str(args[1][0]), int(args[1][1])
        with self._lock:
            self.targets.append((host, port))
        try:
            loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise PermissionError(f"test guard: connect to non-loopback {host}:{port} blocked")

    def ports(self) -> list[int]:
        with self._lock:
            return [port for _, port in self.targets]

    def clear(self) -> None:
        with self._lock:
            self.targets.clear()
