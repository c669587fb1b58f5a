"""PPTX text slide by slide (python-pptx): title, text boxes, tables as Markdown, speaker notes."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.shapes.base import BaseShape
from pptx.shapes.graphfrm import GraphicFrame
from pptx.shapes.group import GroupShape
from pptx.slide import Slide

from relaygate.core.errors import FileTooLarge
from relaygate.fetch.document import Part
from relaygate.fetch.formats.tables import markdown_table, trim_rows
from relaygate.fetch.limits import ExtractLimits


def _shapes(shapes: Iterable[BaseShape]) -> Iterator[BaseShape]:
    """Every shape, groups opened, in the slide's order."""
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP and isinstance(shape, GroupShape):
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _slide_text(slide: Slide, limits: ExtractLimits) -> str:
    blocks: list[str] = []
    title_shape = slide.shapes.title
    title_id = title_shape.shape_id if title_shape is not None else None
    if title_shape is not None and title_shape.has_text_frame and title_shape.text_frame.text.strip():
        blocks.append("# " + " ".join(title_shape.text_frame.text.split()))
    for shape in _shapes(slide.shapes):
        if shape.shape_id == title_id:
            continue
        if isinstance(shape, GraphicFrame) and shape.has_table:
            rows, _cut = trim_rows(([cell.text for cell in row.cells] for row in shape.table.rows),
                                   limits.max_columns)
            if rows:
                blocks.append(markdown_table(rows[0], rows[1:]))
        elif shape.has_text_frame:
            text = shape.text_frame.text.strip()  # type: ignore[attr-defined]
            if text:
                blocks.append(text)
    if slide.has_notes_slide:
        notes_frame = slide.notes_slide.notes_text_frame
        notes = notes_frame.text.strip() if notes_frame is not None else ""
        if notes:
            blocks.append("Notes: " + notes)
    return "\n\n".join(blocks)


def extract_pptx(data: bytes, limits: ExtractLimits) -> tuple[list[Part], list[str], str | None]:
    presentation = pptx.Presentation(io.BytesIO(data))
    slides = presentation.slides
    if len(slides) > limits.max_slides:
        raise FileTooLarge(f"the presentation has {len(slides):,} slides, over the {limits.max_slides:,}-slide limit",
                           code="too_many_slides")
    parts: list[Part] = []
    empty = 0
    for number, slide in enumerate(slides, start=1):
        text = _slide_text(slide, limits)
        if text:
            parts.append(Part("slide", str(number), text))
        else:
            empty += 1
    notes = [f"{empty} slide(s) carry no text (pictures only)."] if empty else []
    title = (presentation.core_properties.title or "").strip() or None
    return parts, notes, title
