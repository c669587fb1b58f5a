"""Channel health shared by every replica through Redis: failures anywhere add up, a success anywhere resets."""

from __future__ import annotations

import logging

from relaygate.core.records import ChannelRecord
from relaygate.limits.redis_link import RedisLink, RedisUnavailable, Script
from relaygate.relay.routing import ProcessChannelHealth

log = logging.getLogger("relaygate.health")

FAILURES_TTL = 600
"""Seconds a channel's failure count outlives its last failure (a replica that missed a reset cannot keep a
stale count forever)."""

# INCR is atomic, so exactly one replica sees the count reach the threshold and disables the channel.
FAILED = Script("""
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
if n == 1 then redis.call('PUBLISH', KEYS[2], 'failing ' .. ARGV[2]) end
return n
""")

RESET = Script("""
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', KEYS[2], 'clear ' .. ARGV[1])
return 1
""")


class RedisChannelHealth:
    """ChannelHealth across replicas. A success costs no round trip unless the channel is failing: a replica
    hears on a pub/sub channel when any replica's failure starts a count and when a success clears it, and only
    then resets the shared count. Credentials rotate per replica. Without Redis, counts stay in this process."""

    def __init__(self, link: RedisLink, disable_after: int) -> None:
        self._link = link
        self._disable_after = disable_after
        self._local = ProcessChannelHealth(disable_after)
        self._failing: set[int] = set()
        self.channel = link.key("health")

    def _key(self, channel_id: int) -> str:
        return self._link.key("health", channel_id)

    def credential(self, channel: ChannelRecord) -> str:
        return self._local.credential(channel)

    async def failed(self, channel_id: int) -> bool:
        self._failing.add(channel_id)
        try:
            count = await self._link.evaluate(FAILED, (self._key(channel_id), self.channel),
                                              (FAILURES_TTL, channel_id))
        except RedisUnavailable:
            self._link.fallbacks["health_local"] += 1
            return await self._local.failed(channel_id)
        return count == self._disable_after

    async def succeeded(self, channel_id: int) -> None:
        if channel_id in self._failing:
            await self.forget(channel_id)

    async def forget(self, channel_id: int) -> None:
        self._failing.discard(channel_id)
        await self._local.forget(channel_id)
        try:
            await self._link.evaluate(RESET, (self._key(channel_id), self.channel), (channel_id,))
        except RedisUnavailable:
            self._link.fallbacks["health_local"] += 1

    def heard(self, message: bytes) -> None:
        """A notice from the pub/sub channel: `failing <id>` or `clear <id>`."""
        verb, _, ident = message.partition(b" ")
        if not ident.isdigit():
            log.warning("ignored a malformed channel-health notice %r", message[:64])
        elif verb == b"failing":
            self._failing.add(int(ident))
        elif verb == b"clear":
            self._failing.discard(int(ident))

    async def follow_forever(self) -> None:
        await self._link.follow(self.channel, self.heard)
