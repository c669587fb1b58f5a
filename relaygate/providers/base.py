"""The Provider interface: pure conversion between the relay's OpenAI-format requests and an upstream."""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from relaygate.core.records import ChannelRecord
from relaygate.core.types import Dialect, JsonObject, Usage
from relaygate.protocols.sse import SSEBuffer

Content = bytes | AsyncIterable[bytes]
"""A request body: whole, or streamed (an upload relayed as it is read)."""


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One HTTP request to send upstream."""

    method: str
    url: str
    headers: dict[str, str]
    body: Content | None


class ProviderOptions(BaseModel):
    """A channel type's own settings (the `options` object of a channel); each provider declares its model."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=ProviderOptions)


def options_of(channel: ChannelRecord, model: type[OptionsT]) -> OptionsT:
    """The channel's options as `model` (the catalog parsed them once; a record read straight from the store gets
    them parsed here)."""
    opts = channel.options
    if isinstance(opts, model):
        return opts
    return read_options(model, opts)


def read_options(model: type[OptionsT], stored: object) -> OptionsT:
    """Stored options as `model`: fields of other channel types (an older schema kept every field for every type)
    and nulls are left out, so what the admin API once accepted always reads back."""
    if not isinstance(stored, dict):
        return model()
    known = {k: v for k, v in stored.items() if k in model.model_fields and v is not None}
    try:
        return model.model_validate(known)
    except ValueError:
        return model()


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


class WrappedTranslator:
    """A stream translator over another: usage, end, failure, dialect and text are the inner one's; a subclass
    changes the bytes (`feed`, `finish`)."""

    def __init__(self, inner: StreamTranslator) -> None:
        self._inner = inner

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    @property
    def finished(self) -> bool:
        return self._inner.finished

    @property
    def failure(self) -> str | None:
        return self._inner.failure

    @property
    def dialect(self) -> Dialect:
        return self._inner.dialect

    def generated_text(self) -> str:
        return self._inner.generated_text()


@dataclass(frozen=True, slots=True)
class Upload:
    """A body that is not JSON (a multipart form), relayed as given."""

    content_type: str
    content: Content
    length: int | None = None
    """The body's size when known (sent as Content-Length rather than chunked)."""


@dataclass(frozen=True, slots=True)
class CallSpec:
    """What the relay asks a provider to send: the operation, its body and the routing decisions."""

    operation: str
    """The operation's name (chat, embeddings, …): one the provider serves."""
    path: str
    """Where the operation lives under an OpenAI-style API root (`/chat/completions`)."""
    body: JsonObject
    """The OpenAI-format body, or the client's own when `passthrough`."""
    upstream_model: str
    stream: bool
    client_wants_usage: bool
    passthrough: bool = False
    """The client speaks the provider's own dialect: `body` is the client's native body, to forward as it is."""
    upload: Upload | None = None
    """A non-JSON body (multipart) to send instead of `body`."""
    method: str = "POST"
    """The HTTP method: a GET or DELETE sends no body. `path` may carry a query string."""


class Provider(Protocol):
    """One upstream type. Pure functions of their inputs: no I/O, no database, no web framework."""

    name: str
    serves: ClassVar[frozenset[str]]
    """The operations this type can relay; routing skips its channels for any other."""
    dialect: ClassVar[Dialect]
    """The client dialect it speaks natively: a client speaking it is passed through."""
    options: ClassVar[type[ProviderOptions]]
    """Its channel-options model (admin API, CLI, YAML and OpenAPI derive from it)."""
    image_urls: ClassVar[tuple[str, ...]]
    """URL prefixes of the images the upstream downloads itself in an `image_url` part; relaygate fetches any
    other http(s) image through its guarded fetcher and sends the bytes inline."""

    def build(self, channel: ChannelRecord, credential: str, call: CallSpec) -> UpstreamRequest: ...

    def answer(self, call: CallSpec, raw: bytes) -> Answer: ...

    def stream(self, call: CallSpec) -> StreamTranslator: ...

    def refusal(self, status: int, raw: bytes) -> UpstreamRefusal: ...

    def probe(self, channel: ChannelRecord, credential: str, model: str) -> UpstreamRequest:
        """A cheap request that succeeds when the channel is healthy."""
        ...
