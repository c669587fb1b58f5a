"""The midjourney-proxy submit bodies: one typed request per submit route, validated before anything goes upstream.

Every refusal is a BadRequest whose message is the description of a code-4 answer (midjourney_answers.refusal).
Each request keeps the fields it does not know in `extra` for the record, but `upstream_body()` sends only the
protocol's own fields, never `notifyHook` (relaygate calls the hook itself): trueai's `accountFilter`, for one,
would let a client pick the upstream account's mode while paying for another. Pure.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias
from urllib.parse import urlsplit

from relaygate.core.errors import BadRequest
from relaygate.core.types import JsonObject, JsonValue
from relaygate.protocols.midjourney import (
    SUBMIT_ROUTES,
    BotType,
    ButtonMeaning,
    Dimensions,
    TaskAction,
    button_meaning,
)


@dataclass(frozen=True, slots=True)
class Limits:
    max_prompt_chars: int = 6000
    """Discord's limit on a slash command's text option, which is what a prompt becomes."""
    max_image_bytes: int = 10 * 1024 * 1024
    max_images: int = 5
    max_state_chars: int = 4096
    max_task_ids: int = 500
    """Ids in one list-by-condition body."""


DEFAULT_LIMITS = Limits()
MAX_HOOK_URL_CHARS = 2048
_TASK_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_DATA_URL = re.compile(r"data:(?P<mime>image/[A-Za-z0-9.+-]+)(?:;[^,;]*)*;base64,(?P<data>.*)", re.DOTALL)
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"))


@dataclass(frozen=True, slots=True)
class Image:
    """An image sent as a data URL (kept as sent, it goes upstream unchanged)."""

    data_url: str
    media_type: str
    size: int
    """Decoded bytes."""


@dataclass(frozen=True, slots=True)
class Common:
    """The fields every submit body may carry."""

    notify_hook: str | None = None
    state: str | None = None
    extra: JsonObject = field(default_factory=dict)
    """Fields the protocol does not define: kept for the record, never forwarded."""

    def fields(self) -> JsonObject:
        return {} if self.state is None else {"state": self.state}


@dataclass(frozen=True, slots=True)
class ImagineRequest:
    prompt: str
    images: tuple[Image, ...]
    bot_type: BotType | None
    common: Common
    action: ClassVar[TaskAction] = TaskAction.IMAGINE

    def upstream_body(self, upstream_task_id: str | None = None) -> JsonObject:
        body: JsonObject = {"prompt": self.prompt, "base64Array": [i.data_url for i in self.images]}
        return {**body, **_bot(self.bot_type), **self.common.fields()}


@dataclass(frozen=True, slots=True)
class ActionRequest:
    task_id: str
    custom_id: str
    meaning: ButtonMeaning
    common: Common

    @property
    def action(self) -> TaskAction:
        return self.meaning.action

    def upstream_body(self, upstream_task_id: str | None = None) -> JsonObject:
        """The body for the upstream, where the task has the upstream's own id."""
        return {"taskId": upstream_task_id or self.task_id, "customId": self.custom_id, **self.common.fields()}


@dataclass(frozen=True, slots=True)
class BlendRequest:
    images: tuple[Image, ...]
    dimensions: Dimensions
    bot_type: BotType | None
    common: Common
    action: ClassVar[TaskAction] = TaskAction.BLEND

    def upstream_body(self, upstream_task_id: str | None = None) -> JsonObject:
        body: JsonObject = {"base64Array": [i.data_url for i in self.images], "dimensions": self.dimensions.value}
        return {**body, **_bot(self.bot_type), **self.common.fields()}


@dataclass(frozen=True, slots=True)
class DescribeRequest:
    image: Image
    bot_type: BotType | None
    common: Common
    action: ClassVar[TaskAction] = TaskAction.DESCRIBE

    def upstream_body(self, upstream_task_id: str | None = None) -> JsonObject:
        return {"base64": self.image.data_url, **_bot(self.bot_type), **self.common.fields()}


@dataclass(frozen=True, slots=True)
class ModalRequest:
    task_id: str
    prompt: str
    mask: Image | None
    common: Common
    action: ClassVar[TaskAction] = TaskAction.MODAL

    def upstream_body(self, upstream_task_id: str | None = None) -> JsonObject:
        body: JsonObject = {"taskId": upstream_task_id or self.task_id, "prompt": self.prompt}
        if self.mask is not None:
            body["maskBase64"] = self.mask.data_url
        return {**body, **self.common.fields()}


@dataclass(frozen=True, slots=True)
class ShortenRequest:
    prompt: str
    bot_type: BotType | None
    common: Common
    action: ClassVar[TaskAction] = TaskAction.SHORTEN

    def upstream_body(self, upstream_task_id: str | None = None) -> JsonObject:
        return {"prompt": self.prompt, **_bot(self.bot_type), **self.common.fields()}


@dataclass(frozen=True, slots=True)
class SwapFaceRequest:
    source: Image
    target: Image
    common: Common
    action: ClassVar[TaskAction] = TaskAction.SWAP_FACE

    def upstream_body(self, upstream_task_id: str | None = None) -> JsonObject:
        return {"sourceBase64": self.source.data_url, "targetBase64": self.target.data_url, **self.common.fields()}


