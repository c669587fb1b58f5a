"""The query routes, answered from the task store (a client polling never costs an upstream call): a task, a list
of tasks, and the seed of a finished image (asked of the task's upstream once, then kept). A key sees only its own
tasks; another key's id reads as unknown."""

from __future__ import annotations

import dataclasses
import functools

import orjson

from relaygate.core.errors import BadRequest, NotFound, UpstreamClientError, UpstreamFailed
from relaygate.core.records import KeyRecord
from relaygate.core.types import MIDJOURNEY, JsonObject
from relaygate.protocols.midjourney import TASK_NOT_FOUND, ReturnCode, TaskStatus, path_for
from relaygate.protocols.midjourney_answers import SubmitAnswer, submit_answer_from
from relaygate.providers.base import CallSpec
from relaygate.providers.registry import provider_for
from relaygate.relay.catalog import CatalogCache
from relaygate.relay.routing import ChannelHealth
from relaygate.relay.upstream import Transport, UpstreamBroken, UpstreamUnavailable
from relaygate.store import task_sql
from relaygate.store.database import Database
from relaygate.store.task_sql import TaskRow
from relaygate.tasks.views import ImageLink, client_task


class TaskQueries:
    def __init__(self, *, db: Database, catalogs: CatalogCache, transport: Transport, health: ChannelHealth,
                 timeout: float) -> None:
        self._db = db
        self._catalogs = catalogs
        self._transport = transport
        self._health = health
        self._timeout = timeout

    async def own(self, key: KeyRecord, task_id: str) -> TaskRow:
        row = await self._db.run(functools.partial(task_sql.task_by_id, task_id=task_id))
        if row is None or row.key_id != key.id:
            raise NotFound(f"There is no task {task_id} of this key.", code=TASK_NOT_FOUND)
        return row

    async def fetch(self, key: KeyRecord, task_id: str, link: ImageLink) -> JsonObject:
        return client_task(await self.own(key, task_id), link)

    async def list(self, key: KeyRecord, ids: list[str], link: ImageLink) -> list[JsonObject]:
        rows = await self._db.run(functools.partial(task_sql.tasks_of_key, key_id=key.id, ids=ids))
        return [client_task(row, link) for row in rows]

    async def image_seed(self, key: KeyRecord, task_id: str) -> SubmitAnswer:
        row = await self.own(key, task_id)
        if row.seed is None:
            if row.status != TaskStatus.SUCCESS:
                raise BadRequest(f"Task {task_id} is {row.status}: an image has a seed once the task has succeeded.")
            seed = await self._ask_seed(row)
            await self._db.run(functools.partial(task_sql.set_seed, task_id=row.id, seed=seed))
            row = dataclasses.replace(row, seed=seed)
        return SubmitAnswer(int(ReturnCode.SUCCESS), "成功", row.seed)

    async def _ask_seed(self, row: TaskRow) -> str:
        channel = next((c for c in self._catalogs.catalog.channels if c.id == row.channel_id), None)
        if channel is None:
            raise NotFound(f"The channel that ran task {row.id} is gone; its seed cannot be asked for.",
                           code="channel_not_found")
        provider = provider_for(channel.type)
        spec = CallSpec(MIDJOURNEY, path_for(f"task/{row.upstream_id}/image-seed", None), {}, MIDJOURNEY,
                        stream=False, client_wants_usage=False)
        request = provider.build(channel, self._health.credential(channel), spec)
        try:
            resp = await self._transport.open(request, channel.timeout or self._timeout)
            try:
                raw = await resp.read()
            finally:
                resp.release()
        except (UpstreamUnavailable, UpstreamBroken):
            raise UpstreamFailed("The upstream that ran the task could not be reached; try again later.") from None
        if resp.status >= 400:
            refusal = provider.refusal(resp.status, raw)
            message = refusal.message
            for secret in channel.credentials:
                message = message.replace(secret, "***")
            raise UpstreamClientError(resp.status if resp.status < 500 else 502, message, type_=refusal.type,
                                      code=refusal.code, param=None)
        try:
            answer = submit_answer_from(orjson.loads(raw))
        except orjson.JSONDecodeError:
            answer = None
        if answer is None or answer.code != ReturnCode.SUCCESS or not answer.result:
            raise UpstreamFailed("The upstream's answer holds no seed for this task.")
        return answer.result
