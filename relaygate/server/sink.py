"""ClientSink over aiohttp: how the relay's answers reach an HTTP client."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from aiohttp import web

from relaygate.relay.sink import EVENT_STREAM, JSON, ClientGone

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _Streamed(web.StreamResponse):
    """A streamed response whose headers go out with its first bytes, in one write, as aiohttp's Response does for
    a body: a stream costs two writes (head and events, then `[DONE]` with the terminator) instead of three.
    The pump sends the head on its own (send_head) when the first events take longer than a second."""

    _send_headers_immediately = False


class HttpSink:
    """Buffers a whole answer as a Response, or streams through a prepared StreamResponse."""

    __slots__ = ("_request", "_request_id", "_writer", "response")

    def __init__(self, request: web.Request, request_id: str) -> None:
        self._request = request
        self._request_id = request_id
        self.response: web.StreamResponse | None = None
        self._writer: object = None

    @property
    def streaming(self) -> bool:
        return self.response is not None and self.response.prepared

    async def send(self, status: int, body: bytes, content_type: str = JSON,
                   headers: Mapping[str, str] | None = None) -> None:
        all_headers = {"X-Request-Id": self._request_id, **(headers or {})}
        if ";" in content_type:  # parameters as given (`text/plain; charset=utf-8`): aiohttp's argument refuses them
            all_headers["Content-Type"] = content_type
            self.response = web.Response(status=status, body=body, headers=all_headers)
            return
        self.response = web.Response(status=status, body=body, content_type=content_type, headers=all_headers)

    async def open_stream(self, content_type: str = EVENT_STREAM, headers: Mapping[str, str] | None = None) -> None:
        base = _SSE_HEADERS if content_type == EVENT_STREAM else {}
        resp = _Streamed(status=200, headers={**base, "Content-Type": content_type, **(headers or {}),
                                              "X-Request-Id": self._request_id})
        self.response = resp
        try:
            self._writer = await resp.prepare(self._request)
        except ConnectionError as exc:
            raise ClientGone() from exc

    def send_head(self) -> None:
        send = getattr(self._writer, "send_headers", None)  # aiohttp's StreamWriter; a no-op once sent
        if send is not None:
            with contextlib.suppress(ConnectionError):  # the client left: the next write finds out
                send()

    async def write(self, data: bytes) -> None:
        assert self.response is not None
        try:
            await self.response.write(data)
        except ConnectionError as exc:
            raise ClientGone() from exc

    async def close_stream(self, last: bytes = b"") -> None:
        assert self.response is not None
        try:
            await self.response.write_eof(last)
        except ConnectionError as exc:
            raise ClientGone() from exc

    def abort(self) -> None:
        transport = self._request.transport
        if transport is not None:
            transport.abort()
