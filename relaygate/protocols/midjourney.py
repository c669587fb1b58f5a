"""The midjourney-proxy protocol's vocabulary: return codes, task statuses and actions, modes and routes, buttons and
what a button's customId means.

It is the protocol of novicezk/midjourney-proxy (docs/api.md, ReturnCode.java, Task.java) and of the richer "plus"
routes as trueai-org/midjourney-proxy and new-api serve them (submit/action with a customId, submit/modal,
submit/shorten, insight-face/swap, task/{id}/image-seed). The answers (submit answer, task object) are in
midjourney_answers.py, the submit bodies in midjourney_submit.py. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from relaygate.core.errors import BadRequest
from relaygate.core.types import JsonObject

# ---------------------------------------------------------------- codes, statuses, actions


TASK_NOT_FOUND = "task_not_found"
"""The error code of a request naming no task of its key: answered with ReturnCode.NOT_FOUND."""


class ReturnCode(IntEnum):
    """The `code` of a submit answer (midjourney-proxy's ReturnCode)."""

    SUCCESS = 1
    NOT_FOUND = 3
    VALIDATION_ERROR = 4
    FAILURE = 9
    EXISTED = 21
    IN_QUEUE = 22
    QUEUE_REJECTED = 23
    BANNED_PROMPT = 24

    @property
    def meaning(self) -> str:
        return RETURN_CODE_MEANINGS[self]

    @property
    def description(self) -> str:
        """midjourney-proxy's own description for this code, as its clients display it."""
        return DESCRIPTIONS[self]


RETURN_CODE_MEANINGS = {
    ReturnCode.SUCCESS: "submitted; result is the task id",
    ReturnCode.NOT_FOUND: "not found (the related task, or any upstream account able to run it)",
    ReturnCode.VALIDATION_ERROR: "the request is invalid; description says why",
    ReturnCode.FAILURE: "the submission failed",
    ReturnCode.EXISTED: "the task already exists, or waits for a modal (submit/modal) to confirm it",
    ReturnCode.IN_QUEUE: "submitted and queued behind other tasks",
    ReturnCode.QUEUE_REJECTED: "the queue is full; try again later",
    ReturnCode.BANNED_PROMPT: "the prompt may contain a banned word",
}
DESCRIPTIONS = {
    ReturnCode.SUCCESS: "提交成功",
    ReturnCode.NOT_FOUND: "关联任务不存在或已失效",
    ReturnCode.VALIDATION_ERROR: "参数错误",
    ReturnCode.FAILURE: "提交失败，系统异常",
    ReturnCode.EXISTED: "任务已存在",
    ReturnCode.IN_QUEUE: "排队中",
    ReturnCode.QUEUE_REJECTED: "队列已满，请稍后尝试",
    ReturnCode.BANNED_PROMPT: "可能包含敏感词",
}
ACCEPTED_CODES = frozenset({ReturnCode.SUCCESS, ReturnCode.EXISTED, ReturnCode.IN_QUEUE})
"""Codes whose result is a task the upstream runs (or waits to run): a submission answered so is charged."""


class TaskStatus(StrEnum):
    NOT_START = "NOT_START"
    SUBMITTED = "SUBMITTED"
    MODAL = "MODAL"
    """Waiting for submit/modal to confirm it (inpaint, custom zoom, remix); it does not run until then."""
    IN_PROGRESS = "IN_PROGRESS"
    FAILURE = "FAILURE"
    SUCCESS = "SUCCESS"
    CANCEL = "CANCEL"

    @property
    def finished(self) -> bool:
        return self in (TaskStatus.SUCCESS, TaskStatus.FAILURE, TaskStatus.CANCEL)

    @property
    def refundable(self) -> bool:
        """A task that ended without a result: what it was charged is given back."""
        return self in (TaskStatus.FAILURE, TaskStatus.CANCEL)


class TaskAction(StrEnum):
    """What a task does; each has its own price (per mode)."""

    IMAGINE = "IMAGINE"
    UPSCALE = "UPSCALE"
    VARIATION = "VARIATION"
    HIGH_VARIATION = "HIGH_VARIATION"
    LOW_VARIATION = "LOW_VARIATION"
    REROLL = "REROLL"
    ZOOM = "ZOOM"
    CUSTOM_ZOOM = "CUSTOM_ZOOM"
    PAN = "PAN"
    INPAINT = "INPAINT"
    MODAL = "MODAL"
    BLEND = "BLEND"
    DESCRIBE = "DESCRIBE"
    SHORTEN = "SHORTEN"
    SWAP_FACE = "SWAP_FACE"
    ACTION = "ACTION"
    """Any other button (bookmark, animate, …)."""


class Dimensions(StrEnum):
    """The aspect of a blend."""

    PORTRAIT = "PORTRAIT"
    SQUARE = "SQUARE"
    LANDSCAPE = "LANDSCAPE"


class BotType(StrEnum):
    MID_JOURNEY = "MID_JOURNEY"
    NIJI_JOURNEY = "NIJI_JOURNEY"


# ---------------------------------------------------------------- modes and routes


class Mode(StrEnum):
    """The speed a task runs at upstream, chosen by the path prefix; it also picks the price."""

    FAST = "fast"
    RELAX = "relax"
    TURBO = "turbo"

    @property
    def prefix(self) -> str:
        return f"/mj-{self.value}"


SUBMIT_ROUTES: dict[str, TaskAction | None] = {
    "submit/imagine": TaskAction.IMAGINE,
    "submit/action": None,  # the button's customId says which action
    "submit/blend": TaskAction.BLEND,
    "submit/describe": TaskAction.DESCRIBE,
    "submit/modal": TaskAction.MODAL,
    "submit/shorten": TaskAction.SHORTEN,
    "insight-face/swap": TaskAction.SWAP_FACE,
}
"""Every submit route (the path after /mj/) and the action it submits."""
FETCH_ROUTE = re.compile(r"task/(?P<id>[^/]+)/fetch")
IMAGE_SEED_ROUTE = re.compile(r"task/(?P<id>[^/]+)/image-seed")
LIST_ROUTE = "task/list-by-condition"

_PATH = re.compile(r"/mj-(?P<mode>fast|relax|turbo)/mj/(?P<route>.+)|/mj/(?P<plain>.+)")


def route_of(path: str) -> tuple[Mode | None, str] | None:
    """(mode, route) of a midjourney-proxy path: "/mj-relax/mj/submit/imagine" → (RELAX, "submit/imagine"),
    "/mj/task/1/fetch" → (None, "task/1/fetch"); None for any other path."""
    match = _PATH.fullmatch(path)
    if match is None:
        return None
    if match["plain"] is not None:
        return None, match["plain"]
    return Mode(match["mode"]), match["route"]


def path_for(route: str, mode: Mode | None) -> str:
    """The upstream path of a route under a mode: the mode reaches the upstream as the same prefix."""
    return f"{mode.prefix if mode else ''}/mj/{route}"


# ---------------------------------------------------------------- buttons and what their customId means

MAX_CUSTOM_ID_CHARS = 100
"""Discord's limit on a component's custom_id, which is what a customId is."""
_CUSTOM_ID = re.compile(r"MJ(?:::[^:\x00-\x1f\x7f]+){2,9}")
_SMALL_NUMBER = re.compile(r"[0-9]")


@dataclass(frozen=True, slots=True)
class Button:
    """One action a finished task offers: submit/action with its customId runs it."""

    custom_id: str
    emoji: str = ""
    label: str = ""
    type: int = 2
    style: int = 2

    def to_json(self) -> JsonObject:
        return {"customId": self.custom_id, "emoji": self.emoji, "label": self.label, "type": self.type,
                "style": self.style}


@dataclass(frozen=True, slots=True)
class ButtonMeaning:
    action: TaskAction
    index: int | None
    """The image of the grid (1-4) the button acts on, where it has one."""
    needs_modal: bool
    """Answered with code 21 and a MODAL task, which submit/modal then confirms (with a prompt, or a mask)."""


def button_meaning(custom_id: str) -> ButtonMeaning:
    """What pressing the button with this customId submits; BadRequest when it is not a button id."""
    if len(custom_id) > MAX_CUSTOM_ID_CHARS or not _CUSTOM_ID.fullmatch(custom_id):
        raise BadRequest("customId must be a button id such as MJ::JOB::upsample::1::<hash>, as listed in the "
                         "task's buttons.", param="customId")
    parts = custom_id.split("::")
    if parts[1] == "JOB":
        return _job_button(parts)
    if parts[1] == "Job" and parts[2] in ("PicReader", "PromptAnalyzer"):
        # a prompt offered by describe or shorten, drawn once a modal confirms it
        if parts[3:4] == ["all"]:
            raise BadRequest("'Imagine all' starts several tasks at once; submit each prompt with "
                             "submit/imagine instead.", param="customId")
        return ButtonMeaning(TaskAction.IMAGINE, None, needs_modal=True)
    simple = {"Outpaint": (TaskAction.ZOOM, False), "CustomZoom": (TaskAction.CUSTOM_ZOOM, True),
              "Inpaint": (TaskAction.INPAINT, True), "Picread": (TaskAction.DESCRIBE, False)}
    action, modal = simple.get(parts[1], (TaskAction.ACTION, False))
    return ButtonMeaning(action, None, needs_modal=modal)


def _job_button(parts: list[str]) -> ButtonMeaning:
    kind = parts[2]
    index = int(parts[3]) if len(parts) > 3 and _SMALL_NUMBER.fullmatch(parts[3]) else None
    if index is not None and not 1 <= index <= 4:
        index = None
    if kind in ("upsample", "variation") and index is None:
        raise BadRequest(f"customId {'::'.join(parts[:4])} names no image of the grid: the index must be 1 to 4.",
                         param="customId")
    if kind == "upsample" or kind.startswith("upsample_"):
        return ButtonMeaning(TaskAction.UPSCALE, index, needs_modal=False)
    named = {"variation": TaskAction.VARIATION, "low_variation": TaskAction.LOW_VARIATION,
             "high_variation": TaskAction.HIGH_VARIATION, "reroll": TaskAction.REROLL}
    action = named.get(kind, TaskAction.PAN if kind.startswith("pan_") else TaskAction.ACTION)
    return ButtonMeaning(action, index if action is TaskAction.VARIATION else None, needs_modal=False)


def check_button(custom_id: str, buttons: Iterable[Button]) -> ButtonMeaning:
    """The meaning of a customId the client pressed on a task: it must be one of that task's buttons."""
    meaning = button_meaning(custom_id)
    if all(b.custom_id != custom_id for b in buttons):
        raise BadRequest("customId is not one of this task's buttons; fetch the task and use a customId from its "
                         "buttons.", param="customId")
    return meaning
