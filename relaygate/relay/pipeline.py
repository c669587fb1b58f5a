"""The relay pipeline for OpenAI-format endpoints: one request from key to settled charge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from relaygate.billing.ledger import Ledger, Reservation
from relaygate.billing.pricing import quota_cost
from relaygate.billing.tokens import TokenCounter
from relaygate.config import Settings
from relaygate.core.errors import (
    Forbidden,
    NotFound,
    RateLimited,
    RelayError,
    ServiceUnavailable,
    UpstreamClientError,
    UpstreamFailed,
    UpstreamTimeout,
)
from relaygate.core.records import ChannelRecord, KeyRecord, PriceRecord
from relaygate.core.types import Dialect, Endpoint, JsonObject, Usage
from relaygate.limits.base import Admission, RateLimiter, Refusal
from relaygate.protocols.content import completion_chunks
from relaygate.protocols.sse import DONE, frame
from relaygate.providers.base import CallSpec, Provider
from relaygate.providers.registry import provider_for
from relaygate.relay.auth import authenticate, check_ip, check_model
from relaygate.relay.catalog import Catalog, CatalogCache
from relaygate.relay.dialects import OPENAI, ClientDialect, RouteHints, egress_for
from relaygate.relay.inbound import ParsedRequest
from relaygate.relay.metrics import RelayMetrics
from relaygate.relay.routing import ChannelHealth, attempt_order
from relaygate.relay.sink import ClientGone, ClientSink
from relaygate.relay.streaming import StreamEnd, StreamOutcome, pump
from relaygate.relay.upstream import RETRYABLE_ERRORS, Upstream

log = logging.getLogger("relaygate.relay")

_NO_HINTS = RouteHints()
ChannelDown = Callable[[ChannelRecord, str], Coroutine[Any, Any, None]]
CLIENT_CLOSED = 499


@dataclass(slots=True)
class Inbound:
    """A client request as the front door received it."""

    endpoint: Endpoint
    raw_body: bytes
    api_key: str | None
    client_ip: str
    request_id: str
    dialect: ClientDialect = OPENAI
    hints: RouteHints = _NO_HINTS


@dataclass(slots=True)
class Exchange:
    """What one request did, for its log row and metrics."""

    inbound: Inbound
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
    admission: Admission | None = None
    logged: bool = False

    def log_row(self) -> JsonObject:
        self.logged = True
        first = self.first_chunk_at
        return {
            "created_at": time.time(),
            "request_id": self.inbound.request_id,
            "key_id": self.key.id if self.key else None,
            "user_id": self.key.user_id if self.key else None,
            "channel_id": self.channel.id if self.channel else None,
            "endpoint": self.inbound.endpoint.name.lower(),
            "model": self.model[:128],
            "upstream_model": self.upstream_model[:128],
            "is_stream": self.stream,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "cached_tokens": self.usage.cached_tokens,
            "cache_write_tokens": self.usage.cache_write_tokens,
            "reasoning_tokens": self.usage.reasoning_tokens,
            "cost": 0,
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 3),
            "first_chunk_ms": round((first - self.started) * 1000, 3) if first is not None else None,
            "status": self.status,
            "error_code": self.error_code,
        }


@dataclass(slots=True)
class _Plan:
    parsed: ParsedRequest
    price: PriceRecord
    multiplier: float
    prompt_estimate: int
    order: list[ChannelRecord]


class Relay:
    """Serves chat, completions and embeddings for OpenAI-format clients."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalogs: CatalogCache,
        ledger: Ledger,
        limiter: RateLimiter,
        upstream: Upstream,
        tokens: TokenCounter,
        metrics: RelayMetrics,
        health: ChannelHealth,
        on_channel_down: ChannelDown,
    ) -> None:
        self._settings = settings
        self._catalogs = catalogs
        self._ledger = ledger
        self._limiter = limiter
        self._upstream = upstream
        self._tokens = tokens
        self._metrics = metrics
        self._health = health
        self._on_channel_down = on_channel_down
        self._rng = random.Random()
        self._background: set[asyncio.Task[None]] = set()

    async def handle(self, inbound: Inbound, sink: ClientSink) -> None:
        """Answer one request through `sink`; a RelayError raised here means nothing was sent yet."""
        ex = Exchange(inbound)
        catalog = self._catalogs.catalog
        try:
            ex.key = authenticate(catalog, inbound.api_key, time.time())
            check_ip(ex.key, inbound.client_ip)
            await self._serve(catalog, ex, sink)
        except RelayError as err:
            ex.status, ex.error_code = err.status, err.code
            await self._close_failed(ex)
            raise
        except BaseException:
            ex.status, ex.error_code = 500, "internal_error"
            await asyncio.shield(self._close_failed(ex))
            raise
        finally:
            label = ex.model if ex.channel is not None else "other"
            self._metrics.request(inbound.endpoint.name.lower(), label, ex.status, time.perf_counter() - ex.started)

    async def _close_failed(self, ex: Exchange) -> None:
        if ex.reservation is not None and not ex.reservation.closed:
            await self._ledger.release(ex.reservation, ex.log_row())
        elif ex.key is not None and not ex.logged:
            await self._ledger.record(ex.log_row())

    def _plan(self, catalog: Catalog, ex: Exchange) -> _Plan:
        assert ex.key is not None
        parsed = ex.inbound.dialect.parse(ex.inbound.endpoint, ex.inbound.raw_body, ex.inbound.hints)
        ex.model, ex.stream = parsed.model, parsed.stream
        check_model(ex.key, parsed.model)
        channels = catalog.channels_for(parsed.model, ex.key.group)
        if not channels:
            raise NotFound(
                f"The model '{parsed.model}' does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        order = attempt_order(channels, self._rng)
        if not order:
            raise ServiceUnavailable(
                f"Every channel serving '{parsed.model}' is disabled or cooling down; try again later."
            )
        # A mapped model without its own price is billed at the price of the upstream model it maps to.
        price = catalog.price(parsed.model) or catalog.price(order[0].upstream_model(parsed.model))
        if price is None:
            raise Forbidden(
                f"The model '{parsed.model}' has no price set; ask the operator to set one.",
                code="model_price_not_set",
                param="model",
            )
        prompt = self._tokens.prompt_tokens(parsed.endpoint, parsed.body)
        return _Plan(parsed, price, catalog.multiplier(ex.key.group), prompt, order)

    async def _serve(self, catalog: Catalog, ex: Exchange, sink: ClientSink) -> None:
        key = ex.key
        assert key is not None
        plan = self._plan(catalog, ex)
        parsed = plan.parsed
        output = 0
        if parsed.endpoint is not Endpoint.EMBEDDINGS:
            output = (parsed.max_output or self._settings.default_max_tokens) * parsed.choices
        admission = await self._limiter.acquire(key.id, key.rpm, key.tpm, plan.prompt_estimate + output)
        if isinstance(admission, Refusal):
            raise RateLimited(
                f"Rate limit reached for this key; retry in {admission.retry_after:.1f} s.",
                retry_after=admission.retry_after,
            )
        ex.admission = admission
        estimate = Usage(prompt_tokens=plan.prompt_estimate + plan.prompt_estimate // 10 + 16,
                         completion_tokens=output)
        amount = quota_cost(plan.price, estimate, multiplier=plan.multiplier)
        try:
            ex.reservation = await self._ledger.reserve(key.id, key.user_id, amount, key_limited=not key.unlimited)
            await self._attempts(ex, plan, sink)
        finally:
            await self._settle_limit(ex)  # a failed request holds no TPM; a settled one already did this

    async def _attempts(self, ex: Exchange, plan: _Plan, sink: ClientSink) -> None:
        parsed = plan.parsed
        last: RelayError | None = None
        for channel in plan.order[: self._settings.retry_count + 1]:
            ex.channel = channel
            ex.upstream_model = channel.upstream_model(parsed.model)
            provider = provider_for(channel.type)
            call = CallSpec(parsed.endpoint, parsed.body, ex.upstream_model, parsed.stream, parsed.wants_usage,
                            ex.inbound.dialect.name, parsed.native)
            request = provider.build(channel, self._health.credential(channel), call)
            timeout = channel.timeout or self._settings.upstream_timeout
            try:
                resp = await self._upstream.open(request, timeout)
            except RETRYABLE_ERRORS as exc:
                last = self._failed(channel, exc)
                continue
            if resp.status >= 400:
                last = await self._refused(channel, provider, resp)
                continue
            try:
                if parsed.stream and resp.content_type == "text/event-stream":
                    await self._stream(ex, plan, provider, call, resp, sink)
                else:
                    await self._whole(ex, plan, provider, call, resp, sink)
            except _RetryableAnswer as bad:
                last = self._failed(channel, bad.cause)
                continue
            await self._health.succeeded(channel.id)
            return
        assert last is not None
        raise last

    async def _whole(self, ex: Exchange, plan: _Plan, provider: Provider, call: CallSpec,
                     resp: aiohttp.ClientResponse, sink: ClientSink) -> None:
        client = ex.inbound.dialect
        try:
            raw = await resp.read()
            answer = provider.answer(call, raw)
            if call.stream:
                if answer.dialect is not Dialect.OPENAI:
                    raise ValueError("the upstream answered a stream request without streaming")
                await self._replay(ex, plan, answer.body, answer.usage, sink)
                return
            body = answer.body if answer.dialect is client.name else client.whole(answer.body, ex.model)
        except (*RETRYABLE_ERRORS, ValueError) as exc:
            resp.close()
            raise _RetryableAnswer(exc) from None
        ex.usage = answer.usage or Usage(plan.prompt_estimate, 0, counted_locally=True)
        await self._settle(ex, plan)
        await sink.send_json(200, body)

    async def _replay(self, ex: Exchange, plan: _Plan, body: bytes, usage: Usage | None, sink: ClientSink) -> None:
        """A stream request whose upstream cannot stream: the finished answer, sent as a stream."""
        chunks = completion_chunks(orjson.loads(body), include_usage=plan.parsed.wants_usage)
        translator = egress_for(_Replayed(), ex.inbound.dialect, ex.model)
        head = translator.feed(b"".join(frame(orjson.dumps(chunk)) for chunk in chunks))
        ex.usage = usage or Usage(plan.prompt_estimate, 0, counted_locally=True)
        try:
            await sink.open_stream()
            ex.first_chunk_at = time.perf_counter()
            await sink.write(head)
        except ClientGone:
            ex.status = CLIENT_CLOSED
        await self._settle(ex, plan)
        if ex.status != CLIENT_CLOSED:
            await _quietly(sink.close_stream(translator.finish()))

    async def _stream(self, ex: Exchange, plan: _Plan, provider: Provider, call: CallSpec,
                      resp: aiohttp.ClientResponse, sink: ClientSink) -> None:
        client = ex.inbound.dialect
        translator = egress_for(provider.stream(call), client, ex.model)
        try:
            await sink.open_stream()
        except ClientGone:
            resp.close()
            outcome = StreamOutcome(StreamEnd.CLIENT_GONE, None)
        else:
            outcome = await pump(resp, translator, sink)
        ex.first_chunk_at = outcome.first_chunk_at
        if outcome.first_chunk_at is not None:
            self._metrics.first_chunk(ex.inbound.endpoint.name.lower(), outcome.first_chunk_at - ex.started)
        usage = translator.usage or Usage(
            plan.prompt_estimate, self._tokens.count(translator.generated_text()), counted_locally=True
        )
        if outcome.end is StreamEnd.UPSTREAM_BROKEN:
            assert ex.channel is not None
            self._failed(ex.channel, ConnectionError("stream broken"))
            ex.status, ex.error_code = 502, "upstream_error"
            assert ex.reservation is not None
            await self._ledger.release(ex.reservation, ex.log_row())
            reason = f" ({translator.failure})" if translator.failure else ""
            message = f"The upstream stream broke off{reason}; the request was not billed."
            await _quietly(sink.close_stream(outcome.tail + client.stream_error(message)))
            return
        ex.usage = usage
        if outcome.end is StreamEnd.CLIENT_GONE:
            ex.status = CLIENT_CLOSED
            await self._settle(ex, plan)
            return
        await self._settle(ex, plan)
        await _quietly(sink.close_stream(outcome.tail + translator.finish()))

    async def _settle(self, ex: Exchange, plan: _Plan) -> None:
        assert ex.reservation is not None
        cost = quota_cost(plan.price, ex.usage, multiplier=plan.multiplier)
        self._metrics.tokens(ex.model, ex.usage.prompt_tokens, ex.usage.completion_tokens)
        await self._ledger.settle(ex.reservation, cost, ex.log_row())
        await self._settle_limit(ex)

    async def _settle_limit(self, ex: Exchange) -> None:
        """TPM to the tokens really used, before the answer's last byte (0 for a failed request)."""
        if ex.admission is not None and ex.key is not None:
            await self._limiter.settle(ex.key.id, ex.admission, ex.usage.total_tokens)

    def _failed(self, channel: ChannelRecord, exc: BaseException) -> RelayError:
        timed_out = isinstance(exc, asyncio.TimeoutError)
        reason = "timeout" if timed_out else "connect"
        self._metrics.upstream_error(channel.name, reason)
        self._note_failure(channel, reason)
        if timed_out:
            return UpstreamTimeout("The upstream did not answer in time; try again later.")
        return UpstreamFailed("Every eligible upstream channel failed; the last could not be reached.")

    async def _refused(self, channel: ChannelRecord, provider: Provider, resp: aiohttp.ClientResponse) -> RelayError:
        """An upstream error status: the channel's failure to retry past, or (raised) the client's own fault."""
        status = resp.status
        try:
            raw = await resp.read()
        except RETRYABLE_ERRORS:
            raw = b""
        finally:
            resp.release()
        refusal = provider.refusal(status, raw)
        if status == 429 or status >= 500 or status in (401, 403):
            self._metrics.upstream_error(channel.name, str(status))
            self._note_failure(channel, f"HTTP {status}")
            return UpstreamFailed(
                f"Every eligible upstream channel failed; the last answered HTTP {status}."
            )
        await self._health.succeeded(channel.id)
        message = refusal.message
        for secret in channel.credentials:
            message = message.replace(secret, "***")
        raise UpstreamClientError(status, message, type_=refusal.type, code=refusal.code, param=refusal.param)

    def _note_failure(self, channel: ChannelRecord, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self._count_failure(channel, reason))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _count_failure(self, channel: ChannelRecord, reason: str) -> None:
        if await self._health.failed(channel.id):
            await self._on_channel_down(channel, reason)

    async def drain(self) -> None:
        """Wait for background work the relay started (auto-disabling channels)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


class _Replayed:
    """The OpenAI-format bytes of a replayed answer, passed through as they are."""

    usage: Usage | None = None
    finished = True
    failure: str | None = None
    dialect = Dialect.OPENAI

    def feed(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return DONE

    def generated_text(self) -> str:
        return ""


class _RetryableAnswer(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


async def _quietly(write: Awaitable[None]) -> None:
    with contextlib.suppress(ClientGone):
        await write
