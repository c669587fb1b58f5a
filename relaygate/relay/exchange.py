"""The per-request record: what the client sent and what the request did, for its log row and metrics."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from relaygate.billing.ledger import Reservation
from relaygate.core.records import ChannelRecord, KeyRecord, LogRow
from relaygate.core.types import Usage
from relaygate.relay.body import RequestBody

_NO_PARAMS: Mapping[str, str] = MappingProxyType({})


@dataclass(slots=True)
class Inbound:
    """A client request as the front door received it."""

    body: RequestBody
    api_key: str | None
    client_ip: str
    request_id: str
    path_params: Mapping[str, str]
    """What the URL said (Gemini puts the model and the method there)."""


@dataclass(slots=True)
class Exchange:
    """What one request did, for its log row and metrics."""

    inbound: Inbound
    operation: str
    started: float = field(default_factory=time.perf_counter)
    key: KeyRecord | None = None
    model: str = ""
    upstream_model: str = ""
    channel: ChannelRecord | None = None
    stream: bool = False
    usage: Usage = field(default_factory=Usage)
    first_chunk_at: float | None = None
    status: int = 200
    error_code: str | None = None
    reservation: Reservation | None = None
    logged: bool = False
    pinned_channel: int | None = None
    """Set by a preparation step when only one channel may serve the request (a MidJourney action goes to the
    channel whose upstream holds the task it acts on)."""

    def log_row(self) -> LogRow:
        self.logged = True
        first = self.first_chunk_at
        usage = self.usage
        key = self.key
        return LogRow(
            created_at=time.time(),
            request_id=self.inbound.request_id,
            key_id=key.id if key else None,
            user_id=key.user_id if key else None,
            channel_id=self.channel.id if self.channel else None,
            endpoint=self.operation,
            model=self.model[:128],
            upstream_model=self.upstream_model[:128],
            is_stream=self.stream,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            characters=usage.characters,
            audio_seconds=usage.seconds,
            images=usage.images,
            latency_ms=round((time.perf_counter() - self.started) * 1000, 3),
            first_chunk_ms=round((first - self.started) * 1000, 3) if first is not None else None,
            status=self.status,
            error_code=self.error_code,
        )
