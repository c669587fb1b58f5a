"""The in-process rate limiter: RPM and TPM windows, refusals that name the limit, TPM settled to real usage."""

from __future__ import annotations

import asyncio

from relaygate.limits.base import Admission, Refusal
from relaygate.limits.memory import WINDOW, MemoryRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rpm_refuses_with_the_time_until_a_slot_frees() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)

    async def go() -> None:
        assert isinstance(await limiter.acquire(1, 2, None, 0), Admission)
        clock.now += 10
        assert isinstance(await limiter.acquire(1, 2, None, 0), Admission)
        refused = await limiter.acquire(1, 2, None, 0)
        assert isinstance(refused, Refusal) and refused.limit == "rpm"
        assert abs(refused.retry_after - (WINDOW - 10)) < 1e-6
        clock.now += WINDOW - 10 + 0.001
        assert isinstance(await limiter.acquire(1, 2, None, 0), Admission)

    asyncio.run(go())


def test_tpm_holds_the_estimate_then_keeps_only_the_real_usage() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)

    async def go() -> None:
        first = await limiter.acquire(1, None, 1000, 900)
        assert isinstance(first, Admission) and first.tokens == 900
        refused = await limiter.acquire(1, None, 1000, 200)  # 900 held + 200 > 1000
        assert isinstance(refused, Refusal) and refused.limit == "tpm"
        await limiter.settle(1, first, 50)
        second = await limiter.acquire(1, None, 1000, 900)  # 50 used + 900 fits
        assert isinstance(second, Admission)
        await limiter.settle(1, second, 0)  # a failed request keeps nothing
        assert limiter._windows[1].token_sum == 50

    asyncio.run(go())


def test_settling_after_the_window_moved_on_changes_nothing() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)

    async def go() -> None:
        held = await limiter.acquire(1, None, 1000, 500)
        assert isinstance(held, Admission)
        clock.now += WINDOW + 1
        assert isinstance(await limiter.acquire(1, None, 1000, 100), Admission)  # expires the first
        await limiter.settle(1, held, 400)  # a long stream settling after its minute: no negative sum
        assert limiter._windows[1].token_sum == 100

    asyncio.run(go())


def test_keys_without_limits_cost_nothing_and_settle_to_nothing() -> None:
    limiter = MemoryRateLimiter()

    async def go() -> None:
        admitted = await limiter.acquire(7, None, None, 10**6)
        assert isinstance(admitted, Admission)
        await limiter.settle(7, admitted, 10)
        assert 7 not in limiter._windows

    asyncio.run(go())
