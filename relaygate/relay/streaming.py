"""The streaming pump: upstream bytes → translator → client, chunk by chunk, noticing who broke off."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

from relaygate.relay.operation import End
from relaygate.relay.sink import ClientGone, ClientSink
from relaygate.relay.upstream import UpstreamBroken, UpstreamResponse

HEAD_WAIT_SECONDS = 1.0
"""How long a stream's status and headers wait for its first events, to leave with them in one write; a model
that thinks longer before its first token has the head sent on its own, so clients and proxies see an answer."""


class Relayed(Protocol):
    """What the pump pushes bytes through: a stream translator, or a plain byte relay."""

    @property
    def finished(self) -> bool:
        """The stream said it is complete: stop reading (the rest is the terminator, sent after settlement)."""
        ...

    @property
    def failure(self) -> str | None:
        """The stream reported an error: the answer is broken."""
        ...

    def feed(self, data: bytes) -> bytes: ...


@dataclass(slots=True)
class StreamOutcome:
    end: End
    first_chunk_at: float | None
    """When the first bytes for the client were ready (the tail's wait for the charge is not counted)."""
    tail: bytes = b""
    """What the read that ended the stream produced: sent with the stream's last bytes (`[DONE]` once the charge
    is stored, or the error) in one write. A stream that arrives whole goes out in a single write."""


async def pump(resp: UpstreamResponse, relayed: Relayed, sink: ClientSink) -> StreamOutcome:
    """Relay until the upstream ends, the client leaves or the upstream breaks; the upstream is closed after."""
    first: float | None = None
    end = End.COMPLETE
    tail = b""
    head = asyncio.get_running_loop().call_later(HEAD_WAIT_SECONDS, sink.send_head)
    try:
        while data := await resp.read_chunk():
            out = relayed.feed(data)
            if out and first is None:
                first = time.perf_counter()
            if relayed.finished or relayed.failure is not None:
                tail = out
                break
            if out:
                await sink.write(out)
    except ClientGone:
        end = End.CLIENT_GONE
    except asyncio.CancelledError:
        resp.close()
        raise
    except UpstreamBroken:
        end = End.UPSTREAM_BROKEN
    finally:
        head.cancel()
    if end is End.COMPLETE and relayed.failure is not None:
        end = End.UPSTREAM_BROKEN
    if end is End.COMPLETE and relayed.finished:
        resp.release()
    else:
        # Closing (not releasing) drops the connection, which cancels the generation upstream.
        resp.close()
    return StreamOutcome(end, first, tail)
