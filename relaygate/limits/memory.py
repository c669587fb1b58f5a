"""Exact sliding-window rate limiting in process memory (one replica)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from relaygate.limits.base import UNLIMITED, Admission, Refusal

WINDOW = 60.0


class _Spend:
    """Tokens one admitted request holds in its key's window; settling rewrites `tokens` in place."""

    __slots__ = ("at", "counted", "tokens")

    def __init__(self, at: float, tokens: int) -> None:
        self.at = at
        self.tokens = tokens
        self.counted = True
        """Still in the window's sum (False once expired out of it)."""


class _Window:
    __slots__ = ("requests", "token_sum", "tokens")

    def __init__(self) -> None:
        self.requests: deque[float] = deque()
        self.tokens: deque[_Spend] = deque()
        self.token_sum = 0

    def expire(self, now: float) -> None:
        edge = now - WINDOW
        while self.requests and self.requests[0] <= edge:
            self.requests.popleft()
        while self.tokens and self.tokens[0].at <= edge:
            spend = self.tokens.popleft()
            spend.counted = False
            self.token_sum -= spend.tokens


class MemoryRateLimiter:
    """Keeps the last minute of each limited key's requests; keys without limits cost nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[int, _Window] = {}

    async def acquire(self, key_id: int, rpm: int | None, tpm: int | None, tokens: int) -> Admission | Refusal:
        if not rpm and not tpm:
            return UNLIMITED
        now = self._clock()
        win = self._windows.get(key_id)
        if win is None:
            win = self._windows[key_id] = _Window()
        win.expire(now)
        if rpm and len(win.requests) >= rpm:
            return Refusal("rpm", max(win.requests[len(win.requests) - rpm] + WINDOW - now, 0.001))
        if tpm and win.token_sum and win.token_sum + tokens > tpm:
            need = win.token_sum + tokens - tpm
            freed = 0
            for spend in win.tokens:
                freed += spend.tokens
                if freed >= need:
                    return Refusal("tpm", max(spend.at + WINDOW - now, 0.001))
            return Refusal("tpm", WINDOW)
        win.requests.append(now)
        if not tpm:
            return Admission(0)
        spend = _Spend(now, tokens)
        win.tokens.append(spend)
        win.token_sum += tokens
        return Admission(tokens, spend)

    async def settle(self, key_id: int, admission: Admission, actual: int) -> None:
        spend = admission.ticket
        if not isinstance(spend, _Spend):
            return
        win = self._windows.get(key_id)
        if win is not None and spend.counted:
            win.token_sum += actual - spend.tokens
            spend.tokens = actual
        admission.tokens = actual
