"""What an endpoint is: its routes, how it parses a request, what it may cost, how it calls a provider and how
it delivers the answer — returning what it metered. An operation never calls back into the pipeline.

The pipeline drives every operation alike: parse → preparation steps → route → expected usage (reserve) →
call and deliver on each attempt → settle → the answer's last bytes (`Metered.answer` or `.closing`), which go
out only once the charge is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, Protocol, TypeVar

from relaygate.billing.tokens import TokenCounter
from relaygate.core.records import ChannelRecord
from relaygate.core.types import Usage
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.sink import JSON, ClientSink
from relaygate.relay.upstream import UpstreamResponse
from relaygate.store.database import Database


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP route of an operation and the dialect its clients speak there (which also picks the shape of its
    errors, unless `errors` names another)."""

    method: str
    path: str
    dialect: ClientDialect
    errors: str | None = None
    """The front door whose error shape the route answers in, when it is not the dialect's (midjourney)."""


class Parsed(Protocol):
    """What the pipeline reads of any parsed request (each operation has its own richer type)."""

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
    db: Database | None = None
    """The store, for operations whose answers outlive the request (a MidJourney task is recorded as it is
    submitted); None where no operation needs it."""


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
