"""A task as its client sees it: midjourney-proxy's task object with relaygate's id, and relaygate's signed link
in place of the upstream's image URL (clients never see upstream hosts)."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from relaygate.core.types import JsonObject
from relaygate.protocols.midjourney import TaskAction, TaskStatus
from relaygate.protocols.midjourney_answers import Task, buttons_from, client_properties
from relaygate.store.task_sql import TaskRow

ImageLink = Callable[[str], str]
"""The signed image link of a task id."""


def _action(value: str) -> TaskAction:
    try:
        return TaskAction(value)
    except ValueError:
        return TaskAction.ACTION


def _status(value: str) -> TaskStatus:
    try:
        return TaskStatus(value)
    except ValueError:
        return TaskStatus.IN_PROGRESS


def client_task(row: TaskRow, link: ImageLink | None) -> JsonObject:
    """The task object; `link` None keeps the stored image URL (a notification's snapshot, linked when sent)."""
    image = row.image_url
    if image and link is not None:
        image = link(row.id)
    return Task(
        id=row.id, action=_action(row.action), status=_status(row.status), prompt=row.prompt,
        prompt_en=row.prompt_en, description=row.description, state=row.state, submit_time=row.submit_time,
        start_time=row.start_time, finish_time=row.finish_time, image_url=image, progress=row.progress,
        fail_reason=row.fail_reason, properties=client_properties(row.properties or {}),
        buttons=buttons_from(row.buttons or []),
    ).to_json()


def snapshot(row: TaskRow) -> str:
    """What a notification carries: the task as it was at that change."""
    return orjson.dumps(client_task(row, None)).decode()


def linked(payload: str, link: ImageLink) -> bytes:
    """A snapshot with relaygate's link for its image, as the hook receives it."""
    task = orjson.loads(payload)
    if isinstance(task, dict) and task.get("imageUrl") and isinstance(task.get("id"), str):
        task["imageUrl"] = link(task["id"])
    return orjson.dumps(task)
