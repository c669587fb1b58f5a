"""Exact sliding-window rate limiting in Redis, shared by every replica: one Lua call to admit, one to settle."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

from relaygate.core.errors import ServiceUnavailable
from relaygate.limits.base import UNLIMITED, Admission, Refusal
from relaygate.limits.memory import WINDOW, MemoryRateLimiter
from relaygate.limits.redis_link import RedisLink, RedisUnavailable, Script

WINDOW_MS = int(WINDOW * 1000)

# One sorted set per key holds the last minute's admissions, scored by Redis's own clock (so replicas never
# disagree about time); each member is "<id>:<tokens held>", and a second key keeps the sum of those tokens.
# Mirrors MemoryRateLimiter: entries as old as the window are gone, a lone request may exceed the TPM.
ACQUIRE = Script("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local window, rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local edge = now - window
local sum = tonumber(redis.call('GET', KEYS[2]) or '0')
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', edge)
if #gone > 0 then
  for _, member in ipairs(gone) do sum = sum - tonumber(string.match(member, ':(%d+)$')) end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', edge)
  redis.call('SET', KEYS[2], sum, 'KEEPTTL')
end
local count = redis.call('ZCARD', KEYS[1])
if rpm > 0 and count >= rpm then
  local oldest = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
  return {0, 'rpm', tostring(tonumber(oldest[2]) + window - now)}
end
if tpm > 0 and sum > 0 and sum + tokens > tpm then
  local need, freed = sum + tokens - tpm, 0
  local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
    if freed >= need then return {0, 'tpm', tostring(tonumber(entries[i + 1]) + window - now)} end
  end
  return {0, 'tpm', tostring(window)}
end
redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. tokens)
redis.call('PEXPIRE', KEYS[1], window + 1000)
redis.call('SET', KEYS[2], sum + tokens, 'PX', window + 1000)
return {1}
""")

# An entry already past the window is left alone: it no longer counts (as in MemoryRateLimiter).
SETTLE = Script("""
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], score, ARGV[2])
redis.call('INCRBY', KEYS[2], ARGV[3])
return 1
""")


@dataclass(frozen=True, slots=True)
class _Entry:
    """An admission's member in its key's window."""

    ident: str
    tokens: int

    @property
    def member(self) -> str:
        return f"{self.ident}:{self.tokens}"


class RedisRateLimiter:
    """Per-key RPM and TPM exact across replicas. When Redis cannot be reached in time: with `fail_open` the
    request is counted in this process alone (MemoryRateLimiter) and served; otherwise it is refused with a 503
    before anything goes upstream. Either way the link is tried again by itself and enforcement resumes."""

    def __init__(self, link: RedisLink, *, fail_open: bool) -> None:
        self._link = link
        self._fail_open = fail_open
        self._local = MemoryRateLimiter()
        self._node = os.urandom(4).hex()
        self._serial = itertools.count()

    def _keys(self, key_id: int) -> tuple[str, str]:
        return self._link.key("rl", f"{{{key_id}}}", "w"), self._link.key("rl", f"{{{key_id}}}", "t")

    async def acquire(self, key_id: int, rpm: int | None, tpm: int | None, tokens: int) -> Admission | Refusal:
        if not rpm and not tpm:
            return UNLIMITED
        held = max(tokens, 0) if tpm else 0
        ident = f"{self._node}{next(self._serial):x}"
        try:
            reply = await self._link.evaluate(ACQUIRE, self._keys(key_id), (WINDOW_MS, rpm or 0, tpm or 0, held, ident))
        except RedisUnavailable:
            return await self._without_redis(key_id, rpm, tpm, tokens)
        assert isinstance(reply, list)
        if reply[0] == 1:
            return Admission(held, _Entry(ident, held)) if tpm else Admission(0)
        return Refusal("rpm" if reply[1] == b"rpm" else "tpm", max(float(reply[2]) / 1000, 0.001))

    async def _without_redis(self, key_id: int, rpm: int | None, tpm: int | None,
                             tokens: int) -> Admission | Refusal:
        if not self._fail_open:
            self._link.fallbacks["limiter_refused"] += 1
            raise ServiceUnavailable(
                "The rate limiter's store (Redis) is unreachable and this relay refuses requests until it is "
                "back; try again shortly.", code="rate_limiter_unavailable")
        self._link.fallbacks["limiter_local"] += 1
        return await self._local.acquire(key_id, rpm, tpm, tokens)

    async def settle(self, key_id: int, admission: Admission, actual: int) -> None:
        entry = admission.ticket
        if not isinstance(entry, _Entry):
            await self._local.settle(key_id, admission, actual)
            return
        actual = max(actual, 0)
        if actual == entry.tokens:
            return
        settled = _Entry(entry.ident, actual)
        try:
            await self._link.evaluate(SETTLE, self._keys(key_id), (entry.member, settled.member, actual - entry.tokens))
        except RedisUnavailable:
            # the estimate stays held until the window moves past it: stricter, never looser
            self._link.fallbacks["limiter_settle_lost"] += 1
            return
        admission.ticket = settled
        admission.tokens = actual
