"""OpenAI-compatible upstreams: the client's body is forwarded as is, answers are relayed as bytes."""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson

from relaygate.core.records import ChannelRecord
from relaygate.core.types import Dialect, Endpoint, JsonObject, Usage
from relaygate.protocols.content import parse_usage, trailing_usage
from relaygate.protocols.sse import DONE, SSEBuffer, event_data
from relaygate.providers import reasoning
from relaygate.providers.base import Answer, CallSpec, UpstreamRefusal, UpstreamRequest

_JSON = "application/json"


def api_root(base_url: str) -> str:
    """`https://host` means `https://host/v1`; a base URL with its own path is used as given."""
    path = urlsplit(base_url).path
    return base_url + "/v1" if path in ("", "/") else base_url


def openai_refusal(status: int, raw: bytes) -> UpstreamRefusal:
    """Read an OpenAI-shaped error body; anything else becomes a generic message."""
    try:
        err = orjson.loads(raw).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        err = None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        code, param, type_ = err.get("code"), err.get("param"), err.get("type")
        return UpstreamRefusal(
            message=err["message"],
            type=type_ if isinstance(type_, str) else "invalid_request_error",
            code=str(code) if code is not None else None,
            param=param if isinstance(param, str) else None,
        )
    return UpstreamRefusal(f"the upstream answered HTTP {status}", "upstream_error", None, None)


class OpenAIStream:
    """Relays OpenAI SSE events unchanged, noting usage and text; hides forced usage if unasked."""

    def __init__(self, *, strip_usage: bool) -> None:
        self._sse = SSEBuffer()
        self._strip_usage = strip_usage
        self._text: list[str] = []
        self.usage: Usage | None = None
        self.finished = False
        self.failure: str | None = None
        self.dialect = Dialect.OPENAI

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for event in self._sse.feed(data):
            payload = event_data(event)
            if payload is None:
                if event.strip():
                    out.append(event + b"\n\n")
                continue
            if payload == b"[DONE]":
                self.finished = True
                continue
            forwarded = self._inspect(payload)
            if forwarded is not None:
                out.append(b"data: " + forwarded + b"\n\n")
        return b"".join(out)

    def _inspect(self, payload: bytes) -> bytes | None:
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return payload
        if not isinstance(obj, dict):
            return payload
        if "error" in obj and not obj.get("choices"):
            error = obj["error"]
            self.failure = str(error.get("message") if isinstance(error, dict) else error)
            return None
        if "usage" in obj:
            usage = parse_usage(obj["usage"])
            if usage is not None:
                self.usage = usage
        choices = obj.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict):
                    self._collect(choice)
        if self._strip_usage and "usage" in obj:
            if not choices:
                return None
            del obj["usage"]
            return orjson.dumps(obj)
        return payload

    def _collect(self, choice: JsonObject) -> None:
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(text, str):
            self._text.append(text)
        if isinstance(delta, dict) and isinstance(delta.get("tool_calls"), list):
            for call in delta["tool_calls"]:  # type: ignore[union-attr]
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict):
                    self._text.append(str(fn.get("name") or "") + str(fn.get("arguments") or ""))

    def generated_text(self) -> str:
        return "".join(self._text)

    def finish(self) -> bytes:
        return DONE


class OpenAIProvider:
    """Any server that speaks OpenAI's API: forward, relay, read usage."""

    name = "openai"

    def build(self, channel: ChannelRecord, credential: str, call: CallSpec) -> UpstreamRequest:
        body = dict(call.body)
        body["model"] = call.upstream_model
        if call.stream:
            options = body.get("stream_options")
            options = dict(options) if isinstance(options, dict) else {}
            options["include_usage"] = True
            body["stream_options"] = options
        if call.endpoint is Endpoint.CHAT and reasoning.is_reasoning(call.upstream_model, channel.options):
            body = reasoning.adapt(body, call.upstream_model, channel.options, stream=call.stream)
        url, headers = self.target(channel, credential, call)
        return UpstreamRequest("POST", url, headers, orjson.dumps(body))

    def target(self, channel: ChannelRecord, credential: str, call: CallSpec) -> tuple[str, dict[str, str]]:
        """Where a call goes and how it authenticates."""
        return (api_root(channel.base_url) + call.endpoint.value,
                {"Authorization": "Bearer " + credential, "Content-Type": _JSON})

    def answer(self, call: CallSpec, raw: bytes) -> Answer:
        usage = trailing_usage(raw)
        if usage is not None:
            return Answer(raw, parse_usage(usage))
        obj = orjson.loads(raw)
        if not isinstance(obj, dict):
            raise ValueError("the upstream answer is not a JSON object")
        return Answer(raw, parse_usage(obj.get("usage")))

    def stream(self, call: CallSpec) -> OpenAIStream:
        return OpenAIStream(strip_usage=not call.client_wants_usage)

    def refusal(self, status: int, raw: bytes) -> UpstreamRefusal:
        return openai_refusal(status, raw)

    def probe(self, channel: ChannelRecord, credential: str, model: str) -> UpstreamRequest:
        body: JsonObject
        if "embedding" in model:
            endpoint, body = Endpoint.EMBEDDINGS, {"model": model, "input": "ping"}
        else:
            endpoint = Endpoint.CHAT
            body = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}
        spec = CallSpec(endpoint, body, model, stream=False, client_wants_usage=True)
        return self.build(channel, credential, spec)
