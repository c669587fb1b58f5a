"""The streaming pump: upstream bytes → translator → client, chunk by chunk, noticing who broke off."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import Enum

import aiohttp

from relaygate.providers.base import StreamTranslator
from relaygate.relay.sink import ClientGone, ClientSink

HEAD_WAIT_SECONDS = 1.0
"""How long a stream's status and headers wait for its first events, to leave with them in one write; a model
that thinks longer before its first token has the head sent on its own, so clients and proxies see an answer."""


class StreamEnd(Enum):
    COMPLETE = "complete"
    CLIENT_GONE = "client_gone"
    UPSTREAM_BROKEN = "upstream_broken"


@dataclass(slots=True)
class StreamOutcome:
    end: StreamEnd
    first_chunk_at: float | None
    """When the first bytes for the client were ready (the tail's wait for the charge is not counted)."""
    tail: bytes = b""
    """What the read that ended the stream produced: sent with the stream's last bytes (`[DONE]` once the charge
    is stored, or the error) in one write. A stream that arrives whole goes out in a single write."""


async def pump(resp: aiohttp.ClientResponse, translator: StreamTranslator, sink: ClientSink) -> StreamOutcome:
    """Relay until the upstream ends, the client leaves or the upstream breaks; the upstream is closed after."""
    first: float | None = None
    end = StreamEnd.COMPLETE
    tail = b""
    head = asyncio.get_running_loop().call_later(HEAD_WAIT_SECONDS, sink.send_head)
    try:
        async for data in resp.content.iter_any():
            out = translator.feed(data)
            if out and first is None:
                first = time.perf_counter()
            if translator.finished or translator.failure is not None:
                tail = out
                break
            if out:
                await sink.write(out)
    except ClientGone:
        end = StreamEnd.CLIENT_GONE
    except asyncio.CancelledError:
        resp.close()
        raise
    except (TimeoutError, aiohttp.ClientError, OSError):
        end = StreamEnd.UPSTREAM_BROKEN
    finally:
        head.cancel()
    if end is StreamEnd.COMPLETE and translator.failure is not None:
        end = StreamEnd.UPSTREAM_BROKEN
    if end is StreamEnd.COMPLETE and translator.finished:
        resp.release()
    else:
        # Closing (not releasing) drops the connection, which cancels the generation upstream.
        resp.close()
    return StreamOutcome(end, first, tail)
