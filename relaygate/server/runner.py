"""Running the server: uvloop, SIGTERM drain, several worker processes sharing one port.

A start that cannot work (a bad configuration file, an unreachable database, a port in use) raises ConfigError
before anything listens; with several workers, one failing to start stops the others, and the exit is non-zero.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.synchronize import Event

import uvloop
from aiohttp import web
from sqlalchemy.exc import DBAPIError

from relaygate.config import ConfigError, Settings
from relaygate.server.app import FirstAccess, bootstrap_store, create_app
from relaygate.server.logs import configure_logging
from relaygate.server.protocol import MAX_HEADER_BYTES, JsonErrorRunner
from relaygate.server.state import SERVICES
from relaygate.store.database import Database

log = logging.getLogger("relaygate.runner")
WORKER_START_TIMEOUT = 60.0


def _listen_error(settings: Settings, exc: OSError) -> ConfigError:
    # a gaierror's errno is negative (os.strerror has no text for it); its strerror names the problem
    reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
    return ConfigError(f"cannot listen on {settings.host}:{settings.port} (RELAYGATE_HOST / RELAYGATE_PORT, "
                       f"--host / --port): {reason.lower()}")


def _check_listen(settings: Settings) -> None:
    """Bind the address once before the store is touched or a worker started, so a port in use or a host that is
    no address of this machine is one line at once (the workers bind it again for real, sharing it)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listener does: TIME_WAIT is no clash
            if settings.workers > 1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
    except OSError as exc:
        raise _listen_error(settings, exc) from None


async def _serve(settings: Settings, ready: Event | None = None) -> None:
    app = create_app(settings, bootstrap=False)
    runner = JsonErrorRunner(app, access_log=None, handle_signals=False, shutdown_timeout=settings.shutdown_grace,
                             max_field_size=MAX_HEADER_BYTES, max_line_size=MAX_HEADER_BYTES)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=4096,
                       reuse_port=settings.workers > 1, shutdown_timeout=settings.shutdown_grace)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise _listen_error(settings, exc) from None
    log.info("listening", extra={"url": f"http://{settings.host}:{settings.port}"})
    if ready is not None:
        ready.set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining", extra={"grace_seconds": settings.shutdown_grace})
    app[SERVICES].draining = True
    await asyncio.sleep(settings.drain_seconds)
    await runner.cleanup()
    log.info("stopped")


async def _bootstrap(settings: Settings) -> FirstAccess:
    try:
        db = Database(settings.resolved_database_url())
    except OSError as exc:
        raise settings.store_dir_error(exc) from None
    try:
        return await bootstrap_store(db, settings)
    except DBAPIError as exc:
        raise ConfigError(f"RELAYGATE_DATABASE_URL: {db.unusable(exc)}") from None
    finally:
        db.close()


def _worker(settings: Settings, ready: Event) -> None:
    configure_logging(settings.log_level)
    try:
        uvloop.run(_serve(settings, ready))
    except ConfigError as exc:
        sys.stderr.write(f"relaygate: {exc}\n")
        sys.exit(2)


def serve(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT; with workers > 1, the same port is shared through SO_REUSEPORT. Returns the
    exit status: 0 after a clean stop, non-zero when a worker failed."""
    configure_logging(settings.log_level)
    _check_listen(settings)
    uvloop.run(_bootstrap(settings)).announce()
    if settings.workers == 1:
        uvloop.run(_serve(settings))
        return 0
    return _supervise(settings)


def _supervise(settings: Settings) -> int:
    ctx = multiprocessing.get_context("spawn")
    events = [ctx.Event() for _ in range(settings.workers)]
    procs = [ctx.Process(target=_worker, args=(settings, ready), daemon=False) for ready in events]

    def forward(signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                proc.terminate() if signum == signal.SIGTERM else proc.kill()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, lambda s, f: forward(signal.SIGTERM, f))
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while not all(ready.is_set() for ready in events):
        failed = [i for i, (p, r) in enumerate(zip(procs, events, strict=True)) if not p.is_alive() and not r.is_set()]
        if failed or time.monotonic() > deadline:
            forward(signal.SIGTERM, None)
            for proc in procs:
                proc.join()
            what = f"worker {failed[0] + 1} of {len(procs)} exited" if failed else "the workers did not start in time"
            sys.stderr.write(f"relaygate: {what} while starting; stopped the others\n")
            return 1
        time.sleep(0.05)
    for proc in procs:
        proc.join()
    return 0 if all(proc.exitcode == 0 for proc in procs) else 1
