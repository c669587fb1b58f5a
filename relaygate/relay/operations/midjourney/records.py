"""Recording what an accepted submission started: a new task row (relaygate's id for the upstream's), or the
modal-waiting task a submit/modal confirmed."""

from __future__ import annotations

import functools
import secrets
import time

from relaygate.core.records import ChannelRecord
from relaygate.protocols.midjourney import ReturnCode, TaskAction, TaskStatus
from relaygate.protocols.midjourney_answers import SubmitAnswer, client_properties
from relaygate.protocols.midjourney_submit import (
    ActionRequest,
    ImagineRequest,
    ModalRequest,
    ShortenRequest,
)
from relaygate.relay.operations.midjourney.request import MidjourneySubmit, Owner
from relaygate.store import task_sql
from relaygate.store.database import Database
from relaygate.store.task_sql import TaskRow


def new_task_id(now: float) -> str:
    """Digits, as midjourney-proxy's ids are: the time in ms, then six random digits."""
    return f"{int(now * 1000)}{secrets.randbelow(10**6):06d}"


async def record(db: Database, channel: ChannelRecord, parsed: MidjourneySubmit, answer: SubmitAnswer) -> str:
    """The task an accepted answer stands for, stored; returns relaygate's id for it."""
    owner, target = parsed.owner, parsed.target
    if owner is None:
        raise RuntimeError("a MidJourney submission reached its upstream without the midjourney preparation step")
    assert answer.result is not None
    now = time.time()
    request = parsed.request
    if target is not None and answer.result == target.upstream_id:
        if isinstance(request, ModalRequest):
            await db.run(functools.partial(task_sql.confirm_modal, task_id=target.id, request_id=owner.request_id,
                                           prompt=request.prompt, mode=parsed.run_mode.value, now=now))
        return target.id  # a modal confirms the task it waited on; a bookmark answers with the task itself
    row = _new_row(channel, parsed, owner, answer, now)
    await db.run(functools.partial(task_sql.insert_task, row=row))
    return row.id


def _new_row(channel: ChannelRecord, parsed: MidjourneySubmit, owner: Owner, answer: SubmitAnswer,
             now: float) -> TaskRow:
    request, target = parsed.request, parsed.target
    action = target.action if isinstance(request, ModalRequest) and target is not None else request.action.value
    assert answer.result is not None
    return TaskRow(
        id=new_task_id(now), upstream_id=answer.result, channel_id=channel.id, key_id=owner.key_id,
        user_id=owner.user_id, request_id=owner.request_id, action=action, mode=parsed.run_mode.value,
        status=_first_status(parsed, answer).value, submit_time=int(now * 1000), updated_at=now,
        prompt=_prompt(parsed), state=request.common.state, notify_hook=request.common.notify_hook,
        properties=client_properties(answer.properties), buttons=[],
    )


def _first_status(parsed: MidjourneySubmit, answer: SubmitAnswer) -> TaskStatus:
    """A button answered with code 21 opened a modal (inpaint, custom zoom, remix): the task waits for
    submit/modal. Anything else starts as NOT_START; the poller follows it from there."""
    if answer.code == ReturnCode.EXISTED and isinstance(parsed.request, ActionRequest):
        return TaskStatus.MODAL
    return TaskStatus.NOT_START


def _prompt(parsed: MidjourneySubmit) -> str | None:
    request, target = parsed.request, parsed.target
    if isinstance(request, ImagineRequest | ShortenRequest | ModalRequest):
        return request.prompt
    if target is not None and request.action is not TaskAction.DESCRIBE:
        return target.prompt
    return None
