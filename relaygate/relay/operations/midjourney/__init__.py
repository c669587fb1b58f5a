"""MidJourney submissions (the midjourney-proxy protocol): POST /mj/submit/{imagine, action, blend, describe,
modal, shorten} and /mj/insight-face/swap, and the same under /mj-fast/mj, /mj-relax/mj and /mj-turbo/mj.

Each is priced per call under `mj-<action>-<mode>`; the mode is the path's prefix, else the key's default, else
fast, and reaches the upstream as the same prefix. An answer the upstream took (codes 1, 21, 22) is charged and
its task recorded under relaygate's own id; a refusal costs nothing. The queries (task fetch, list, image seed)
are answered from the task store by relaygate/tasks, not through this operation.
"""

from __future__ import annotations

from typing import ClassVar

import orjson

from relaygate.core.errors import NotFound
from relaygate.core.types import MIDJOURNEY, Usage
from relaygate.protocols.midjourney import SUBMIT_ROUTES, Mode, path_for
from relaygate.protocols.midjourney_answers import SubmitAnswer, client_properties, submit_answer_from
from relaygate.protocols.midjourney_submit import DEFAULT_LIMITS, parse_submit
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import OPENAI, ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.inbound import decode_body
from relaygate.relay.operation import Attempt, Metered, OperationContext, RetryableAnswer, Route, RouteDoc, WholeAnswer
from relaygate.relay.operations.midjourney.records import record
from relaygate.relay.operations.midjourney.request import MidjourneySubmit
from relaygate.relay.sink import ClientSink
from relaygate.relay.upstream import UpstreamBroken, UpstreamResponse

MJ_ERRORS = "midjourney"
"""The error shape of every MidJourney route (server/errors.py renders it)."""
_MODES = ", ".join(m.prefix for m in Mode)


class MidjourneyOperation:
    name: ClassVar[str] = MIDJOURNEY
    routes: ClassVar[tuple[Route, ...]] = tuple(
        Route("POST", prefix + path, OPENAI, RouteDoc(
            "MidJourney submissions (midjourney-proxy's protocol; /mj-fast, /mj-relax, /mj-turbo pick the mode)",
            {"type": "object", "additionalProperties": True}), errors=MJ_ERRORS)
        for prefix in ("", "/mj-{mode}") for path in ("/mj/submit/{action}", "/mj/insight-face/{face_action}"))

    def __init__(self, ctx: OperationContext) -> None:
        self._ctx = ctx

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> MidjourneySubmit:
        params = inbound.path_params
        mode = params.get("mode")
        if mode is not None and mode not in list(Mode):
            raise NotFound(f"/mj-{mode} is not a MidJourney mode; the prefixes are {_MODES} (or none).",
                           code="unknown_url")
        route = f"submit/{params['action']}" if "action" in params else f"insight-face/{params.get('face_action')}"
        if route not in SUBMIT_ROUTES:
            raise NotFound(f"/mj/{route} is not a MidJourney route; the submit routes are "
                           f"{', '.join('/mj/' + r for r in SUBMIT_ROUTES)}.", code="unknown_url")
        body = decode_body(await inbound.body.read(self._ctx.max_body_bytes))
        return MidjourneySubmit(parse_submit(route, body, DEFAULT_LIMITS), route, Mode(mode) if mode else None)

    def expected(self, parsed: MidjourneySubmit) -> Usage:
        return Usage(calls=1)

    async def call(self, parsed: MidjourneySubmit, provider: Provider, upstream_model: str) -> CallSpec:
        target = parsed.target
        body = parsed.request.upstream_body(target.upstream_id if target is not None else None)
        return CallSpec(MIDJOURNEY, path_for(parsed.route, parsed.run_mode), body, upstream_model, stream=False,
                        client_wants_usage=False)

    async def deliver(self, attempt: Attempt, parsed: MidjourneySubmit, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        """The upstream's answer with relaygate's task id in `result`: charged (one call) when the upstream took the
        task, free when it refused it."""
        try:
            answer = attempt.provider.answer(attempt.call, await resp.read())
        except (UpstreamBroken, ValueError) as exc:
            resp.close()
            raise RetryableAnswer(exc) from None
        upstream = submit_answer_from(orjson.loads(answer.body))
        assert upstream is not None  # the provider read it as one
        usage = answer.usage or Usage(calls=0)
        result = None
        if usage.calls:
            if self._ctx.store is None:
                raise RuntimeError("the MidJourney operation needs the store (OperationContext.store)")
            result = await record(self._ctx.store, attempt.channel, parsed, upstream)
        out = SubmitAnswer(upstream.code, upstream.description, result, client_properties(upstream.properties))
        return Metered(usage, answer=WholeAnswer(orjson.dumps(out.to_json())))
