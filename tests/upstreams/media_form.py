"""Multipart forms as the fake OpenAI upstream receives them: every part in order, and typed reads that refuse as
OpenAI does (a file where text belongs, a number that is not one)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

from aiohttp import MultipartReader, StreamReader
from aiohttp.base_protocol import BaseProtocol
from multidict import CIMultiDict

from tests.upstreams.openai_wire import WireError, invalid_type, missing


@dataclass(frozen=True)
class FormPart:
    """One part of a multipart form: a text field (`filename` None) or a file, with its exact bytes."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def is_file(self) -> bool:
        return self.filename is not None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class MediaRequest:
    """What reached an audio or image endpoint: the JSON body or the form's parts, in order, repeats kept."""

    path: str
    deployment: str | None
    content_type: str
    json: Any = None
    parts: tuple[FormPart, ...] = ()
    duration: float | None = field(default=None, compare=False)
    """Seconds of audio mutagen read from the uploaded `file` (transcriptions and translations)."""

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parts]

    def field(self, name: str) -> str | None:
        """The last text value of `name` (as a form parser reads a single field), None when absent."""
        values = self.fields(name)
        return values[-1] if values else None

    def fields(self, name: str) -> list[str]:
        return [p.text for p in self.parts if p.name == name and not p.is_file]

    def files(self, name: str) -> list[FormPart]:
        return [p for p in self.parts if p.name == name and p.is_file]


async def parse_multipart(raw: bytes, content_type: str) -> tuple[FormPart, ...]:
    """The parts of a multipart/form-data body already read whole (aiohttp's own reader over those bytes)."""
    loop = asyncio.get_running_loop()
    stream = StreamReader(BaseProtocol(loop), len(raw) + 1, loop=loop)
    stream.feed_data(raw)
    stream.feed_eof()
    reader = MultipartReader(CIMultiDict({"Content-Type": content_type}), stream)
    parts: list[FormPart] = []
    try:
        while (part := await reader.next()) is not None:
            if not hasattr(part, "filename") or part.name is None:
                raise ValueError("a part without a name")
            data = bytes(await part.read())
            parts.append(FormPart(part.name, data, part.filename, part.headers.get("Content-Type")))
    except (ValueError, AssertionError) as exc:
        raise WireError(400, f"Could not parse multipart form: {exc}.") from exc
    return tuple(parts)


class Form:
    """Typed reads of a multipart form's fields, each refusing a wrong type with OpenAI's message."""

    def __init__(self, parts: tuple[FormPart, ...]) -> None:
        self.parts = parts

    def has(self, name: str) -> bool:
        return any(p.name in (name, f"{name}[]") or p.name.startswith(f"{name}[") for p in self.parts)

    def text(self, name: str) -> str | None:
        found = [p for p in self.parts if p.name == name]
        if not found:
            return None
        if found[-1].is_file:
            raise WireError(400, f"Invalid type for '{name}': expected a string, but got a file instead.",
                            param=name, code="invalid_type")
        return found[-1].text

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise missing(name)
        return value

    def texts(self, name: str) -> list[str]:
        """An array field, sent as `name[]` (the SDK's spelling) or repeated `name`."""
        values = []
        for part in self.parts:
            if part.name in (name, f"{name}[]"):
                if part.is_file:
                    raise WireError(400, f"Invalid type for '{name}[]': expected a string, but got a file instead.",
                                    param=name, code="invalid_type")
                values.append(part.text)
        return values

    def nested(self, name: str) -> dict[str, str]:
        """An object field sent as `name[key]` parts (the SDK's spelling)."""
        prefix = f"{name}["
        return {p.name[len(prefix):-1]: p.text for p in self.parts
                if p.name.startswith(prefix) and p.name.endswith("]") and not p.name.endswith("[]")}

    def files(self, *names: str) -> list[FormPart]:
        found = [p for p in self.parts if p.name in names]
        for part in found:
            if not part.is_file:
                raise WireError(400, f"Invalid type for '{part.name}': expected a file, but got a string instead.",
                                param=part.name.removesuffix("[]"), code="invalid_type")
        return found

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise invalid_type(name, "an integer", value) from None

    def number(self, name: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise invalid_type(name, "a number", value) from None
        if not math.isfinite(number):
            raise invalid_type(name, "a number", value)
        return number

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            raise invalid_type(name, "a boolean", value)
        return value.lower() == "true"
