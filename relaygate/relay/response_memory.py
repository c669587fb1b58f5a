"""What relaygate remembers of the Responses API responses it relayed: which key made each on which channel, so
follow-ups (previous_response_id, retrieve, delete, cancel, input items) go to that channel for that key only; and,
for a response it produced itself over a chat channel, the conversation so far, to send with the next turn."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection

from relaygate.core.errors import BadRequest, NotFound, RelayError
from relaygate.core.records import LogRow
from relaygate.core.types import JsonObject
from relaygate.protocols import content
from relaygate.relay.operation import Keep, Pin
from relaygate.store import kept_responses as sql
from relaygate.store.database import Database

log = logging.getLogger("relaygate.responses")


@dataclass(frozen=True, slots=True)
class KeptResponse:
    id: str
    key_id: int
    channel_id: int
    model: str
    """The model as the client named it."""
    billed: bool
    conversation: tuple[JsonObject, ...] | None
    """Every item of the conversation it ends (relayed responses only; None when the upstream keeps it)."""

    @property
    def relayed(self) -> bool:
        """relaygate produced it over a chat channel (the upstream keeps nothing of it)."""
        return self.conversation is not None

    def pin(self, refusal: RelayError) -> Pin:
        return Pin(self.channel_id, self.key_id, refusal)


def not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


def previous_not_found(response_id: str) -> BadRequest:
    return BadRequest(f"Previous response with id '{response_id}' not found.", param="previous_response_id",
                      code="previous_response_not_found")


class ResponseMemory:
    """Responses remembered for `ttl` seconds after they were made."""

    def __init__(self, db: Database, ttl: float) -> None:
        self._db = db
        self.ttl = ttl

    async def find(self, response_id: str) -> KeptResponse | None:
        if not response_id or len(response_id) > 128:
            return None
        row = await self._db.run(functools.partial(sql.find, response_id=response_id, now=time.time()))
        if row is None:
            return None
        items = None if row.conversation is None else tuple(content.objects(orjson.loads(row.conversation)))
        return KeptResponse(row.id, row.key_id, row.channel_id, row.model, row.billed, items)

    def remembering(self, response_id: str, model: str, *, billed: bool = True,
                    conversation: Sequence[JsonObject] | None = None) -> Keep:
        """The settlement's note that `response_id` was made by its key on its channel."""
        items = None if conversation is None else orjson.dumps(list(conversation)).decode()

        def keep(conn: Connection, row: LogRow) -> None:
            if row.key_id is None or row.channel_id is None:
                return
            sql.keep(conn, sql.KeptRow(response_id[:128], row.key_id, row.channel_id, model[:128], items is not None,
                                       billed, items, row.created_at, row.created_at + self.ttl))

        return keep

    @staticmethod
    def forgetting(response_id: str) -> Keep:
        """The settlement's note that `response_id` is gone (deleted upstream)."""
        return lambda conn, _row: sql.forget(conn, response_id)

    async def claim_billing(self, response_id: str) -> bool:
        """True exactly once per response not yet billed: the caller charges its usage."""
        return await self._db.run(functools.partial(sql.claim_billing, response_id=response_id))

    async def purge_forever(self, interval: float = 600.0) -> None:
        """Forget expired responses every `interval` seconds, until cancelled (every replica may: it is one
        idempotent statement)."""
        while True:
            await asyncio.sleep(interval)
            try:
                gone = await self._db.run(functools.partial(sql.purge, now=time.time()))
            except Exception:
                log.exception("could not purge expired responses")
                continue
            if gone:
                log.info("forgot %d expired responses", gone)
