"""Channel probes: the operator's "test" button and the background re-enabling of failed channels."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

from relaygate.core.records import ChannelRecord
from relaygate.providers.registry import provider_for
from relaygate.relay.catalog import CatalogCache
from relaygate.relay.routing import ChannelHealth
from relaygate.relay.upstream import Transport, UpstreamBroken, UpstreamTimedOut, UpstreamUnavailable
from relaygate.store import admin_sql
from relaygate.store.database import Database
from relaygate.store.leases import Lease, run_while_held

log = logging.getLogger("relaygate.prober")

PROBE_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    status: int | None
    latency_ms: float
    message: str


async def probe_channel(upstream: Transport, channel: ChannelRecord) -> ProbeResult:
    """Send the provider's cheapest request with the channel's first credential."""
    provider = provider_for(channel.type)
    model = channel.test_model or next((m for m in channel.models if "*" not in m), channel.models[0])
    request = provider.probe(channel, channel.credentials[0], channel.upstream_model(model))
    started = time.perf_counter()
    try:
        resp = await upstream.open(request, channel.timeout or PROBE_TIMEOUT)
        try:
            raw = await resp.read()
        finally:
            resp.release()
    except (UpstreamUnavailable, UpstreamBroken) as exc:
        elapsed = (time.perf_counter() - started) * 1000
        timed_out = isinstance(exc, UpstreamTimedOut) or (isinstance(exc, UpstreamBroken) and exc.timed_out)
        return ProbeResult(False, None, elapsed, f"the upstream {'timed out' if timed_out else 'could not connect'}")
    elapsed = (time.perf_counter() - started) * 1000
    if resp.status >= 400:
        refusal = provider.refusal(resp.status, raw)
        message = refusal.message
        for secret in channel.credentials:
            message = message.replace(secret, "***")
        return ProbeResult(False, resp.status, elapsed, message)
    return ProbeResult(True, resp.status, elapsed, f"{model} answered")


class ChannelProber:
    """Disables a channel that keeps failing and re-enables it once a probe succeeds. Probes run on the replica
    holding `lease`, so an upstream sees one probe per interval however many replicas there are."""

    def __init__(self, db: Database, catalogs: CatalogCache, upstream: Transport, health: ChannelHealth,
                 interval: float, lease: Lease) -> None:
        self._db = db
        self._catalogs = catalogs
        self._upstream = upstream
        self._health = health
        self._interval = interval
        self.lease = lease

    async def channel_down(self, channel: ChannelRecord, reason: str) -> None:
        why = f"auto-disabled after repeated failures (last: {reason})"
        changed = await self._db.run(
            lambda conn: admin_sql.set_channel_status(conn, channel.id, "auto_disabled", why, only_if="enabled")
        )
        if changed:
            log.warning("channel %s auto-disabled: %s", channel.name, reason)
            await self._catalogs.reload()

    async def probe_disabled(self) -> None:
        for channel in self._catalogs.catalog.channels:
            if channel.status != "auto_disabled":
                continue
            result = await probe_channel(self._upstream, channel)
            if not result.ok:
                continue
            changed = await self._db.run(functools.partial(
                admin_sql.set_channel_status, channel_id=channel.id, status="enabled", reason="",
                only_if="auto_disabled"))
            if changed:
                await self._health.forget(channel.id)
                log.info("channel %s re-enabled: probe succeeded", channel.name)
                await self._catalogs.reload()

    async def run_forever(self) -> None:
        await run_while_held(self.lease, self._interval, self.probe_disabled)
