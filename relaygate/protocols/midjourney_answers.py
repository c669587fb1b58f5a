"""midjourney-proxy's answers: the submit answer {code, description, result, properties} and the task object, with
the functions that read them from an upstream (anything malformed reads as absent, never as an error). Pure."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from relaygate.core.errors import BadRequest, NotFound
from relaygate.core.types import JsonObject, JsonValue
from relaygate.protocols.midjourney import ACCEPTED_CODES, Button, ReturnCode, TaskAction, TaskStatus

_ACTION_ALIASES = {"OUTPAINT": TaskAction.ZOOM, "BLEAND": TaskAction.BLEND}
"""Upstream spellings of an action: trueai's OUTPAINT is a zoom; midjourney-proxy's docs spell BLEND "BLEAND"."""
_NUMBER = re.compile(r"-?[0-9]{1,18}")

# ---------------------------------------------------------------- the submit answer


@dataclass(frozen=True, slots=True)
class SubmitAnswer:
    """{"code", "description", "result", "properties"}: what every submit route answers."""

    code: int
    description: str
    result: str | None = None
    properties: JsonObject = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.code in ACCEPTED_CODES

    def to_json(self) -> JsonObject:
        return {"code": self.code, "description": self.description, "result": self.result,
                "properties": self.properties}


def submitted(task_id: str, *, code: ReturnCode = ReturnCode.SUCCESS, description: str | None = None,
              properties: JsonObject | None = None) -> SubmitAnswer:
    return SubmitAnswer(int(code), description or code.description, task_id, properties or {})


def refusal(error: BadRequest | NotFound) -> SubmitAnswer:
    """A request relaygate refuses before it goes upstream, the error's message as description: code 3 for a task
    that is not there (or not the caller's), code 4 for an invalid request."""
    code = ReturnCode.NOT_FOUND if isinstance(error, NotFound) else ReturnCode.VALIDATION_ERROR
    return SubmitAnswer(int(code), error.message)


def submit_answer_from(value: JsonValue) -> SubmitAnswer | None:
    """An upstream's submit answer; None when the body is not one (no integer code)."""
    if not isinstance(value, dict):
        return None
    code = _integer(value.get("code"))
    if code is None:
        return None
    description = value.get("description")
    properties = value.get("properties")
    return SubmitAnswer(code, description if isinstance(description, str) else "", _identifier(value.get("result")),
                        properties if isinstance(properties, dict) else {})


CLIENT_PROPERTIES = frozenset({"finalPrompt", "finalZhPrompt", "promptEn", "bannedWord", "numberOfQueues", "remix"})
"""Properties of an upstream's answer or task a client is shown; the rest (discordInstanceId, discordChannelId,
the upstream's notifyHook, …) describe the upstream's accounts."""


def client_properties(properties: JsonObject) -> JsonObject:
    return {k: v for k, v in properties.items() if k in CLIENT_PROPERTIES}


# ---------------------------------------------------------------- the task object


@dataclass(frozen=True, slots=True)
class Task:
    """midjourney-proxy's task object; times are epoch milliseconds."""

    id: str
    action: TaskAction
    status: TaskStatus
    prompt: str | None = None
    prompt_en: str | None = None
    description: str | None = None
    state: str | None = None
    submit_time: int | None = None
    start_time: int | None = None
    finish_time: int | None = None
    image_url: str | None = None
    progress: str = "0%"
    fail_reason: str | None = None
    properties: JsonObject = field(default_factory=dict)
    buttons: tuple[Button, ...] = ()

    def to_json(self) -> JsonObject:
        return {
            "id": self.id, "action": self.action.value, "prompt": self.prompt, "promptEn": self.prompt_en,
            "description": self.description, "state": self.state, "submitTime": self.submit_time,
            "startTime": self.start_time, "finishTime": self.finish_time, "imageUrl": self.image_url,
            "status": self.status.value, "progress": self.progress, "failReason": self.fail_reason,
            "properties": self.properties, "buttons": [b.to_json() for b in self.buttons],
        }


def task_from_upstream(value: JsonValue) -> Task | None:
    """An upstream's task object in the protocol's shape; None when it is not one (not an object, or no id).
    Anything malformed inside reads as absent, never as an error: a poller must survive any upstream."""
    if not isinstance(value, dict):
        return None
    task_id = _identifier(value.get("id"))
    if task_id is None:
        return None
    status = _status(value.get("status"))
    properties = value.get("properties")
    return Task(
        id=task_id, action=_action(value.get("action")), status=status, prompt=_text(value.get("prompt")),
        prompt_en=_text(value.get("promptEn")), description=_text(value.get("description")),
        state=_text(value.get("state")), submit_time=_millis(value.get("submitTime")),
        start_time=_millis(value.get("startTime")), finish_time=_millis(value.get("finishTime")),
        image_url=_text(value.get("imageUrl")) or None, progress=progress_text(value.get("progress"), status),
        fail_reason=_text(value.get("failReason")) or None,
        properties=properties if isinstance(properties, dict) else {}, buttons=buttons_from(value.get("buttons")),
    )


def tasks_from_upstream(value: JsonValue) -> list[Task]:
    """The tasks of a list-by-condition answer (anything that is not a task skipped)."""
    tasks = [task_from_upstream(item) for item in value] if isinstance(value, list) else []
    return [t for t in tasks if t is not None]


def buttons_from(value: JsonValue) -> tuple[Button, ...]:
    """An upstream's buttons; one without a customId is no button."""
    buttons = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("customId"), str) or not item["customId"]:
            continue
        emoji, label = item.get("emoji"), item.get("label")
        buttons.append(Button(str(item["customId"]), emoji if isinstance(emoji, str) else "",
                              label if isinstance(label, str) else "", _integer(item.get("type")) or 2,
                              _integer(item.get("style")) or 2))
    return tuple(buttons)


def progress_text(value: JsonValue, status: TaskStatus) -> str:
    """Progress as "0%".."100%": a finished success is 100 %, anything unreadable 0 %."""
    if status is TaskStatus.SUCCESS:
        return "100%"
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().removesuffix("%"))
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        return "0%"
    return f"{int(min(100.0, max(0.0, number)))}%"


def _status(value: JsonValue) -> TaskStatus:
    if value is None or value == "":
        return TaskStatus.NOT_START
    try:
        return TaskStatus(str(value))
    except ValueError:
        # a status this protocol does not know: the task is not finished, so it keeps being followed
        return TaskStatus.IN_PROGRESS


def _action(value: JsonValue) -> TaskAction:
    if not isinstance(value, str):
        return TaskAction.ACTION
    try:
        return TaskAction(value)
    except ValueError:
        return _ACTION_ALIASES.get(value, TaskAction.ACTION)


def _text(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def _integer(value: JsonValue) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return int(value)
    return None


def _identifier(value: JsonValue) -> str | None:
    """A task id: midjourney-proxy sends a string of digits; some proxies send it as a number."""
    if isinstance(value, str):
        return value or None
    number = _integer(value)
    return str(number) if number is not None else None


_MAX_MILLIS = 10**14  # year 5138: a larger "timestamp" is garbage


def _millis(value: JsonValue) -> int | None:
    if isinstance(value, float) and value == value and 0 <= value < _MAX_MILLIS:
        return int(value)
    number = _integer(value)
    return number if number is not None and 0 <= number < _MAX_MILLIS else None
