"""DOCX text in reading order (python-docx): headings as Markdown headings, tables as Markdown tables."""

from __future__ import annotations

import io
import re

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from relaygate.fetch.document import Part
from relaygate.fetch.formats.tables import markdown_table, trim_rows
from relaygate.fetch.limits import ExtractLimits

BLOCKS_PER_PART = 30
_HEADING = re.compile(r"^(?:Heading|标题)\s*(\d)$", re.IGNORECASE)


def _heading_level(paragraph: Paragraph) -> int | None:
    name = paragraph.style.name if paragraph.style is not None else ""
    if name == "Title":
        return 1
    found = _HEADING.match(name or "")
    return int(found.group(1)) if found else None


def _table(table: Table, limits: ExtractLimits) -> tuple[str, bool]:
    rows, cut = trim_rows(([cell.text for cell in row.cells] for row in table.rows), limits.max_columns)
    return (markdown_table(rows[0], rows[1:]) if rows else ""), cut


class _Sections:
    """Collects blocks into parts: one per heading's section, blocks of paragraphs where there are none."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self._heading: str | None = None
        self._blocks: list[str] = []
        self._first = 1
        self._count = 0

    def heading(self, title: str, markdown: str) -> None:
        self.close()
        self._heading = title[:80]
        self._blocks.append(markdown)

    def block(self, text: str) -> None:
        self._count += 1
        self._blocks.append(text)
        if self._heading is None and len(self._blocks) >= BLOCKS_PER_PART:
            self.close()

    def close(self) -> None:
        if self._blocks:
            if self._heading is not None:
                self.parts.append(Part("section", f"«{self._heading}»", "\n\n".join(self._blocks)))
            else:
                self.parts.append(Part("paragraphs", f"{self._first}–{self._count}", "\n\n".join(self._blocks)))
        self._blocks = []
        self._first = self._count + 1


def extract_docx(data: bytes, limits: ExtractLimits) -> tuple[list[Part], list[str], str | None]:
    document = docx.Document(io.BytesIO(data))
    sections = _Sections()
    cut = False
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            text, table_cut = _table(item, limits)
            cut = cut or table_cut
            if text:
                sections.block(text)
            continue
        text = item.text.strip()
        if not text:
            continue
        level = _heading_level(item)
        if level is not None:
            sections.heading(text, "#" * level + " " + text)
        else:
            sections.block(text)
    sections.close()
    notes = [f"Table rows wider than {limits.max_columns} columns were cut."] if cut else []
    title = (document.core_properties.title or "").strip() or None
    return sections.parts, notes, title
