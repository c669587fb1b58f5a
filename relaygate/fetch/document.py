"""What extraction produces: a document's parts (a page, a sheet's rows, a slide) with their references."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class FileKind(StrEnum):
    """A file type told from the bytes themselves."""

    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    XLS = "xls"
    PPTX = "pptx"
    CSV = "csv"
    TEXT = "text"
    JSON = "json"
    XML = "xml"
    HTML = "html"
    IMAGE = "image"
    """Sniffed so callers can route images to vision; never extracted as a document."""


@dataclass(frozen=True, slots=True)
class Part:
    """One referable piece of a document; `unit` and `label` make its reference, e.g. "page 3"."""

    unit: str
    label: str
    text: str

    @property
    def ref(self) -> str:
        return f"{self.unit} {self.label}"


@dataclass(frozen=True, slots=True)
class ExtractionStats:
    seconds: float
    peak_memory_bytes: int
    """The extraction worker's peak resident set size."""


@dataclass(frozen=True, slots=True)
class Document:
    """A file's text as parts in reading order, plus what the reader should know (e.g. no text layer)."""

    name: str
    kind: FileKind
    size: int
    sha256: str
    parts: tuple[Part, ...]
    notes: tuple[str, ...] = ()
    title: str | None = None
    stats: ExtractionStats | None = None

    @property
    def has_text(self) -> bool:
        return any(part.text.strip() for part in self.parts)

    def text(self) -> str:
        """Every part under its reference, the whole document as one string."""
        return "\n\n".join(f"[{part.ref}]\n{part.text}" for part in self.parts)


@dataclass(frozen=True, slots=True)
class Image:
    """An image fetched or uploaded for a vision model or an upstream that needs bytes: exactly the bytes read,
    and their sniffed type."""

    url: str
    """Where it came from (the final URL after redirects; an upload's file name)."""
    mime: str
    data: bytes

    def data_url(self) -> str:
        return f"data:{self.mime};base64," + base64.b64encode(self.data).decode("ascii")


class Source(Protocol):
    """What extraction reads: bytes with a name and an optional declared charset (a fetched file, an upload)."""

    @property
    def name(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def sha256(self) -> str: ...
    @property
    def charset(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Upload:
    """A file that arrived as bytes (an OpenAI `file` part's base64 `file_data`), not by URL."""

    name: str
    data: bytes
    charset: str | None = None
    sha256: str = field(default="", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())


def compress_refs(parts: list[Part]) -> list[str]:
    """References of parts, runs of numbered units merged: pages 1, 2, 3, 5 -> "pages 1–3", "page 5"."""
    refs: list[str] = []
    run: list[Part] = []

    def flush() -> None:
        if not run:
            return
        if len(run) == 1:
            refs.append(run[0].ref)
        else:
            refs.append(f"{run[0].unit}s {run[0].label}–{run[-1].label}")
        run.clear()

    for part in parts:
        numbered = part.label.isdigit()
        if run and numbered and part.unit == run[-1].unit and int(part.label) == int(run[-1].label) + 1:
            run.append(part)
            continue
        flush()
        if numbered:
            run.append(part)
        else:
            refs.append(part.ref)
    flush()
    return refs
