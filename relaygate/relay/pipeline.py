"""The relay transaction, the same for every operation: authenticate → parse → preparation steps → route → price
and reserve → attempts → deliver → settle, and the answer's last bytes once the charge is stored."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from relaygate.billing.estimate import reservation
from relaygate.billing.ledger import Ledger
from relaygate.billing.pricing import quota_cost
from relaygate.core.errors import BadRequest, Forbidden, NotFound, RateLimited, RelayError, ServiceUnavailable
from relaygate.core.records import ChannelRecord, PriceRecord
from relaygate.limits.base import UNLIMITED, Admission, RateLimiter, Refusal
from relaygate.relay.attempts import Attempts
from relaygate.relay.auth import authenticate, check_ip, check_model
from relaygate.relay.catalog import Catalog, CatalogCache
from relaygate.relay.exchange import Exchange, Inbound
from relaygate.relay.metrics import RelayMetrics
from relaygate.relay.operation import End, Metered, Operation, Parsed, Route
from relaygate.relay.routing import attempt_order
from relaygate.relay.sink import ClientGone, ClientSink
from relaygate.relay.steps.base import Step

CLIENT_CLOSED = 499


@dataclass(slots=True)
class _Plan:
    order: list[ChannelRecord]
    price: PriceRecord
    multiplier: float
    admission: Admission


class Relay:
    """Serves every operation for every front door."""

    def __init__(self, *, catalogs: CatalogCache, ledger: Ledger, limiter: RateLimiter, attempts: Attempts,
                 metrics: RelayMetrics, operations: dict[str, Operation[Any]], steps: Sequence[Step] = ()) -> None:
        self._catalogs = catalogs
        self._ledger = ledger
        self._limiter = limiter
        self._attempts = attempts
        self._metrics = metrics
        self.operations = operations
        self._steps = tuple(steps)
        self._rng = random.Random()

    async def handle(self, operation: str, route: Route, inbound: Inbound, sink: ClientSink) -> None:
        """Answer one request through `sink`; a RelayError raised here means nothing was sent yet."""
        op = self.operations[operation]
        ex = Exchange(inbound, operation)
        catalog = self._catalogs.catalog
        admission = UNLIMITED
        try:
            ex.key = authenticate(catalog, inbound.api_key, time.time())
            check_ip(ex.key, inbound.client_ip)
            parsed: Parsed = await op.parse(inbound, route.dialect)
            ex.model, ex.stream = parsed.model, parsed.stream
            check_model(ex.key, parsed.model)  # what the client asked for, before a step may map it
            for step in self._steps:
                await step.prepare(ex, parsed)
            plan = await self._plan(catalog, ex, op, parsed)
            admission = plan.admission
            metered = await self._attempts.run(ex, op, parsed, plan.order, route.dialect, sink)
            await self._finish(ex, plan, metered, sink)
        except RelayError as err:
            ex.status, ex.error_code = err.status, err.code
            await self._close_failed(ex, admission)
            raise
        except BaseException:
            ex.status, ex.error_code = 500, "internal_error"
            await asyncio.shield(self._close_failed(ex, admission))
            raise
        finally:
            label = ex.model if ex.channel is not None else "other"
            self._metrics.request(operation, label, ex.status, time.perf_counter() - ex.started)

    async def _plan(self, catalog: Catalog, ex: Exchange, op: Operation[Any], parsed: Parsed) -> _Plan:
        """Route and price the request, then hold its expected cost against the rate limits and the balance."""
        key = ex.key
        assert key is not None
        channels = catalog.channels_for(parsed.model, key.group, op.name)
        if ex.pinned_channel is not None:
            channels = tuple(c for c in channels if c.id == ex.pinned_channel)
            if not channels:
                raise NotFound("The channel that holds what this request refers to no longer serves it to this key.",
                               code="channel_not_found")
        if not channels:
            if catalog.channels_for(parsed.model, key.group):
                raise BadRequest(f"The model '{parsed.model}' is not served for this endpoint ({op.name}) by any "
                                 "channel; use another model or endpoint.", param="model")
            raise NotFound(f"The model '{parsed.model}' does not exist or you do not have access to it.",
                           code="model_not_found", param="model")
        order = attempt_order(channels, self._rng)
        if not order:
            raise ServiceUnavailable(
                f"Every channel serving '{parsed.model}' is disabled or cooling down; try again later.")
        price = catalog.prices.price_for(parsed.priced_as, order[0].upstream_model(parsed.priced_as))
        if price is None:
            raise Forbidden(f"The model '{parsed.priced_as}' has no price set; ask the operator to set one.",
                            code="model_price_not_set", param="model")
        expected = op.expected(parsed)
        admitted = await self._limiter.acquire(key.id, key.rpm, key.tpm, expected.total_tokens)
        if isinstance(admitted, Refusal):
            budget = "requests per minute (RPM)" if admitted.limit == "rpm" else "tokens per minute (TPM)"
            raise RateLimited(f"This key's {budget} limit is reached; retry in {admitted.retry_after:.1f} s.",
                              retry_after=admitted.retry_after)
        multiplier = catalog.multiplier(key.group)
        plan = _Plan(order, price, multiplier, admitted)
        try:
            ex.reservation = await self._ledger.reserve(
                key.id, key.user_id, reservation(price, expected, multiplier=multiplier), key_limited=not key.unlimited,
                request_id=ex.inbound.request_id, endpoint=op.name, model=parsed.model)
        except BaseException:
            await self._limiter.settle(key.id, admitted, 0)
            raise
        return plan

    async def _finish(self, ex: Exchange, plan: _Plan, metered: Metered, sink: ClientSink) -> None:
        """Settle (or, for a broken stream, release) and send what the client still waits for."""
        ex.first_chunk_at = metered.first_byte_at
        if metered.first_byte_at is not None:
            self._metrics.first_chunk(ex.operation, metered.first_byte_at - ex.started)
        ex.usage = metered.usage
        if metered.end is End.UPSTREAM_BROKEN:
            ex.status, ex.error_code = 502, "upstream_error"
            await self._release(ex, plan.admission)
            if metered.abort:
                sink.abort()
            else:
                await _quietly(sink.close_stream(metered.closing))
            return
        if metered.end is End.CLIENT_GONE:
            ex.status = CLIENT_CLOSED
        await self._settle(ex, plan)
        if metered.end is End.CLIENT_GONE:
            return
        if metered.answer is not None:
            await sink.send(metered.answer.status, metered.answer.body, metered.answer.content_type)
        else:
            await _quietly(sink.close_stream(metered.closing))

    async def _settle(self, ex: Exchange, plan: _Plan) -> None:
        assert ex.reservation is not None and ex.key is not None
        usage = ex.usage
        cost = quota_cost(plan.price, usage, multiplier=plan.multiplier)
        self._metrics.tokens(ex.model, usage.prompt_tokens, usage.completion_tokens)
        await self._ledger.settle(ex.reservation, cost, ex.log_row())
        await self._limiter.settle(ex.key.id, plan.admission, usage.total_tokens)

    async def _release(self, ex: Exchange, admission: Admission) -> None:
        assert ex.reservation is not None and ex.key is not None
        await self._ledger.release(ex.reservation, ex.log_row())
        await self._limiter.settle(ex.key.id, admission, 0)

    async def _close_failed(self, ex: Exchange, admission: Admission) -> None:
        if ex.reservation is not None and not ex.reservation.closed:
            await self._release(ex, admission)
        elif ex.key is not None and not ex.logged:
            await self._ledger.record(ex.log_row())

    async def drain(self) -> None:
        """Wait for background work the relay started (auto-disabling channels)."""
        await self._attempts.drain()


async def _quietly(write: Any) -> None:
    with contextlib.suppress(ClientGone):
        await write
