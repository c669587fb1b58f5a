"""midjourney-proxy upstreams (novicezk's, trueai-org's, or any relay speaking the protocol): routes under
{base_url}/mj, the channel's secret in `mj-api-secret`, the mode as the path prefix (/mj-relax/mj/...).

https://github.com/novicezk/midjourney-proxy/blob/main/docs/api.md; trueai-org/midjourney-proxy serves the
mode prefixes (/mj-fast, /mj-relax, /mj-turbo) and picks an account running in that mode.
"""

from __future__ import annotations

from typing import ClassVar

import orjson
from pydantic import Field

from relaygate.core.records import ChannelRecord
from relaygate.core.types import MIDJOURNEY, Dialect, Usage
from relaygate.protocols.midjourney import FETCH_ROUTE, IMAGE_SEED_ROUTE, LIST_ROUTE, path_for, route_of
from relaygate.protocols.midjourney_answers import submit_answer_from
from relaygate.providers.base import (
    Answer,
    CallSpec,
    ProviderOptions,
    UpstreamRefusal,
    UpstreamRequest,
    options_of,
)

_JSON = "application/json"


class MidjourneyOptions(ProviderOptions):
    mode_prefix: bool = Field(
        default=True, description="call the upstream under /mj-{fast,relax,turbo}/mj (trueai-org midjourney-proxy, "
        "new-api); off: under /mj only, for an upstream that runs one mode (its accounts' own)")


class _Bytes:
    """The stream translator the Provider interface asks for; midjourney-proxy answers are never streamed, so
    this one only hands bytes on."""

    usage: Usage | None = None
    finished = True
    failure: str | None = None
    dialect = Dialect.OPENAI

    def feed(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""

    def generated_text(self) -> str:
        return ""


class MidjourneyProvider:
    name = "midjourney"
    serves: ClassVar[frozenset[str]] = frozenset({MIDJOURNEY})
    dialect: ClassVar[Dialect] = Dialect.OPENAI
    """No chat dialect: only the MidJourney operation routes to this type, and it never passes a body through."""
    options: ClassVar[type[ProviderOptions]] = MidjourneyOptions
    image_urls: ClassVar[tuple[str, ...]] = ()
    """It relays no chat, so no image parts."""

    def build(self, channel: ChannelRecord, credential: str, call: CallSpec) -> UpstreamRequest:
        path = call.path
        parsed = route_of(path)
        if parsed is not None and parsed[0] is not None and not options_of(channel, MidjourneyOptions).mode_prefix:
            path = path_for(parsed[1], None)
        route = parsed[1] if parsed is not None else ""
        headers = {"mj-api-secret": credential}
        if FETCH_ROUTE.fullmatch(route) or IMAGE_SEED_ROUTE.fullmatch(route):
            return UpstreamRequest("GET", channel.base_url + path, headers, None)
        headers["Content-Type"] = _JSON
        return UpstreamRequest("POST", channel.base_url + path, headers, orjson.dumps(call.body))

    def answer(self, call: CallSpec, raw: bytes) -> Answer:
        """A submit answer {code, description, result, properties}: one call when the upstream took the task."""
        try:
            answer = submit_answer_from(orjson.loads(raw))
        except orjson.JSONDecodeError:
            answer = None
        if answer is None:
            raise ValueError("the upstream's answer is not a midjourney-proxy submit answer")
        return Answer(raw, Usage(calls=1 if answer.accepted and answer.result else 0))

    def stream(self, call: CallSpec) -> _Bytes:
        return _Bytes()

    def refusal(self, status: int, raw: bytes) -> UpstreamRefusal:
        """An error status: midjourney-proxy's own answer (its code kept, as a string), or Spring's error body."""
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        answer = submit_answer_from(body)
        if answer is not None:
            return UpstreamRefusal(answer.description or f"the upstream answered code {answer.code}",
                                   "midjourney_error", str(answer.code), None)
        error = body.get("error") if isinstance(body, dict) else None
        reason = f" ({error})" if isinstance(error, str) and len(error) < 100 else ""
        return UpstreamRefusal(f"the upstream answered HTTP {status}{reason}", "upstream_error", None, None)

    def probe(self, channel: ChannelRecord, credential: str, model: str) -> UpstreamRequest:
        """Listing no tasks: answered [] by a healthy upstream that takes the channel's secret."""
        spec = CallSpec(MIDJOURNEY, path_for(LIST_ROUTE, None), {"ids": []}, model, stream=False,
                        client_wants_usage=False)
        return self.build(channel, credential, spec)
