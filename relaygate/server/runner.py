"""Running the server: uvloop, SIGTERM drain, several worker processes sharing one port."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal

import uvloop
from aiohttp import web

from relaygate.config import Settings
from relaygate.server.app import bootstrap_store, create_app
from relaygate.server.logs import configure_logging
from relaygate.server.state import SERVICES
from relaygate.store.database import Database

log = logging.getLogger("relaygate.runner")


async def _serve(settings: Settings, *, bootstrap: bool) -> None:
    app = create_app(settings, bootstrap=bootstrap)
    # Header values up to 32 KiB: a 10 KB junk Bearer must get the same 401 as any wrong key, not a parser 400.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=settings.shutdown_grace,
                           max_field_size=32768, max_line_size=32768)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=4096,
                       reuse_port=settings.workers > 1, shutdown_timeout=settings.shutdown_grace)
    await site.start()
    log.info("listening", extra={"url": f"http://{settings.host}:{settings.port}"})
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


def _worker(settings: Settings) -> None:
    configure_logging(settings.log_level)
    uvloop.run(_serve(settings, bootstrap=False))


def serve(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT; with workers > 1, the same port is shared through SO_REUSEPORT."""
    configure_logging(settings.log_level)
    if settings.workers == 1:
        uvloop.run(_serve(settings, bootstrap=True))
        return
    db = Database(settings.resolved_database_url())
    first_key = uvloop.run(bootstrap_store(db, settings))
    db.close()
    if first_key is not None:
        print(f"relaygate: created the admin; its key is shown this once: {first_key}", flush=True)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(settings,), daemon=False) for _ in range(settings.workers)]
    for proc in procs:
        proc.start()

    def forward(signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                proc.terminate() if signum == signal.SIGTERM else proc.kill()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, lambda s, f: forward(signal.SIGTERM, f))
    for proc in procs:
        proc.join()
