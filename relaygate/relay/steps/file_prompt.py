"""The one place the all-tools prompt is assembled: each file named (name, type, size, source, the parts included
and left out), its text under its references, images as image parts, then the user's question verbatim."""

from __future__ import annotations

from dataclasses import dataclass

from relaygate.core.types import JsonObject, JsonValue
from relaygate.fetch.context import FittedDocument
from relaygate.fetch.document import Document, FileKind, Image
from relaygate.relay.steps.attachments import AttachedMessage

_KINDS = {FileKind.PDF: "PDF", FileKind.DOCX: "Word document (DOCX)", FileKind.XLSX: "Excel workbook (XLSX)",
          FileKind.XLS: "Excel workbook (XLS)", FileKind.PPTX: "PowerPoint deck (PPTX)", FileKind.CSV: "CSV table",
          FileKind.TEXT: "text", FileKind.JSON: "JSON", FileKind.XML: "XML", FileKind.HTML: "web page (HTML)"}
INSTRUCTION = ("Answer the question below using the attached files. When you rely on a passage, cite its reference "
               "in brackets as given, e.g. [page 3].")


@dataclass(frozen=True, slots=True)
class PartImage:
    """An `image_url` part the client sent, passed on as it is."""

    part: JsonObject


Reading = Document | Image | PartImage


@dataclass(frozen=True, slots=True)
class FileView:
    """One file as the prompt shows it."""

    number: int
    source: str
    """The URL it came from, or how it was given (a file part, an image_url part)."""
    reading: Reading
    fitted: FittedDocument | None = None


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _document_block(view: FileView, document: Document, fitted: FittedDocument | None) -> str:
    head = (f"=== File {view.number}: {document.name} ({_KINDS.get(document.kind, document.kind.value)}, "
            f"{size_text(document.size)}) from {view.source}")
    lines = [head]
    if document.title:
        lines.append(f"Title: {document.title}")
    lines += list(document.notes)
    if fitted is not None and document.has_text:
        if not fitted.complete and fitted.included:
            lines.append("Included: " + ", ".join(fitted.included) + ".")
        lines.append(fitted.note())
        text = fitted.text()
        if text:
            lines.append(text)
    lines.append(f"=== End of file {view.number}")
    return "\n".join(lines)


def _image_line(view: FileView) -> str:
    reading = view.reading
    if isinstance(reading, Image):
        kind = reading.mime.split("/", 1)[1].upper()
        return (f"=== File {view.number}: an image ({kind}, {size_text(len(reading.data))}) from {view.source}, "
                "attached to this message.")
    return f"=== File {view.number}: an image given as an image_url part, attached to this message."


def image_part(reading: Image | PartImage) -> JsonObject:
    if isinstance(reading, PartImage):
        return reading.part
    return {"type": "image_url", "image_url": {"url": reading.data_url()}}


def message_content(message: AttachedMessage, views: list[FileView], shown: set[int]) -> JsonValue:
    """The new content of a user message naming files: the files' blocks, the instruction and the question
    verbatim as one text part, then the images; a file already shown in an earlier message is referred back to.
    `shown` collects the numbers of the files rendered."""
    blocks: list[str] = []
    images: list[JsonObject] = []
    for view in views:
        if view.number in shown and not isinstance(view.reading, PartImage | Image):
            blocks.append(f"=== File {view.number} ({view.source}) is given in an earlier message.")
            continue
        shown.add(view.number)
        if isinstance(view.reading, Document):
            blocks.append(_document_block(view, view.reading, view.fitted))
        else:
            blocks.append(_image_line(view))
            images.append(image_part(view.reading))
    count = len(views)
    intro = f"The user attached {count} file{'s' if count != 1 else ''} to this message."
    question = message.question if message.question.strip() else "(The user sent the files without a question.)"
    text = "\n\n".join([intro, *blocks, INSTRUCTION, "Question:\n" + question])
    parts: list[JsonValue] = [{"type": "text", "text": text}, *images, *message.kept_parts]
    return text if len(parts) == 1 else parts
