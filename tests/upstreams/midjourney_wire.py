"""midjourney-proxy wire rules for the fake upstream: how its Spring/Jackson front reads a body, the task a
submission becomes and how it progresses, the buttons a finished task offers, and real PNG bytes for its images."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

OUTCOMES = ("success", "failure", "cancel", "stuck", "vanish")
"""How a task ends: SUCCESS, FAILURE (with failReason), CANCEL, never (stays IN_PROGRESS), or it is forgotten."""
INSTANCE_ID = "1118138338562560102"
DEFAULT_FAIL_REASON = "[Invalid parameter] Invalid value"
_DATA_URL = re.compile(r"data:(?P<mime>[^;,]+)(?:;[^,]*)?;base64,(?P<data>.+)", re.DOTALL)

# (status, progress) a task passes through, one step at a time; None as the last entry means "forgotten"
_PHASES: dict[str, list[tuple[str, str | None] | None]] = {
    "success": [("NOT_START", None), ("SUBMITTED", "0%"), ("IN_PROGRESS", "25%"), ("IN_PROGRESS", "50%"),
                ("IN_PROGRESS", "75%"), ("SUCCESS", "100%")],
    "failure": [("NOT_START", None), ("SUBMITTED", "0%"), ("IN_PROGRESS", "25%"), ("FAILURE", "")],
    "cancel": [("NOT_START", None), ("SUBMITTED", "0%"), ("CANCEL", "")],
    "stuck": [("NOT_START", None), ("SUBMITTED", "0%"), ("IN_PROGRESS", "25%"), ("IN_PROGRESS", "50%")],
    "vanish": [("NOT_START", None), ("SUBMITTED", "0%"), ("IN_PROGRESS", "25%"), None],
}
TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCEL"})


_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            415: "Unsupported Media Type", 500: "Internal Server Error"}


class SpringError(Exception):
    """An answer from Spring's own error handling: {"timestamp", "status", "error", "path"}."""

    def __init__(self, status: int) -> None:
        super().__init__(_REASONS[status])
        self.status = status

    def body(self, path: str) -> dict[str, Any]:
        return {"timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "+0000"),
                "status": self.status, "error": _REASONS[self.status], "path": path}


# ---------------------------------------------------------------- reading a body as Jackson binds a DTO

def text(body: dict[str, Any], name: str) -> str | None:
    """A String field: Jackson coerces scalars to text and refuses objects and arrays."""
    return _scalar_text(body.get(name))


def text_list(body: dict[str, Any], name: str) -> list[str | None] | None:
    """A List<String> field: an array of scalars; a lone value is refused (no ACCEPT_SINGLE_VALUE_AS_ARRAY)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list):
        raise SpringError(400)
    return [_scalar_text(item) for item in value]


def enum(body: dict[str, Any], name: str, values: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value not in values:
        raise SpringError(400)
    return value


def _scalar_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise SpringError(400)


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def data_url_ok(value: str | None) -> bool:
    """What midjourney-proxy's DataUrl parser accepts: data:<mime>;base64,<data> with real base64."""
    match = _DATA_URL.fullmatch(value or "")
    if match is None:
        return False
    try:
        base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# ---------------------------------------------------------------- tasks

@dataclass
class MockTask:
    """A task as the fake keeps it; `json()` is what fetch and list-by-condition answer."""

    id: str
    action: str
    result: str
    """What it produces when it succeeds: grid, upscaled, describe, shorten or image (no buttons)."""
    outcome: str
    mode: str | None
    prompt: str | None = None
    prompt_en: str | None = None
    description: str | None = None
    state: str | None = None
    custom_id: str | None = None
    bot_type: str = "MID_JOURNEY"
    properties: dict[str, Any] = field(default_factory=dict)
    submit_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    clock: float = field(default_factory=time.monotonic)
    manual_steps: int = 0
    phase: int = 0
    modal: bool = False
    start_ms: int | None = None
    finish_ms: int | None = None
    fail_reason: str | None = None
    image_name: str | None = None
    buttons: list[dict[str, Any]] = field(default_factory=list)
    hash: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def phases(self) -> list[tuple[str, str | None] | None]:
        return _PHASES[self.outcome]

    @property
    def status(self) -> str:
        if self.modal:
            return "MODAL"
        current = self.phases[self.phase]
        return current[0] if current is not None else "GONE"

    @property
    def gone(self) -> bool:
        return self.phases[self.phase] is None

    def settle(self, step_seconds: float | None, fail_reason: str) -> None:
        """Move on to where time (and manual steps) put the task, stamping each phase entered."""
        if self.modal:
            return
        timed = int((time.monotonic() - self.clock) / step_seconds) if step_seconds else 0
        target = min(self.manual_steps + timed, len(self.phases) - 1)
        while self.phase < target:
            self.phase += 1
            entered = self.phases[self.phase]
            if entered is None:
                return
            now = int(time.time() * 1000)
            status = entered[0]
            if status == "SUBMITTED":
                self.start_ms = now
            elif status == "IN_PROGRESS" and self.result in ("grid", "upscaled", "image"):
                self.image_name = f"progress_{self.phase}"
            if status in TERMINAL:
                self.finish_ms = now
            if status == "FAILURE":
                self.fail_reason = fail_reason
            if status == "SUCCESS":
                self._succeed()

    def restart(self, prompt: str) -> None:
        """A MODAL task confirmed by submit/modal: it runs from the start."""
        self.modal, self.phase, self.manual_steps, self.clock = False, 0, 0, time.monotonic()
        self.prompt = self.prompt_en = prompt
        self.properties["finalPrompt"] = prompt

    def _succeed(self) -> None:
        if self.result == "describe":
            lines = [f"{n}\ufe0f\u20e3 a mock picture, reading {n} --ar 1:1" for n in range(1, 5)]
            self.prompt = self.prompt_en = self.properties["finalPrompt"] = "\n\n".join(lines)
            self.image_name = "input"
        elif self.result == "shorten":
            shortened = "\n\n".join(f"{n}\ufe0f\u20e3 {(self.prompt or '')[: 40 // n]}" for n in range(1, 6))
            self.properties["finalPrompt"] = f"## Important tokens\n{self.prompt}\n## Shortened prompts\n{shortened}"
            self.image_name = None
        else:
            self.image_name = self.result
        self.buttons = buttons_for(self.result, self.hash)

    def json(self, image_base: str) -> dict[str, Any]:
        image = f"{image_base}/attachments/{self.id}/{self.image_name}.png" if self.image_name else None
        current = self.phases[self.phase]
        progress = None if self.modal or current is None else current[1]
        return {
            "id": self.id, "action": self.action, "customId": self.custom_id, "botType": self.bot_type,
            "prompt": self.prompt, "promptEn": self.prompt_en, "description": self.description, "state": self.state,
            "submitTime": self.submit_ms, "startTime": self.start_ms, "finishTime": self.finish_ms,
            "imageUrl": image, "status": self.status, "progress": progress, "failReason": self.fail_reason,
            "properties": self.properties, "buttons": self.buttons,
        }


