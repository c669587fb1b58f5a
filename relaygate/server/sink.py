"""ClientSink over aiohttp: how the relay's answers reach an HTTP client."""

from __future__ import annotations

import contextlib

from aiohttp import web

from relaygate.relay.sink import ClientGone

_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _EventStream(web.StreamResponse):
    """An SSE response whose headers go out with its first bytes, in one write, as aiohttp's Response does for
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

    async def send_json(self, status: int, body: bytes) -> None:
        self.response = web.Response(
            status=status, body=body, content_type="application/json", headers={"X-Request-Id": self._request_id}
        )

    async def open_stream(self) -> None:
        resp = _EventStream(status=200, headers={**_SSE_HEADERS, "X-Request-Id": self._request_id})
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
