"""Exact sliding-window rate limiting in process memory (one replica)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW = 60.0


class _Window:
    __slots__ = ("requests", "token_sum", "tokens")

    def __init__(self) -> None:
        self.requests: deque[float] = deque()
        self.tokens: deque[tuple[float, int]] = deque()
        self.token_sum = 0

    def expire(self, now: float) -> None:
        edge = now - WINDOW
        while self.requests and self.requests[0] <= edge:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= edge:
            self.token_sum -= self.tokens.popleft()[1]


class MemoryRateLimiter:
    """Keeps the last minute of each limited key's requests; keys without limits cost nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[int, _Window] = {}

    async def acquire(self, key_id: int, rpm: int | None, tpm: int | None, tokens: int) -> float | None:
        if not rpm and not tpm:
            return None
        now = self._clock()
        win = self._windows.get(key_id)
        if win is None:
            win = self._windows[key_id] = _Window()
        win.expire(now)
        if rpm and len(win.requests) >= rpm:
            return max(win.requests[len(win.requests) - rpm] + WINDOW - now, 0.001)
        if tpm and win.token_sum and win.token_sum + tokens > tpm:
            need = win.token_sum + tokens - tpm
            freed = 0
            for at, n in win.tokens:
                freed += n
                if freed >= need:
                    return max(at + WINDOW - now, 0.001)
            return WINDOW
        win.requests.append(now)
        if tpm:
            win.tokens.append((now, tokens))
            win.token_sum += tokens
        return None
