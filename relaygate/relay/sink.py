"""What the relay writes answers to: implemented by each front door over its web framework."""

from __future__ import annotations

from typing import Protocol


class ClientGone(Exception):
    """The client closed its connection while we were writing to it."""


class ClientSink(Protocol):
    async def send_json(self, status: int, body: bytes) -> None: ...

    async def open_stream(self) -> None:
        """Start a stream; its status and headers may wait to go out with the first bytes."""
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
