"""An in-process transport at the relay's upstream boundary: fast pipeline tests without sockets (the suites that
drive real servers stay; this one answers from a function of the request)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from relaygate.providers.base import UpstreamRequest
from relaygate.relay.upstream import UpstreamBroken, UpstreamResponse, UpstreamUnreachable


@dataclass
class Reply:
    """What the fake upstream answers: a status, a body (in chunks, as they would arrive), and how it may end."""

    status: int = 200
    chunks: list[bytes] = field(default_factory=list)
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    broken_after: int | None = None
    """Break off after this many chunks (UpstreamBroken), as a dropped connection does."""
    pause: float = 0.0
    """Seconds before each chunk."""


Handler = Callable[[UpstreamRequest], Reply | Exception]


class MockResponse:
    def __init__(self, reply: Reply) -> None:
        self._reply = reply
        self._next = 0
        self.released = False
        self.closed = False

    @property
    def status(self) -> int:
        return self._reply.status

    @property
    def content_type(self) -> str:
        return self._reply.content_type

    @property
    def headers(self) -> Mapping[str, str]:
        return self._reply.headers

    async def read(self) -> bytes:
        out = []
        while chunk := await self.read_chunk():
            out.append(chunk)
        return b"".join(out)

    async def read_chunk(self) -> bytes:
        reply = self._reply
        if reply.broken_after is not None and self._next >= reply.broken_after:
            raise UpstreamBroken("connection reset by the mock transport")
        if self._next >= len(reply.chunks):
            return b""
        if reply.pause:
            await asyncio.sleep(reply.pause)
        self._next += 1
        return reply.chunks[self._next - 1]

    def release(self) -> None:
        self.released = True

    def close(self) -> None:
        self.closed = True


class MockTransport:
    """Answers every request with `handler(request)`; an exception it returns is raised as the transport would."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[UpstreamRequest] = []
        self.responses: list[MockResponse] = []

    async def open(self, req: UpstreamRequest, read_timeout: float) -> UpstreamResponse:
        self.requests.append(req)
        answer = self.handler(req)
        if isinstance(answer, Exception):
            raise answer
        resp = MockResponse(answer)
        self.responses.append(resp)
        return resp


def unreachable(_: UpstreamRequest) -> Exception:
    return UpstreamUnreachable("connection refused by the mock transport")
