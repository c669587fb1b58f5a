"""Structured JSON logs: one object per line, request id included, secrets never passed in."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

import orjson

_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class BatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes lines in batches: when `capacity` characters are waiting, at once for a warning or worse, every
    `interval` seconds (a daemon thread), and at exit (logging's own shutdown flushes). A write per request
    cost the access log a system call each; an access line can now be up to `interval` late, and lost with
    the process on SIGKILL (billing's log rows are in the database and are not)."""

    def __init__(self, stream: TextIO, *, interval: float = 0.2, capacity: int = 65536) -> None:
        super().__init__(stream)
        self._lines: list[str] = []
        self._size = 0
        self._capacity = capacity
        self._interval = interval
        threading.Thread(target=self._flush_forever, name="relaygate-log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._lines.append(line)
        self._size += len(line) + 1
        if self._size >= self._capacity or record.levelno >= logging.WARNING:
            self._write()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def add(self, line: str) -> None:
        """A line already formatted, at info level."""
        with self.lock:  # type: ignore[union-attr]
            self._lines.append(line)
            self._size += len(line) + 1
            if self._size >= self._capacity:
                self._write()

    def _write(self) -> None:
        if not self._lines:
            return
        data = "\n".join(self._lines) + "\n"
        self._lines.clear()
        self._size = 0
        try:
            self.stream.write(data)
            self.stream.flush()
        except (OSError, ValueError):  # the stream is gone (closed at exit): nothing left to tell
            pass

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self._interval)
            self.flush()


_ACCESS = logging.getLogger("relaygate.access")
_batch: BatchingHandler | None = None


def access_line(fields: dict[str, object]) -> None:
    """The access log's line for one request, the same JSON a record of `relaygate.access` gives, written
    straight to the batch: building and formatting a LogRecord was most of a request's logging cost."""
    if _batch is None or _ACCESS.handlers or not _ACCESS.isEnabledFor(logging.INFO):
        _ACCESS.info("request", extra=fields)  # logging not configured by us (tests, embedding): go through it
        return
    _batch.add(orjson.dumps({"ts": round(time.time(), 3), "level": "info", "logger": _ACCESS.name,
                             "msg": "request", **fields}).decode())


def configure_logging(level: str) -> None:
    global _batch
    # The JSON lines carry none of these; skipping them makes every record (one per request) cheaper.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = _batch = BatchingHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.Formatter.converter = time.gmtime
