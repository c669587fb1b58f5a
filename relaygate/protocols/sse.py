"""Server-sent events framing: splitting a byte stream into events without copying more than needed."""

from __future__ import annotations


class SSEBuffer:
    """Accumulates bytes and yields complete events (the bytes before a blank line)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        block = self.feed_block(data)
        return block.split(b"\n\n")[:-1] if block else []

    def feed_block(self, data: bytes) -> bytes:
        """The events completed by `data` as one block of bytes ending in a blank line (b"" if none), for a
        reader that relays most events untouched and looks only at a few."""
        buf = self._buf + data if self._buf else data
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        cut = buf.rfind(b"\n\n") + 2
        if cut < 2:
            self._buf = buf
            return b""
        self._buf = buf[cut:]
        return buf[:cut]

    def rest(self) -> bytes:
        rest, self._buf = self._buf, b""
        return rest


def event_data(event: bytes) -> bytes | None:
    """The data payload of one event (multi-line data joined), or None for comments and other fields."""
    if event.startswith(b"data:") and b"\ndata:" not in event:
        return event[5:].strip()
    lines = [line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


def event_type(event: bytes) -> bytes | None:
    """The `event:` field of one event, None when it has none."""
    for line in event.split(b"\n"):
        if line.startswith(b"event:"):
            return line[6:].strip()
    return None


def frame(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


DONE = b"data: [DONE]\n\n"
