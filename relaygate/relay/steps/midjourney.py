"""Preparing a MidJourney submission: who submits it, the key's default mode when the path names none, and for an
action or a modal the task it acts on — the caller's own, in a state that takes it — whose channel the request is
then pinned to (the upstream that holds the task is the only one that can act on it)."""

from __future__ import annotations

import functools

from relaygate.core.errors import BadRequest
from relaygate.protocols.midjourney import TASK_NOT_FOUND, Mode, TaskAction, TaskStatus, check_button
from relaygate.protocols.midjourney_answers import buttons_from
from relaygate.protocols.midjourney_submit import ActionRequest, ModalRequest
from relaygate.relay.exchange import Exchange
from relaygate.relay.operation import Parsed, Pin
from relaygate.relay.operations.midjourney.request import MidjourneySubmit, Owner
from relaygate.store import task_sql
from relaygate.store.database import Database


class MidjourneyPreparation:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def prepare(self, ex: Exchange, parsed: Parsed) -> None:
        if not isinstance(parsed, MidjourneySubmit):
            return
        key = ex.key
        assert key is not None
        parsed.owner = Owner(key.id, key.user_id, ex.inbound.request_id)
        if parsed.mode is None:
            parsed.mode = Mode(key.mj_mode) if key.mj_mode in list(Mode) else Mode.FAST
        task_id = parsed.target_id
        if task_id is None:
            return
        task = await self._db.run(functools.partial(task_sql.task_by_id, task_id=task_id))
        # A body naming no task of this key is a bad request (HTTP 400, as OpenAI answers an unknown
        # previous_response_id) whose code is midjourney-proxy's NOT_FOUND; another key's task reads the same.
        missing = BadRequest(f"There is no task {task_id} of this key; use the id a submission of this key "
                             "answered.", code=TASK_NOT_FOUND, param="taskId")
        if task is None or task.key_id != key.id:
            raise missing
        request = parsed.request
        if isinstance(request, ActionRequest):
            if task.status != TaskStatus.SUCCESS:
                raise BadRequest(f"Task {task_id} is {task.status}: its buttons work once it has succeeded.",
                                 param="taskId")
            check_button(request.custom_id, buttons_from(task.buttons))
        elif isinstance(request, ModalRequest):
            if task.status != TaskStatus.MODAL:
                raise BadRequest(f"Task {task_id} is {task.status}, not waiting for a modal: submit/modal confirms a "
                                 "task a button answered with code 21.", param="taskId")
            if task.action == TaskAction.INPAINT and request.mask is None:
                raise BadRequest("maskBase64 is required to confirm Vary (Region): the area to redraw.",
                                 param="maskBase64")
        parsed.target = task
        parsed.pin = Pin(task.channel_id, key.id, missing)  # the upstream that holds the task is the only one