SubmitRequest: TypeAlias = (ImagineRequest | ActionRequest | BlendRequest | DescribeRequest | ModalRequest
                            | ShortenRequest | SwapFaceRequest)


def parse_submit(route: str, body: JsonValue, limits: Limits = DEFAULT_LIMITS) -> SubmitRequest:
    """The typed request of a submit route ("submit/imagine", …, "insight-face/swap"); BadRequest when invalid."""
    parser = _PARSERS.get(route)
    if parser is None:
        raise BadRequest(f"{route} is not a submit route; the routes are {', '.join(SUBMIT_ROUTES)}.")
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return parser(body, limits)


def parse_imagine(body: JsonObject, limits: Limits = DEFAULT_LIMITS) -> ImagineRequest:
    images = _images(body.get("base64Array"), "base64Array", limits)
    if body.get("base64") not in (None, ""):  # midjourney-proxy's older single-image field
        images = (*images, image_data_url(body["base64"], "base64", limits))
    if len(images) > limits.max_images:
        raise BadRequest(f"imagine takes at most {limits.max_images} images; {len(images)} were sent.",
                         param="base64Array")
    return ImagineRequest(prompt(body, "prompt", limits), images, _bot_type(body), _common(body, limits, _IMAGINE))


def parse_action(body: JsonObject, limits: Limits = DEFAULT_LIMITS) -> ActionRequest:
    task_id = check_task_id(body.get("taskId"))
    custom_id = body.get("customId")
    if custom_id is None or custom_id == "":
        raise BadRequest("customId is required: copy it from one of the task's buttons.", param="customId")
    if not isinstance(custom_id, str):
        raise BadRequest("customId must be a string, one of the task's buttons' customId.", param="customId")
    return ActionRequest(task_id, custom_id, button_meaning(custom_id), _common(body, limits, _ACTION))


def parse_blend(body: JsonObject, limits: Limits = DEFAULT_LIMITS) -> BlendRequest:
    images = _images(body.get("base64Array"), "base64Array", limits)
    if not 2 <= len(images) <= 5:
        raise BadRequest(f"blend mixes 2 to 5 images; base64Array holds {len(images)}.", param="base64Array")
    dimensions = body.get("dimensions")
    if dimensions not in list(Dimensions):
        raise BadRequest("dimensions must be PORTRAIT, SQUARE or LANDSCAPE.", param="dimensions")
    return BlendRequest(images, Dimensions(str(dimensions)), _bot_type(body), _common(body, limits, _BLEND))


def parse_describe(body: JsonObject, limits: Limits = DEFAULT_LIMITS) -> DescribeRequest:
    if body.get("base64") in (None, ""):
        raise BadRequest("base64 is required: the image to describe, as data:image/png;base64,<data>.",
                         param="base64")
    image = image_data_url(body["base64"], "base64", limits)
    return DescribeRequest(image, _bot_type(body), _common(body, limits, _DESCRIBE))


def parse_modal(body: JsonObject, limits: Limits = DEFAULT_LIMITS) -> ModalRequest:
    task_id = check_task_id(body.get("taskId"))
    mask = None
    if body.get("maskBase64") not in (None, ""):
        mask = image_data_url(body["maskBase64"], "maskBase64", limits)
    return ModalRequest(task_id, prompt(body, "prompt", limits), mask, _common(body, limits, _MODAL))


def parse_shorten(body: JsonObject, limits: Limits = DEFAULT_LIMITS) -> ShortenRequest:
    return ShortenRequest(prompt(body, "prompt", limits), _bot_type(body), _common(body, limits, _SHORTEN))


def parse_swap_face(body: JsonObject, limits: Limits = DEFAULT_LIMITS) -> SwapFaceRequest:
    images = []
    for name, what in (("sourceBase64", "the face to use"), ("targetBase64", "the image to put it on")):
        if body.get(name) in (None, ""):
            raise BadRequest(f"{name} is required: {what}, as data:image/png;base64,<data>.", param=name)
        images.append(image_data_url(body[name], name, limits))
    source, target = images
    if source.data_url == target.data_url:
        raise BadRequest("sourceBase64 and targetBase64 are the same image; the face and the target must differ.",
                         param="targetBase64")
    return SwapFaceRequest(source, target, _common(body, limits, _SWAP))