def button(custom_id: str, emoji: str = "", label: str = "") -> dict[str, Any]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": 2}


def buttons_for(result: str, h: str) -> list[dict[str, Any]]:
    """The buttons Midjourney puts under a finished message, with customIds carrying the message hash."""
    if result == "grid":
        return ([button(f"MJ::JOB::upsample::{i}::{h}", label=f"U{i}") for i in range(1, 5)]
                + [button(f"MJ::JOB::reroll::0::{h}::SOLO", emoji="\U0001f504")]
                + [button(f"MJ::JOB::variation::{i}::{h}", label=f"V{i}") for i in range(1, 5)])
    if result == "upscaled":
        return [
            button(f"MJ::JOB::upsample_v6_2x_subtle::1::{h}::SOLO", label="Upscale (Subtle)"),
            button(f"MJ::JOB::upsample_v6_2x_creative::1::{h}::SOLO", label="Upscale (Creative)"),
            button(f"MJ::JOB::low_variation::1::{h}::SOLO", "\U0001fa84", "Vary (Subtle)"),
            button(f"MJ::JOB::high_variation::1::{h}::SOLO", "\U0001fa84", "Vary (Strong)"),
            button(f"MJ::Inpaint::1::{h}::SOLO", "\U0001f58c\ufe0f", "Vary (Region)"),
            button(f"MJ::Outpaint::50::1::{h}::SOLO", "\U0001f50d", "Zoom Out 2x"),
            button(f"MJ::Outpaint::75::1::{h}::SOLO", "\U0001f50d", "Zoom Out 1.5x"),
            button(f"MJ::CustomZoom::{h}", "\U0001f50d", "Custom Zoom"),
            *(button(f"MJ::JOB::pan_{side}::1::{h}::SOLO", arrow)
              for side, arrow in (("left", "\u2b05\ufe0f"), ("right", "\u27a1\ufe0f"), ("up", "\u2b06\ufe0f"),
                                  ("down", "\u2b07\ufe0f"))),
            button(f"MJ::BOOKMARK::{h}", "\u2764\ufe0f"),
        ]
    if result == "describe":
        return ([button(f"MJ::Job::PicReader::{i}", label=str(i)) for i in range(1, 5)]
                + [button("MJ::Picread::Retry", "\U0001f504"), button("MJ::Job::PicReader::all", "\U0001f389",
                                                                         "Imagine all")])
    if result == "shorten":
        return [button(f"MJ::Job::PromptAnalyzer::{i}", label=str(i)) for i in range(1, 6)]
    return []


def action_of(custom_id: str) -> tuple[str, str, bool]:
    """(the task's action as trueai names it, what it produces, whether a modal must confirm it) for a button."""
    parts = custom_id.split("::")
    kind = parts[2] if len(parts) > 2 and parts[1] == "JOB" else parts[1]
    if kind == "upsample":
        return "UPSCALE", "upscaled", False
    if kind.startswith("upsample_"):
        return "ACTION", "upscaled", False
    if kind in ("variation", "low_variation", "high_variation"):
        return "VARIATION", "grid", False
    if kind == "reroll":
        return "REROLL", "grid", False
    if kind.startswith("pan_"):
        return "PAN", "grid", False
    if kind == "Inpaint":
        return "INPAINT", "grid", True
    if kind == "CustomZoom":
        return "ACTION", "grid", True
    if kind == "Picread":
        return "DESCRIBE", "describe", False
    if kind == "Job":  # PicReader / PromptAnalyzer: draw one of the offered prompts
        return "IMAGINE", "grid", True
    return "ACTION", "grid", False


# ---------------------------------------------------------------- images

def png(seed: str, size: int = 32) -> bytes:
    """A real PNG: a size×size square in a colour taken from the seed."""
    rgb = hashlib.sha256(seed.encode()).digest()[:3]
    rows = b"".join(b"\x00" + rgb * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def png_data_url(seed: str = "mock") -> str:
    return "data:image/png;base64," + base64.b64encode(png(seed)).decode()
