"""The Provider interface: pure conversion between the relay's OpenAI-format requests and an upstream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from relaygate.core.records import ChannelRecord
from relaygate.core.types import Dialect, Endpoint, JsonObject, Usage
from relaygate.protocols.sse import SSEBuffer


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One HTTP request to send upstream."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole (non-streamed) answer already in OpenAI format, with the usage it reported."""

    body: bytes
    usage: Usage | None
    dialect: Dialect = Dialect.OPENAI
    """OpenAI's format, or the client's own when the upstream speaks it (pass-through)."""


@dataclass(frozen=True, slots=True)
class UpstreamRefusal:
    """What an upstream's error body said, in OpenAI terms."""

    message: str
    type: str
    code: str | None
    param: str | None


class StreamState(Protocol):
    """What a protocols converter notes while it reads a stream."""

    usage: Usage | None
    finished: bool
    failure: str | None
    text: list[str]


class ConvertedStream:
    """The common half of the translators that lean on a protocols converter: usage, end, failure and text are
    read off it; a subclass feeds it and says what to forward."""

    def __init__(self, state: StreamState) -> None:
        self._sse = SSEBuffer()
        self._state = state

    @property
    def usage(self) -> Usage | None:
        return self._state.usage

    @property
    def finished(self) -> bool:
        return self._state.finished

    @property
    def failure(self) -> str | None:
        return self._state.failure

    def generated_text(self) -> str:
        return "".join(self._state.text)


class StreamTranslator(Protocol):
    """Turns upstream stream bytes into OpenAI SSE bytes for the client, watching usage and text."""

    @property
    def usage(self) -> Usage | None: ...

    @property
    def finished(self) -> bool: ...

    @property
    def failure(self) -> str | None:
        """Set when the upstream reported an error inside the stream: the answer is broken."""
        ...

    @property
    def dialect(self) -> Dialect:
        """The format of the bytes produced: OpenAI SSE, or the client's own on a pass-through."""
        ...

    def feed(self, data: bytes) -> bytes:
        """Bytes to forward now (may be empty); never the stream's terminator (see finish)."""
        ...

    def finish(self) -> bytes:
        """The stream's last bytes, held back until the charge is stored (`data: [DONE]` for OpenAI)."""
        ...

    def generated_text(self) -> str:
        """The text generated so far, to count tokens when no usage arrives."""
        ...


@dataclass(frozen=True, slots=True)
class CallSpec:
    """What the relay asks a provider to send: the client's OpenAI body plus routing decisions."""

    endpoint: Endpoint
    body: JsonObject
    upstream_model: str
    stream: bool
    client_wants_usage: bool
    client_dialect: Dialect = Dialect.OPENAI
    native: JsonObject | None = None
    """The client's own body when it spoke another dialect; a provider speaking it may forward it."""


class Provider(Protocol):
    """One upstream type. Pure functions of their inputs: no I/O, no database, no web framework."""

    name: str

    def build(self, channel: ChannelRecord, credential: str, call: CallSpec) -> UpstreamRequest: ...

    def answer(self, call: CallSpec, raw: bytes) -> Answer: ...

    def stream(self, call: CallSpec) -> StreamTranslator: ...

    def refusal(self, status: int, raw: bytes) -> UpstreamRefusal: ...

    def probe(self, channel: ChannelRecord, credential: str, model: str) -> UpstreamRequest:
        """A cheap request that succeeds when the channel is healthy."""
        ...