def parse_task_ids(body: JsonValue, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """The ids of a list-by-condition body {"ids": [...]}; no ids (or null) lists nothing."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object such as {\"ids\": [\"<task id>\"]}.")
    ids = body.get("ids")
    if ids is None:
        return []
    if not isinstance(ids, list):
        raise BadRequest("ids must be an array of task ids.", param="ids")
    if len(ids) > limits.max_task_ids:
        raise BadRequest(f"ids holds {len(ids)} task ids; list at most {limits.max_task_ids} at once.", param="ids")
    return list(dict.fromkeys(check_task_id(i, "ids") for i in ids))


def check_task_id(value: JsonValue, param: str = "taskId") -> str:
    """A task id as the protocol carries it (in a body or a path)."""
    if value is None or value == "":
        raise BadRequest(f"{param} is required: the id of the task, as the submission answered it.", param=param)
    if not isinstance(value, str) or not _TASK_ID.fullmatch(value):
        raise BadRequest(f"{param} must be a task id: 1 to 64 letters, digits, '.', '_', ':' or '-'.", param=param)
    return value


def prompt(body: JsonObject, name: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """A required prompt, trimmed (as midjourney-proxy trims it)."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{name} must be a string.", param=name)
    text = (value or "").strip()
    if not text:
        raise BadRequest(f"{name} is required: describe what to draw.", param=name)
    if len(text) > limits.max_prompt_chars:
        raise BadRequest(f"{name} is {len(text)} characters long; the limit is {limits.max_prompt_chars}.",
                         param=name)
    return text


def image_data_url(value: JsonValue, name: str, limits: Limits = DEFAULT_LIMITS) -> Image:
    """An image as a data URL: data:image/<type>;base64,<data> holding a PNG, JPEG, GIF or WebP."""
    shape = f"{name} must be an image data URL: data:image/png;base64,<data>."
    if not isinstance(value, str):
        raise BadRequest(shape, param=name)
    match = _DATA_URL.fullmatch(value)
    if match is None:
        raise BadRequest(shape, param=name)
    data = match["data"]
    too_big = f"{name} is over {_size(limits.max_image_bytes)}; send a smaller image."
    if len(data) // 4 * 3 > limits.max_image_bytes + 2:
        raise BadRequest(too_big, param=name)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{name} is not valid base64 after 'base64,'.", param=name) from None
    if not raw:
        raise BadRequest(f"{name} holds no image: its data is empty.", param=name)
    if len(raw) > limits.max_image_bytes:
        raise BadRequest(too_big, param=name)
    if image_format(raw) is None:
        raise BadRequest(f"{name} is not a PNG, JPEG, GIF or WebP image.", param=name)
    return Image(value, match["mime"].lower(), len(raw))


def image_format(raw: bytes) -> str | None:
    """PNG, JPEG, GIF or WEBP by the file's signature; None for anything else."""
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "WEBP"
    return next((name for signature, name in _SIGNATURES if raw.startswith(signature)), None)


def _size(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit} bytes"


def _images(value: JsonValue, name: str, limits: Limits) -> tuple[Image, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest(f"{name} must be an array of image data URLs (data:image/png;base64,<data>).", param=name)
    if len(value) > limits.max_images:
        raise BadRequest(f"{name} holds {len(value)} images; at most {limits.max_images}.", param=name)
    return tuple(image_data_url(item, f"{name}[{i}]", limits) for i, item in enumerate(value))


def _bot_type(body: JsonObject) -> BotType | None:
    value = body.get("botType")
    if value is None or value == "":
        return None
    if value not in list(BotType):
        raise BadRequest("botType must be MID_JOURNEY or NIJI_JOURNEY.", param="botType")
    return BotType(str(value))


def _bot(bot_type: BotType | None) -> JsonObject:
    return {} if bot_type is None else {"botType": bot_type.value}


def _common(body: JsonObject, limits: Limits, known: frozenset[str]) -> Common:
    hook = body.get("notifyHook")
    if hook == "":
        hook = None
    if hook is not None and not _web_url(hook):
        raise BadRequest(f"notifyHook must be an http:// or https:// URL of at most {MAX_HOOK_URL_CHARS} "
                         "characters.", param="notifyHook")
    state = body.get("state")
    if state is not None and not isinstance(state, str):
        raise BadRequest("state must be a string (it comes back unchanged in the task).", param="state")
    if state is not None and len(state) > limits.max_state_chars:
        raise BadRequest(f"state is {len(state)} characters long; the limit is {limits.max_state_chars}.",
                         param="state")
    extra = {k: v for k, v in body.items() if k not in known and k not in _COMMON}
    return Common(hook if isinstance(hook, str) else None, state, extra)


def _web_url(value: JsonValue) -> bool:
    if not isinstance(value, str) or len(value) > MAX_HOOK_URL_CHARS or any(c <= " " for c in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


_COMMON = frozenset({"notifyHook", "state"})
_IMAGINE = frozenset({"prompt", "base64Array", "base64", "botType"})
_ACTION = frozenset({"taskId", "customId"})
_BLEND = frozenset({"base64Array", "dimensions", "botType"})
_DESCRIBE = frozenset({"base64", "botType"})
_MODAL = frozenset({"taskId", "prompt", "maskBase64"})
_SHORTEN = frozenset({"prompt", "botType"})
_SWAP = frozenset({"sourceBase64", "targetBase64"})
_PARSERS: dict[str, Callable[[JsonObject, Limits], SubmitRequest]] = {
    "submit/imagine": parse_imagine, "submit/action": parse_action, "submit/blend": parse_blend,
    "submit/describe": parse_describe, "submit/modal": parse_modal, "submit/shorten": parse_shorten,
    "insight-face/swap": parse_swap_face,
}
