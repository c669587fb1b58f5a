"""What the relay writes answers to: implemented by each front door over its web framework."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

JSON = "application/json"
EVENT_STREAM = "text/event-stream"


class ClientGone(Exception):
    """The client closed its connection while we were writing to it."""


class ClientSink(Protocol):
    async def send(self, status: int, body: bytes, content_type: str = JSON,
                   headers: Mapping[str, str] | None = None) -> None:
        """A whole answer: JSON, or bytes of any type (audio, text)."""
        ...

    async def open_stream(self, content_type: str = EVENT_STREAM, headers: Mapping[str, str] | None = None) -> None:
        """Start a streamed answer (SSE events, or raw bytes of `content_type`); its status and headers may wait
        to go out with the first bytes."""
        ...

    def send_head(self) -> None:
        """Send the stream's status and headers now if they are still waiting for the first bytes."""
        ...

    async def write(self, data: bytes) -> None:
        """Write bytes to an open stream; raises ClientGone if the client left."""
        ...

    async def close_stream(self, last: bytes = b"") -> None:
        """Write the stream's closing bytes (`[DONE]`, a final event) and end it, in one write."""
        ...

    def abort(self) -> None:
        """Drop an open stream's connection without ending it properly, so the client sees the answer is cut (a
        byte stream that broke has no error event to end with)."""
        ...
