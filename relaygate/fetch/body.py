"""Reading a response body under the byte cap, undoing a content-encoding without inflating past it."""

from __future__ import annotations

import zlib

import aiohttp

from relaygate.core.errors import FetchFailed, FileTooLarge

_CHUNK = 64 * 1024
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


def _too_large(limit: int) -> FileTooLarge:
    return FileTooLarge(f"the file is larger than the {limit:,}-byte limit", code="file_too_large")


class _Inflater:
    """Undoes gzip/deflate, never producing more than the caller has room for (a 1 KB gzip may hold 1 GB)."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._z = zlib.decompressobj(_WBITS[encoding]) if encoding in _WBITS else None
        self._raw_fallback = encoding == "deflate"

    def feed(self, chunk: bytes, room: int) -> bytes:
        if self._z is None:
            return chunk
        try:
            out = self._z.decompress(chunk, room + 1)
        except zlib.error:
            # Some servers send raw deflate (no zlib header) under "deflate"; try that once.
            if not self._raw_fallback:
                raise FetchFailed(f"the file server sent a corrupt {self._encoding} body") from None
            self._raw_fallback = False
            self._z = zlib.decompressobj(-15)
            return self.feed(chunk, room)
        self._raw_fallback = False
        return out


async def read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, decoded; FileTooLarge as soon as it passes `limit` bytes (declared or streamed)."""
    if response.content_length is not None and response.content_length > limit:
        raise _too_large(limit)
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
    if encoding not in _WBITS and encoding != "identity":
        raise FetchFailed(f"the file server sent an unsupported content-encoding ({encoding[:40]})")
    inflater = _Inflater(encoding)
    body = bytearray()
    try:
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += inflater.feed(chunk, limit - len(body))
            if len(body) > limit:
                raise _too_large(limit)
    except aiohttp.ClientError:
        raise FetchFailed("the connection to the file server broke during the download") from None
    return bytes(body)
