"""What an endpoint is: its routes, how it parses a request, what it may cost, how it calls a provider and how
it delivers the answer — returning what it metered. An operation never calls back into the pipeline.

The pipeline drives every operation alike: parse → preparation steps → route → expected usage (reserve) →
call and deliver on each attempt → settle → the answer's last bytes (`Metered.answer` or `.closing`), which go
out only once the charge is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import Connection

from relaygate.billing.tokens import TokenCounter
from relaygate.core.errors import RelayError
from relaygate.core.records import ChannelRecord, LogRow
from relaygate.core.types import JsonObject, Usage
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.remote_images import ImageFetcher
from relaygate.relay.sink import JSON, ClientSink
from relaygate.relay.upstream import UpstreamResponse
from relaygate.store.database import Database


@dataclass(frozen=True, slots=True)
class RouteDoc:
    """How a route reads in the OpenAPI document."""

    summary: str
    body: JsonObject | None = None
    """The request body's JSON Schema (for a multipart body, the form's fields)."""
    body_type: str = "application/json"
    streams: bool = False
    """It may answer with a stream (`text/event-stream`, or the stream's own type)."""
    answers: tuple[str, ...] = ("application/json",)
    """The media types of a successful answer (audio for speech, text/plain for some transcripts)."""
    paths: tuple[str, ...] = ()
    """Documented as these paths instead of the route's own (Gemini's model:method in one path segment)."""


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP route of an operation and the dialect its clients speak there (which also picks the shape of its
    errors, unless `errors` names another)."""

    method: str
    path: str
    dialect: ClientDialect
    doc: RouteDoc | None = None
    errors: str | None = None
    """The front door whose error shape the route answers in, when it is not the dialect's (midjourney)."""


@dataclass(frozen=True, slots=True)
class Pin:
    """A request that continues something an earlier request made (a stored response): it goes only to the
    channel that made it, and only for the key that made it — any other key gets `refusal`, the very answer it
    would get if the thing did not exist."""

    channel_id: int
    key_id: int
    refusal: RelayError


class Parsed(Protocol):
    """What the pipeline reads of any parsed request (each operation has its own richer type). A parsed request
    may also carry `pin: Pin | None` (see pin_of)."""

    @property
    def model(self) -> str:
        """The model as the client named it: what routing and key restrictions go by."""
        ...

    @property
    def priced_as(self) -> str:
        """The price-table name the request is billed under: the model, or a name of the operation's own (a
        MidJourney action in a mode)."""
        ...

    @property
    def stream(self) -> bool: ...


P = TypeVar("P", bound=Parsed)


def pin_of(parsed: Parsed) -> Pin | None:
    """The request's pin, for the operations whose requests may continue earlier ones (the rest have none)."""
    pin = getattr(parsed, "pin", None)
    return pin if isinstance(pin, Pin) else None


Keep = Callable[[Connection, LogRow], None]
"""What an answer leaves in the store (what it made, for later requests to find), written in its settlement's
transaction; given the request's log row (its key, channel and time)."""


class End(Enum):
    COMPLETE = "complete"
    CLIENT_GONE = "client_gone"
    UPSTREAM_BROKEN = "upstream_broken"


@dataclass(frozen=True, slots=True)
class WholeAnswer:
    """A whole answer, sent once its charge is stored."""

    body: bytes
    content_type: str = JSON
    status: int = 200


@dataclass(slots=True)
class Metered:
    """What one delivered answer consumed and how it ended; the bytes the client still waits for."""

    usage: Usage
    end: End = End.COMPLETE
    answer: WholeAnswer | None = None
    """A whole answer to send after settlement (None for a stream)."""
    closing: bytes = b""
    """An open stream's last bytes, sent after settlement (or, for a broken stream, after the release)."""
    first_byte_at: float | None = None
    failure: str | None = None
    """Why the upstream broke off (UPSTREAM_BROKEN)."""
    abort: bool = False
    """A broken byte stream has no error event to end with: drop the connection instead."""
    keep: Keep | None = None
    """Written with the settlement (not for a broken answer, which is released)."""


class RetryableAnswer(Exception):
    """The upstream's answer could not be used and nothing reached the client: try the next channel."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a request on one channel, as an operation's delivery sees it."""

    channel: ChannelRecord
    provider: Provider
    call: CallSpec
    dialect: ClientDialect
    model: str
    """The model as the client named it."""


@dataclass(frozen=True, slots=True)
class OperationContext:
    """What operations are built with (once, in the app start-up)."""

    tokens: TokenCounter
    default_max_tokens: int
    max_body_bytes: int
    images: ImageFetcher | None = None
    """Fetches media by URL through the guarded fetcher, for upstreams that take only bytes."""
    store: Database | None = None
    """The database, for operations that remember what a request made (stored responses); None remembers
    nothing."""
    keep_seconds: float = 30 * 86400.0
    """How long what operations remember is kept."""
    max_upload_bytes: int = 25 * 1024 * 1024
    """The largest multipart body (uploads are spooled, never held whole in memory)."""


class Operation(Protocol[P]):
    name: ClassVar[str]
    routes: ClassVar[tuple[Route, ...]]

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> P:
        """The request read and checked (BadRequest / BodyTooLarge), unknown fields kept."""
        ...

    def expected(self, parsed: P) -> Usage:
        """The most the request can consume (what is reserved, and held against TPM)."""
        ...

    async def call(self, parsed: P, provider: Provider, upstream_model: str) -> CallSpec:
        """What to ask `provider` for (async: an operation may prepare what this provider type needs, such as
        fetching an image a type cannot take by URL)."""
        ...

    async def deliver(self, attempt: Attempt, parsed: P, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        """Relay a successful upstream answer (status < 400): stream it or hold it whole, leaving the last bytes to
        the pipeline. RetryableAnswer when the answer is unusable and nothing reached the client."""
        ...


class OperationType(Protocol):
    """An operation class, as the registry lists it: its name and routes are known before it is built."""

    @property
    def name(self) -> str: ...

    @property
    def routes(self) -> tuple[Route, ...]: ...

    def __call__(self, ctx: OperationContext) -> Operation[Any]: ...
