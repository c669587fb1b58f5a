"""Extraction off the event loop: worker processes that read each file in a capped child of their own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys

import pydantic

from relaygate.core.errors import FetchRefused, FileTooLarge, ServiceUnavailable, UnreadableFile, UnsupportedFile
from relaygate.fetch import protocol
from relaygate.fetch.document import Document, Source
from relaygate.fetch.limits import ExtractLimits

log = logging.getLogger(__name__)

_REFUSALS: dict[str, type[FetchRefused]] = {
    cls.__name__: cls for cls in (FetchRefused, FileTooLarge, UnsupportedFile, UnreadableFile)}
_START_TIMEOUT = 60.0
_GRACE = 5.0
"""Seconds past the extraction cap before the worker itself is killed (its child ends itself at the cap)."""
# The worker parses hostile files: it gets no secrets from relaygate's environment, only what Python needs.
_ENVIRONMENT = ("PATH", "PYTHONPATH", "PYTHONHOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "HOME")


def _unreadable() -> UnreadableFile:
    return UnreadableFile("the file could not be read: the extraction process failed", code="unreadable_file")


class _Worker:
    """One `python -m relaygate.fetch.worker` process, serving one file at a time over its pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, limits: ExtractLimits) -> _Worker:
        env = {name: os.environ[name] for name in _ENVIRONMENT if name in os.environ}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "relaygate.fetch.worker", protocol.LIMITS.dump_json(limits).decode(),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env)
        started = cls(process)
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                await started._read_frame()
        except BaseException:
            await started.kill()
            raise
        return started

    async def _read_frame(self) -> bytes:
        assert self.process.stdout is not None
        head = await self.process.stdout.readexactly(4)
        length = int.from_bytes(head, "big")
        if length > protocol.MAX_ANSWER_BYTES:
            raise ValueError("the worker sent an oversized frame")
        return await self.process.stdout.readexactly(length)

    async def run(self, source: Source) -> bytes:
        assert self.process.stdin is not None
        job: protocol.Job = {"name": source.name, "sha256": source.sha256, "charset": source.charset,
                           "size": len(source.data)}
        self.process.stdin.write(protocol.frame(protocol.JOB.dump_json(job)))
        self.process.stdin.write(source.data)
        await self.process.stdin.drain()
        return await self._read_frame()

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


class Extractor:
    """Reads documents off the event loop: `workers` files at once, each in a fresh process with memory and time caps.

    Create it in the app lifespan (optionally `await warm_up()`), and `await close()` it at shutdown.
    """

    def __init__(self, limits: ExtractLimits) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.workers)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()

    async def warm_up(self) -> None:
        """Start the workers now (each imports the parsers, about a second) rather than on the first file."""
        missing = self.limits.workers - len(self._idle) - len(self._busy)
        started = await asyncio.gather(*(_Worker.start(self.limits) for _ in range(missing)), return_exceptions=True)
        self._idle += [worker for worker in started if isinstance(worker, _Worker)]
        failures = [error for error in started if isinstance(error, BaseException)]
        if failures:
            raise failures[0]

    async def close(self) -> None:
        workers = [*self._idle, *self._busy]
        self._idle.clear()
        self._busy.clear()
        await asyncio.gather(*(w.kill() for w in workers))

    async def _take(self) -> _Worker:
        """An idle worker that is still alive, else a new one."""
        while self._idle:
            slot = self._idle.pop()
            if slot.process.returncode is None:
                return slot
            log.warning("extraction worker %s had died (exit code %s)", slot.process.pid, slot.process.returncode)
        return await _Worker.start(self.limits)

    async def extract(self, source: Source) -> Document:
        """The document's parts; FetchRefused (413/415/422) naming the rule for anything refused or unreadable."""
        if not source.data:
            raise UnsupportedFile("the file is empty (0 bytes)", code="empty_file")
        async with self._slots:
            try:
                slot = await self._take()
            except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
                log.exception("could not start an extraction worker")
                raise ServiceUnavailable("file extraction is unavailable right now",
                                         code="extraction_unavailable") from None
            self._busy.add(slot)
            try:
                async with asyncio.timeout(self.limits.timeout + _GRACE):
                    payload = await slot.run(source)
            except BaseException as exc:
                self._busy.discard(slot)
                await asyncio.shield(slot.kill())
                if isinstance(exc, TimeoutError):
                    raise FileTooLarge(f"reading the file took longer than {self.limits.timeout:g} s",
                                       code="extraction_timeout") from None
                if isinstance(exc, asyncio.IncompleteReadError | ConnectionError | ValueError):
                    log.warning("extraction worker %s died (exit code %s)", slot.process.pid, slot.process.returncode)
                    raise _unreadable() from None
                raise
            self._busy.discard(slot)
            self._idle.append(slot)
        return _decode(payload)


def _decode(payload: bytes) -> Document:
    try:
        answer = protocol.ANSWER.validate_json(payload)
    except pydantic.ValidationError:
        log.warning("extraction worker sent a malformed answer (%d bytes)", len(payload))
        raise _unreadable() from None
    if "document" in answer:
        return answer["document"]
    refusal = answer.get("refusal")
    if refusal is None:
        raise _unreadable()
    if refusal["cause"]:
        log.info("extraction refused a file: %s (%s)", refusal["code"], refusal["cause"])
    cls = _REFUSALS.get(refusal["error"], UnreadableFile)
    code = refusal["code"] if refusal["code"].replace("_", "").isalpha() else "unreadable_file"
    raise cls(refusal["message"][:500], code=code)
