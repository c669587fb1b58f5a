"""The retry loop: one request tried on its channels in order, each failure classified (the channel's, to retry
past and count towards auto-disable, or the client's own, passed through)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from relaygate.core.errors import RelayError, UpstreamClientError, UpstreamFailed, UpstreamTimeout
from relaygate.core.records import ChannelRecord
from relaygate.providers.base import Provider
from relaygate.providers.registry import provider_for
from relaygate.relay.dialects import ClientDialect
from relaygate.relay.exchange import Exchange
from relaygate.relay.metrics import RelayMetrics
from relaygate.relay.operation import Attempt, End, Metered, Operation, Parsed, RetryableAnswer
from relaygate.relay.routing import ChannelHealth
from relaygate.relay.sink import ClientSink
from relaygate.relay.upstream import (
    Transport,
    UpstreamBroken,
    UpstreamResponse,
    UpstreamTimedOut,
    UpstreamUnavailable,
)

ChannelDown = Callable[[ChannelRecord, str], Coroutine[Any, Any, None]]


class Attempts:
    """Calls an operation's upstream on each channel in turn until one answers."""

    def __init__(self, *, transport: Transport, health: ChannelHealth, metrics: RelayMetrics,
                 on_channel_down: ChannelDown, retry_count: int, default_timeout: float) -> None:
        self._transport = transport
        self._health = health
        self._metrics = metrics
        self._on_channel_down = on_channel_down
        self._retry_count = retry_count
        self._default_timeout = default_timeout
        self._background: set[asyncio.Task[None]] = set()

    async def run(self, ex: Exchange, op: Operation[Any], parsed: Parsed, order: Sequence[ChannelRecord],
                  dialect: ClientDialect, sink: ClientSink) -> Metered:
        """The metered answer of the first channel that gave one; raises the last failure when none did."""
        last: RelayError | None = None
        for channel in order[: self._retry_count + 1]:
            ex.channel = channel
            ex.upstream_model = channel.upstream_model(parsed.model)
            provider = provider_for(channel.type)
            call = await op.call(parsed, provider, ex.upstream_model)
            request = provider.build(channel, self._health.credential(channel), call)
            try:
                resp = await self._transport.open(request, channel.timeout or self._default_timeout)
            except UpstreamUnavailable as exc:
                last = self.failed(channel, timed_out=isinstance(exc, UpstreamTimedOut))
                continue
            if resp.status >= 400:
                last = await self._refused(channel, provider, resp)
                continue
            try:
                metered = await op.deliver(Attempt(channel, provider, call, dialect, parsed.model), parsed, resp, sink)
            except RetryableAnswer as bad:
                cause = bad.cause
                last = self.failed(channel, timed_out=isinstance(cause, UpstreamBroken) and cause.timed_out)
                continue
            if metered.end is End.UPSTREAM_BROKEN:
                self.failed(channel, timed_out=False)
            else:
                await self._health.succeeded(channel.id)
            return metered
        assert last is not None
        raise last

    def failed(self, channel: ChannelRecord, *, timed_out: bool) -> RelayError:
        """Count a channel failure (metrics, auto-disable) and say what the client gets if it was the last."""
        reason = "timeout" if timed_out else "connect"
        self._metrics.upstream_error(channel.name, reason)
        self._note_failure(channel, reason)
        if timed_out:
            return UpstreamTimeout("The upstream did not answer in time; try again later.")
        return UpstreamFailed("Every eligible upstream channel failed; the last could not be reached.")

    async def _refused(self, channel: ChannelRecord, provider: Provider, resp: UpstreamResponse) -> RelayError:
        """An upstream error status: the channel's failure to retry past, or (raised) the client's own fault."""
        status = resp.status
        try:
            raw = await resp.read()
        except UpstreamBroken:
            raw = b""
        finally:
            resp.release()
        refusal = provider.refusal(status, raw)
        if status == 429 or status >= 500 or status in (401, 403):
            self._metrics.upstream_error(channel.name, str(status))
            self._note_failure(channel, f"HTTP {status}")
            return UpstreamFailed(f"Every eligible upstream channel failed; the last answered HTTP {status}.")
        await self._health.succeeded(channel.id)
        message = refusal.message
        for secret in channel.credentials:
            message = message.replace(secret, "***")
        raise UpstreamClientError(status, message, type_=refusal.type, code=refusal.code, param=refusal.param)

    def _note_failure(self, channel: ChannelRecord, reason: str) -> None:
        # counted off the request's path: a shared count (Redis) is a round trip the client need not wait for
        task = asyncio.get_running_loop().create_task(self._count_failure(channel, reason))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _count_failure(self, channel: ChannelRecord, reason: str) -> None:
        if await self._health.failed(channel.id):
            await self._on_channel_down(channel, reason)

    async def drain(self) -> None:
        """Wait for background work started here (auto-disabling channels)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
