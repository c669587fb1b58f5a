"""Which channel to try next: priority order, weighted random within a priority, health tracking."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from relaygate.core.records import ChannelRecord


def attempt_order(channels: Sequence[ChannelRecord], rng: random.Random) -> list[ChannelRecord]:
    """Enabled channels, highest priority first; inside a priority, a weighted random permutation."""
    enabled = [c for c in channels if c.enabled]
    if len(enabled) <= 1:
        return enabled
    order: list[ChannelRecord] = []
    i = 0
    while i < len(enabled):
        j = i
        while j < len(enabled) and enabled[j].priority == enabled[i].priority:
            j += 1
        tier = enabled[i:j]
        if len(tier) > 1:
            # Efraimidis–Spirakis: sorting by u^(1/w) draws a permutation weighted by w.
            tier = sorted(tier, key=lambda c: rng.random() ** (1.0 / max(c.weight, 1)), reverse=True)
        order.extend(tier)
        i = j
    return order


class ChannelHealth(Protocol):
    """Consecutive failures per channel (toward auto-disable), and credential rotation. In process by default;
    shared through Redis across replicas (relay/shared_health.py)."""

    def credential(self, channel: ChannelRecord) -> str:
        """The channel's credential for the next call (round robin when it has several)."""
        ...

    async def succeeded(self, channel_id: int) -> None:
        """A call worked: the channel's failures are no longer consecutive."""
        ...

    async def failed(self, channel_id: int) -> bool:
        """Count a failure; True exactly when the channel just reached the auto-disable threshold."""
        ...

    async def forget(self, channel_id: int) -> None:
        """The channel was re-enabled: start counting from zero."""
        ...


class ProcessChannelHealth:
    """ChannelHealth in this process's memory (one replica)."""

    def __init__(self, disable_after: int) -> None:
        self._disable_after = disable_after
        self._failures: dict[int, int] = {}
        self._turn: dict[int, int] = {}

    def credential(self, channel: ChannelRecord) -> str:
        creds = channel.credentials
        if len(creds) == 1:
            return creds[0]
        turn = self._turn.get(channel.id, 0)
        self._turn[channel.id] = turn + 1
        return creds[turn % len(creds)]

    async def succeeded(self, channel_id: int) -> None:
        if self._failures.get(channel_id):
            self._failures[channel_id] = 0

    async def failed(self, channel_id: int) -> bool:
        n = self._failures.get(channel_id, 0) + 1
        self._failures[channel_id] = n
        return n == self._disable_after

    async def forget(self, channel_id: int) -> None:
        self._failures.pop(channel_id, None)
