"""The one boundary to the HTTP client: a transport that sends an UpstreamRequest and returns relaygate's own
response type, with the client library's exceptions mapped here. No other module of the relay imports aiohttp.

UpstreamUnavailable
├── UpstreamUnreachable   connecting or sending failed (connect error, reset, DNS)
└── UpstreamTimedOut      no answer (or no next bytes) within the read timeout
UpstreamBroken            the answer broke off after its status and headers arrived
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

import aiohttp

from relaygate.providers.base import UpstreamRequest

_CLIENT_ERRORS = (aiohttp.ClientError, OSError)


class UpstreamUnavailable(Exception):
    """The upstream could not be asked: a retryable failure of the channel."""


class UpstreamUnreachable(UpstreamUnavailable):
    pass


class UpstreamTimedOut(UpstreamUnavailable):
    pass


class UpstreamBroken(Exception):
    """The upstream's answer broke off mid-way (connection lost, or no bytes within the read timeout)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def _broken(exc: BaseException) -> UpstreamBroken:
    timed_out = isinstance(exc, asyncio.TimeoutError)
    return UpstreamBroken("the upstream stopped answering in time" if timed_out else str(exc) or type(exc).__name__,
                          timed_out=timed_out)


class UpstreamResponse(Protocol):
    """An upstream answer whose status and headers have arrived; the body is read on demand."""

    @property
    def status(self) -> int: ...

    @property
    def content_type(self) -> str:
        """The media type without parameters (`text/event-stream`, `audio/mpeg`), lower case."""
        ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes:
        """The whole body; raises UpstreamBroken."""
        ...

    async def read_chunk(self) -> bytes:
        """The next bytes as they arrive, b"" at the end; raises UpstreamBroken."""
        ...

    def release(self) -> None:
        """Done with a body read to its end: the connection goes back to the pool."""
        ...

    def close(self) -> None:
        """Drop the connection (which cancels a generation upstream)."""
        ...


class Transport(Protocol):
    """Sends requests upstream; the real one is AiohttpTransport, tests may use an in-process one."""

    async def open(self, req: UpstreamRequest, read_timeout: float) -> UpstreamResponse:
        """Send the request and return once the status line and headers have arrived; raises
        UpstreamUnavailable."""
        ...


class _AiohttpResponse:
    __slots__ = ("_resp",)

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp

    @property
    def status(self) -> int:
        return self._resp.status

    @property
    def content_type(self) -> str:
        return self._resp.content_type

    @property
    def headers(self) -> Mapping[str, str]:
        return self._resp.headers

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except (TimeoutError, *_CLIENT_ERRORS) as exc:
            raise _broken(exc) from exc

    async def read_chunk(self) -> bytes:
        try:
            return await self._resp.content.readany()
        except (TimeoutError, *_CLIENT_ERRORS) as exc:
            raise _broken(exc) from exc

    def release(self) -> None:
        self._resp.release()

    def close(self) -> None:
        self._resp.close()


class AiohttpTransport:
    """Owns the pooled keep-alive aiohttp session; created in the app start-up and closed at shutdown."""

    def __init__(self, *, connect_timeout: float) -> None:
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60, ttl_dns_cache=60)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
            trust_env=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def open(self, req: UpstreamRequest, read_timeout: float) -> UpstreamResponse:
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=None, connect=self._connect_timeout, sock_read=read_timeout)
        try:
            resp = await self._session.request(
                req.method, req.url, data=req.body, headers=req.headers, timeout=timeout, allow_redirects=False
            )
        except TimeoutError as exc:
            raise UpstreamTimedOut("the upstream did not answer in time") from exc
        except _CLIENT_ERRORS as exc:
            raise UpstreamUnreachable(str(exc) or type(exc).__name__) from exc
        return _AiohttpResponse(resp)
