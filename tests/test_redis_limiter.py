"""The Redis rate limiter: exact across replicas, like the in-process one, and bounded when Redis is not there."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from relaygate.core.errors import ServiceUnavailable
from relaygate.limits.base import Admission, Refusal
from relaygate.limits.memory import MemoryRateLimiter
from relaygate.limits.redis import RedisRateLimiter
from relaygate.limits.redis_link import RedisLink
from tests.services import PrivateRedis, shared_redis

T = TypeVar("T")


def _run(test: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(test())  # type: ignore[arg-type]


class _Replicas:
    """Limiters as separate replicas would hold them: each its own link to one Redis, one key prefix."""

    def __init__(self, url: str, prefix: str, n: int, *, fail_open: bool = True, timeout: float = 0.25) -> None:
        self.links = [RedisLink(url, prefix=prefix, timeout=timeout, retry_every=0.2) for _ in range(n)]
        self.limiters = [RedisRateLimiter(link, fail_open=fail_open) for link in self.links]

    async def close(self) -> None:
        for link in self.links:
            await link.close()


async def _replicas(n: int, **kw: object) -> _Replicas:
    url, prefix = shared_redis()
    return _Replicas(url, prefix, n, **kw)  # type: ignore[arg-type]


def test_rpm_is_exact_across_replicas_and_says_when_to_retry() -> None:
    async def go() -> list[Admission | Refusal]:
        r = await _replicas(2)
        try:
            return [await r.limiters[i % 2].acquire(7, 10, None, 100) for i in range(30)]
        finally:
            await r.close()

    results = _run(go)
    assert [isinstance(x, Admission) for x in results] == [True] * 10 + [False] * 20
    refusal = results[10]
    assert isinstance(refusal, Refusal) and refusal.limit == "rpm" and 59 < refusal.retry_after <= 60


def test_tpm_holds_the_estimate_and_settles_to_real_usage() -> None:
    async def go() -> None:
        r = await _replicas(2)
        a, b = r.limiters
        try:
            first = await a.acquire(3, None, 1000, 600)
            assert isinstance(first, Admission) and first.tokens == 600
            refused = await b.acquire(3, None, 1000, 600)  # 600 held + 600 > 1000
            assert isinstance(refused, Refusal) and refused.limit == "tpm"
            await a.settle(3, first, 100)
            assert first.tokens == 100
            second = await b.acquire(3, None, 1000, 600)  # 100 + 600 fits now
            assert isinstance(second, Admission)
            await b.settle(3, second, 0)  # a failed request holds nothing
            for _ in range(9):
                admitted = await a.acquire(3, None, 1000, 100)
                assert isinstance(admitted, Admission)
            assert isinstance(await b.acquire(3, None, 1000, 100), Refusal)  # 100 + 9 × 100 + 100 > 1000
        finally:
            await r.close()

    _run(go)


def test_redis_limiter_decides_as_the_in_process_one_on_a_random_load() -> None:
    rng = random.Random(20)
    ops = [(rng.choice([None, 5, 12]), rng.choice([None, 800, 3000]), rng.randrange(0, 700),
            rng.choice([None, 0, 10, 400])) for _ in range(300)]

    async def decide(acquire: Callable[[int, int | None, int | None, int], Awaitable[Admission | Refusal]],
                     settle: Callable[[int, Admission, int], Awaitable[None]]) -> list[str]:
        seen = []
        for i, (rpm, tpm, tokens, actual) in enumerate(ops):
            key = i % 4
            result = await acquire(key, rpm, tpm, tokens)
            seen.append(result.limit if isinstance(result, Refusal) else "ok")
            if isinstance(result, Admission) and actual is not None:
                await settle(key, result, actual)
        return seen

    async def go() -> tuple[list[str], list[str]]:
        memory = MemoryRateLimiter()
        r = await _replicas(3)
        try:
            shared = await decide(lambda k, *a: r.limiters[k % 3].acquire(k, *a),
                                  lambda k, adm, n: r.limiters[(k + 1) % 3].settle(k, adm, n))
        finally:
            await r.close()
        return await decide(memory.acquire, memory.settle), shared

    alone, shared = _run(go)
    assert shared == alone
    assert {"ok", "rpm", "tpm"} <= set(alone)


def test_concurrent_requests_from_three_replicas_share_round_trips_and_stay_exact() -> None:
    async def go() -> tuple[int, int, int]:
        r = await _replicas(3)
        try:
            results = await asyncio.gather(*(r.limiters[i % 3].acquire(11, 50, None, 1) for i in range(200)))
        finally:
            await r.close()
        return (sum(isinstance(x, Admission) for x in results), sum(link.calls for link in r.links),
                sum(link.round_trips for link in r.links))

    admitted, calls, round_trips = _run(go)
    assert admitted == 50
    assert calls >= 200 and round_trips < calls / 4


def test_keys_without_limits_never_reach_redis() -> None:
    async def go() -> int:
        r = await _replicas(1)
        try:
            admission = await r.limiters[0].acquire(1, None, None, 10_000)
            await r.limiters[0].settle(1, admission, 5)
            return r.links[0].round_trips
        finally:
            await r.close()

    assert _run(go) == 0


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis").start()
    yield server
    server.stop()


async def _timed(call: Awaitable[T]) -> tuple[T | BaseException, float]:
    started = time.perf_counter()
    try:
        result: T | BaseException = await call
    except Exception as exc:
        result = exc
    return result, time.perf_counter() - started


async def _wait_up(link: RedisLink, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not link.up:
        assert time.monotonic() < deadline, "the link did not come back up"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("outage", ["frozen", "stopped"])
def test_fail_open_serves_within_the_timeout_counts_locally_and_recovers(private_redis: PrivateRedis,
                                                                          outage: str) -> None:
    async def go() -> None:
        r = _Replicas(private_redis.url, "open", 1, fail_open=True, timeout=0.2)
        limiter, link = r.limiters[0], r.links[0]
        try:
            assert isinstance(await limiter.acquire(1, 3, None, 1), Admission)
            private_redis.freeze() if outage == "frozen" else private_redis.stop()
            result, took = await _timed(limiter.acquire(1, 3, None, 1))
            assert isinstance(result, Admission) and took < 1.0
            # the link is down now: no call waits, the in-process window counts (3 a minute, as asked)
            later = [await _timed(limiter.acquire(1, 3, None, 1)) for _ in range(4)]
            assert all(t < 0.05 for _, t in later)
            assert [isinstance(x, Admission) for x, _ in later] == [True, True, False, False]
            assert link.fallbacks["limiter_local"] == 5 and not link.up
            private_redis.thaw() if outage == "frozen" else private_redis.start()
            await _wait_up(link)
            # enforced in Redis again. A thawed Redis holds the admission made before the outage and runs the call
            # that timed out when it froze (it was on the wire: counted there too, stricter, never looser); a
            # restarted one (nothing kept on disk) starts from an empty window and is sent the script again
            decided = [await limiter.acquire(1, 3, None, 1) for _ in range(4)]
            expected = [True, False, False, False] if outage == "frozen" else [True, True, True, False]
            assert [isinstance(x, Admission) for x in decided] == expected
        finally:
            await r.close()

    _run(go)


def test_fail_closed_refuses_with_a_503_within_the_timeout_and_recovers(private_redis: PrivateRedis) -> None:
    async def go() -> None:
        r = _Replicas(private_redis.url, "closed", 1, fail_open=False, timeout=0.2)
        limiter, link = r.limiters[0], r.links[0]
        try:
            assert isinstance(await limiter.acquire(1, 100, 1000, 10), Admission)
            private_redis.freeze()
            results = await asyncio.gather(*(_timed(limiter.acquire(1, 100, 1000, 10)) for _ in range(20)))
            for result, took in results:
                assert isinstance(result, ServiceUnavailable) and took < 1.0
                assert result.status == 503 and result.code == "rate_limiter_unavailable"
            assert link.fallbacks["limiter_refused"] == 20
            private_redis.thaw()
            await _wait_up(link)
            assert isinstance(await limiter.acquire(1, 100, 1000, 10), Admission)
        finally:
            await r.close()

    _run(go)


def test_a_settle_redis_cannot_take_keeps_the_estimate_held(private_redis: PrivateRedis) -> None:
    async def go() -> None:
        r = _Replicas(private_redis.url, "settle", 1, fail_open=True, timeout=0.2)
        limiter, link = r.limiters[0], r.links[0]
        try:
            held = await limiter.acquire(1, None, 1000, 900)
            assert isinstance(held, Admission)
            private_redis.freeze()
            result, took = await _timed(limiter.settle(1, held, 10))
            assert result is None and took < 1.0 and held.tokens == 900
            assert link.fallbacks["limiter_settle_lost"] == 1
            private_redis.thaw()
            await _wait_up(link)
            assert isinstance(await limiter.acquire(1, None, 1000, 900), Refusal)
        finally:
            await r.close()

    _run(go)
