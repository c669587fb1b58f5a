"""A client request's body as the relay reads it: whole (JSON) or part by part (multipart forms), never more
than the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class FormPart(Protocol):
    """One field of a multipart/form-data body, read as it arrives."""

    @property
    def name(self) -> str: ...

    @property
    def filename(self) -> str | None: ...

    @property
    def content_type(self) -> str | None: ...

    async def read_chunk(self) -> bytes:
        """The field's next bytes, b"" at its end."""
        ...


class RequestBody(Protocol):
    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case ("" when the client sent none)."""
        ...

    async def read(self, limit: int) -> bytes:
        """The whole body; BodyTooLarge as soon as it passes `limit` bytes."""
        ...

    def parts(self, limit: int) -> AsyncIterator[FormPart]:
        """The fields of a multipart/form-data body in order; BodyTooLarge as soon as the body passes `limit`
        bytes, BadRequest when it is not multipart or is malformed."""
        ...
