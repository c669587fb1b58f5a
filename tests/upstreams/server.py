"""MockServer: what every fake provider shares — a real aiohttp server on 127.0.0.1 in its own thread, started and
stopped by the tests, with a standing `mode` and one-shot `fail_next` modes. Subclasses answer the requests."""

from __future__ import annotations

import abc
import asyncio
import ssl
import threading
from types import TracebackType
from typing import Any, Self

from aiohttp import web


class MockServer(abc.ABC):
    NAME = "MockServer"
    MODES: tuple[str, ...] = ("ok",)

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self._lock = threading.Lock()
        self._queued: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None
        self._port = 0
        self._mode = "ok"
        self.bind: tuple[str, int] = ("127.0.0.1", 0)
        """Where to listen (a free port on 127.0.0.1 unless a subclass says otherwise)."""
        self.ssl_context: ssl.SSLContext | None = None

    @abc.abstractmethod
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request (every method and path reaches this)."""

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._check_modes(value)
        self._mode = value

    def fail_next(self, *modes: str) -> None:
        self._check_modes(*modes)
        with self._lock:
            self._queued.extend(modes)

    def count(self, path_suffix: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path.endswith(path_suffix))

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> Self:
        if self._thread is not None:
            return self
        ready = threading.Event()
        self._startup_error = None
        self._thread = threading.Thread(target=self._serve, args=(ready,), name=self.NAME, daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError(f"{self.NAME} did not start within 15 s")
        if self._startup_error is not None:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError(f"{self.NAME} failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        loop, runner, thread = self._loop, self._runner, self._thread
        if loop is None or runner is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(15)
            self._loop, self._runner, self._thread = None, None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _check_modes(self, *modes: str) -> None:
        unknown = [m for m in modes if m not in self.MODES]
        if unknown:
            raise ValueError(f"unknown {self.NAME} modes {unknown}; known: {', '.join(self.MODES)}")

    def _next_mode(self) -> str:
        with self._lock:
            return self._queued.pop(0) if self._queued else self._mode

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2, handler_cancellation=True)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, *self.bind, ssl_context=self.ssl_context).start())
            self._port = int(runner.addresses[0][1])
            self._loop, self._runner = loop, runner
        except BaseException as exc:
            self._startup_error = exc
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()


async def reset_connection(request: web.Request, resp: web.StreamResponse | None = None) -> web.StreamResponse:
    """Abort the TCP connection; aiohttp then cancels this handler, so nothing more is written."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    await asyncio.sleep(5)
    return resp if resp is not None else web.Response(status=500)
