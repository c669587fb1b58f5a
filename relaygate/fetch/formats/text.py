"""Text kinds: plain text and code by line ranges, CSV as Markdown tables, JSON re-indented, HTML's main text."""

from __future__ import annotations

import csv
import html as html_entities
import re

import orjson
import trafilatura

from relaygate.core.errors import FileTooLarge
from relaygate.fetch.document import Part
from relaygate.fetch.formats.tables import table_parts, trim_rows
from relaygate.fetch.limits import ExtractLimits
from relaygate.fetch.sniff import csv_delimiter

LINES_PER_PART = 80
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def line_parts(text: str) -> list[Part]:
    lines = text.splitlines()
    parts = []
    for start in range(0, len(lines), LINES_PER_PART):
        block = "\n".join(lines[start:start + LINES_PER_PART]).strip("\n")
        if block.strip():
            parts.append(Part("lines", f"{start + 1}–{min(start + LINES_PER_PART, len(lines))}", block))
    return parts


def extract_plain(text: str) -> list[Part]:
    return line_parts(text)


def extract_json(text: str) -> list[Part]:
    """JSON as sent, or re-indented when it is packed on few lines (so that line ranges mean something)."""
    if len(text) > 4000 and text.count("\n") * 200 < len(text):
        text = orjson.dumps(orjson.loads(text), option=orjson.OPT_INDENT_2).decode()
    return line_parts(text)


def extract_csv(text: str, limits: ExtractLimits) -> tuple[list[Part], list[str]]:
    rows: list[list[object]] = []
    for row in csv.reader(text.splitlines(), delimiter=csv_delimiter(text) or ","):
        if any(cell.strip() for cell in row):
            rows.append(list(row))
            if len(rows) > limits.max_rows:
                raise FileTooLarge(f"the table has more than {limits.max_rows:,} rows, over the row limit",
                                   code="too_many_rows")
    kept, cut = trim_rows(rows, limits.max_columns)
    notes = [f"Rows wider than {limits.max_columns} columns were cut."] if cut else []
    return table_parts("", kept, unit="rows"), notes


def _sections(markdown: str) -> list[Part]:
    """Markdown split at its headings, each section labelled by its heading."""
    starts = [m.start() for m in _MARKDOWN_HEADING.finditer(markdown)]
    if not starts:
        return line_parts(markdown)
    parts = line_parts(markdown[:starts[0]]) if markdown[:starts[0]].strip() else []
    for begin, end in zip(starts, [*starts[1:], len(markdown)], strict=True):
        section = markdown[begin:end].strip()
        heading = _MARKDOWN_HEADING.match(section)
        label = heading.group(1).strip()[:80] if heading else str(len(parts) + 1)
        parts.append(Part("section", f"«{label}»", section))
    return parts


def extract_html(html: str) -> tuple[list[Part], list[str], str | None]:
    """The page's main text (trafilatura drops navigation, headers, footers), tables as Markdown."""
    markdown = trafilatura.extract(html, output_format="markdown", include_tables=True, include_links=False,
                                   include_images=False, include_comments=False)
    notes: list[str] = []
    if not markdown or not markdown.strip():
        markdown = trafilatura.html2txt(html) or ""
        if markdown.strip():
            notes.append("No main article was found; this is all the page's text.")
    found = _HTML_TITLE.search(html[:65536])
    title = " ".join(html_entities.unescape(found.group(1)).split())[:200] if found else None
    if not markdown.strip():
        notes.append("The page has no readable text.")
    return _sections(markdown), notes, title or None
