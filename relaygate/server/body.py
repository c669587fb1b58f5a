"""RequestBody over aiohttp: a client's body read whole or field by field, refused as soon as it passes the
limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from relaygate.core.errors import BadRequest, BodyTooLarge

_CHUNK = 64 * 1024
_MALFORMED = (ValueError, AssertionError, HttpProcessingError)
"""What aiohttp's multipart reader raises on a broken form (a bad part header is an HttpProcessingError)."""


def _malformed(exc: Exception) -> BadRequest:
    reason = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
    return BadRequest(f"The multipart body is malformed: {reason.strip().rstrip('.')}.")


def too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"The request body is larger than {limit} bytes.")


class HttpBody:
    __slots__ = ("_read", "_request")

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._read = 0

    @property
    def content_type(self) -> str:
        return self._request.content_type if self._request.body_exists else ""

    async def read(self, limit: int) -> bytes:
        declared = self._request.content_length
        if declared is not None:
            if declared > limit:
                raise too_large(limit)
            try:
                return await self._request.read()  # the common case: aiohttp has the body buffered already
            except web.HTTPRequestEntityTooLarge:
                raise too_large(limit) from None
        chunks: list[bytes] = []
        size = 0
        while chunk := await self._request.content.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def parts(self, limit: int) -> AsyncIterator[_Part]:
        declared = self._request.content_length
        if declared is not None and declared > limit:
            raise too_large(limit)
        if self._request.content_type != "multipart/form-data":
            raise BadRequest("This endpoint takes a multipart/form-data body.")
        try:
            reader = await self._request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    return
                if not isinstance(part, BodyPartReader):
                    raise BadRequest("Nested multipart bodies are not accepted.")
                yield _Part(part, self, limit)
        except _MALFORMED as exc:
            raise _malformed(exc) from None

    def count(self, n: int, limit: int) -> None:
        self._read += n
        if self._read > limit:
            raise too_large(limit)


class _Part:
    __slots__ = ("_body", "_limit", "_part")

    def __init__(self, part: BodyPartReader, body: HttpBody, limit: int) -> None:
        self._part = part
        self._body = body
        self._limit = limit

    @property
    def name(self) -> str:
        return self._part.name or ""

    @property
    def filename(self) -> str | None:
        return self._part.filename

    @property
    def content_type(self) -> str | None:
        return self._part.headers.get("Content-Type")

    async def read_chunk(self) -> bytes:
        try:
            data = await self._part.read_chunk(_CHUNK)
        except _MALFORMED as exc:
            raise _malformed(exc) from None
        self._body.count(len(data), self._limit)
        return data
