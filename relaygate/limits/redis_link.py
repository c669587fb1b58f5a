"""The process's one connection to Redis: Lua calls batched into pipelines, bounded in time, down and up again."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from hiredis import pack_command
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError, ResponseError

log = logging.getLogger("relaygate.redis")

Arg = str | int | float
_FAILURES = (RedisError, OSError, TimeoutError)


class RedisUnavailable(Exception):
    """Redis is down, or did not answer in time: the caller applies its fail mode."""


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script, called by its SHA-1 (loaded into Redis the first time it is missing there)."""

    source: str

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()


@dataclass(slots=True)
class _Call:
    script: Script
    sha: str
    args: tuple[Arg, ...]
    done: asyncio.Future[object]


class RedisLink:
    """Calls made while a pipeline is on the wire queue and leave together in the next one (as the ledger's group
    commit does), so a request costs at most one round trip and concurrent requests share them. A call that fails
    or takes longer than `timeout` marks the link down: calls then fail at once, without waiting on a dead or
    frozen server, and a ping every `retry_every` seconds brings the link back up."""

    def __init__(self, url: str, *, prefix: str, timeout: float, retry_every: float = 0.5) -> None:
        self.prefix = prefix
        self.timeout = timeout
        self._retry_every = retry_every
        self._client: Redis = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
            health_check_interval=0)
        self.up = True
        self.round_trips = 0
        self.calls = 0
        self.outages = 0
        self.fallbacks: Counter[str] = Counter()
        """Requests a user of the link served (or refused) without Redis, by what they were."""
        self._queue: list[_Call] = []
        self._flushing = False
        self._tasks: set[asyncio.Task[None]] = set()

    def key(self, *parts: object) -> str:
        return ":".join((self.prefix, *map(str, parts)))

    async def evaluate(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> object:
        """Run `script` on `keys` with `args` in the next pipeline; RedisUnavailable when the link is down."""
        if not self.up:
            raise RedisUnavailable("Redis is unreachable")
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._queue.append(_Call(script, script.sha, (len(keys), *keys, *args), done))
        if not self._flushing:
            # a task, not this caller, sends: sending inline (saving the hand-off) halved batches under load and
            # cost more CPU at c=64 than it saved at c=1
            self._flushing = True
            self._spawn(self._flush())
        return await done

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._send(batch)
        finally:
            self._flushing = False

    async def _send(self, batch: list[_Call]) -> None:
        results: list[object] | None = None
        failure = RedisUnavailable("the call was cancelled")
        try:
            async with asyncio.timeout(self.timeout * 2):
                results = await self._pipeline(batch)
                missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
                if missing:  # a restarted Redis has forgotten its scripts
                    for script in {batch[i].script for i in missing}:
                        await self._client.script_load(script.source)
                    for i, result in zip(missing, await self._pipeline([batch[i] for i in missing]), strict=True):
                        results[i] = result
        except _FAILURES as exc:
            self._broke(exc)
            results, failure = None, RedisUnavailable(f"Redis did not answer: {exc!r}")
        finally:  # every waiter gets an answer, even when the sender was cancelled
            for i, call in enumerate(batch):
                if call.done.done():
                    continue
                result = failure if results is None else results[i]
                if isinstance(result, RedisUnavailable):
                    call.done.set_exception(result)
                elif isinstance(result, Exception):
                    log.error("Redis refused a script call: %s", result)
                    call.done.set_exception(RedisUnavailable(f"Redis refused the call: {result}"))
                else:
                    call.done.set_result(result)

    async def _pipeline(self, batch: list[_Call]) -> list[object]:
        """One write of every call (packed by hiredis), then their replies in order: redis-py's Pipeline packed
        in Python and timed each reply, two thirds of the link's CPU; `_send` bounds the whole batch instead."""
        self.round_trips += 1
        self.calls += len(batch)
        pool = self._client.connection_pool
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            packed = b"".join(pack_command(("EVALSHA", call.sha, *call.args)) for call in batch)  # type: ignore[arg-type]
            await conn.send_packed_command(packed, check_health=False)
            results: list[object] = []
            for _ in batch:
                try:
                    results.append(await conn.read_response(timeout=math.inf))
                except ResponseError as exc:  # an error reply, read whole: the next replies follow in order
                    results.append(exc)
            return results
        except BaseException:
            await conn.disconnect()
            raise
        finally:
            await pool.release(conn)

    def _broke(self, exc: BaseException) -> None:
        if not self.up:
            return
        self.up = False
        self.outages += 1
        log.warning("Redis unreachable (%r); checking again every %.1f s", exc, self._retry_every)
        self._spawn(self._revive())

    async def _revive(self) -> None:
        while True:
            await asyncio.sleep(self._retry_every)
            try:
                async with asyncio.timeout(self.timeout * 2):
                    await self._client.ping()
                # connections opened before the outage may be dead: start afresh
                await self._client.connection_pool.disconnect()
            except _FAILURES:
                continue
            self.up = True
            log.warning("Redis reachable again")
            return

    async def follow(self, channel: str, heard: Callable[[bytes], None]) -> None:
        """Hand every message published on `channel` to `heard` until cancelled, subscribing again after an
        outage (messages published meanwhile are missed)."""
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(channel)
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and isinstance(message.get("data"), bytes):
                        heard(message["data"])
            except _FAILURES:
                await asyncio.sleep(self._retry_every)
            finally:
                await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call]

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()
