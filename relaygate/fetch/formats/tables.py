"""Tables as Markdown, and a table's rows cut into referable parts with the header repeated."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence

from relaygate.fetch.document import Part

ROWS_PER_PART = 200


def cell_text(value: object) -> str:
    """A cell as text: integral floats without ".0", dates in ISO form, None empty, one line."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    elif isinstance(value, datetime.datetime) and value.time() == datetime.time():
        value = value.date()
    text = value.isoformat() if isinstance(value, datetime.date | datetime.time) else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def trim_rows(rows: Iterable[Sequence[object]], max_columns: int) -> tuple[list[list[str]], bool]:
    """Rows as text cells without empty rows and trailing empty columns; True when a row was cut at max_columns."""
    kept: list[list[str]] = []
    cut = False
    for row in rows:
        cells = [cell_text(value) for value in row]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        if len(cells) > max_columns:
            cells, cut = cells[:max_columns], True
        kept.append(cells)
    return kept, cut


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    width = max([len(header), *(len(row) for row in rows)])
    def line(cells: Sequence[str]) -> str:
        padded = [*cells, *([""] * (width - len(cells)))]
        return "| " + " | ".join(padded) + " |"
    return "\n".join([line(header), "|" + "---|" * width, *(line(row) for row in rows)])


def table_parts(name: str, rows: list[list[str]], *, unit: str = "sheet") -> list[Part]:
    """A table (first row the header) as parts of ROWS_PER_PART rows, labelled `<name> rows a–b`."""
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    if not body:
        return [Part(unit, name, markdown_table(header, []))]
    parts = []
    for start in range(0, len(body), ROWS_PER_PART):
        block = body[start:start + ROWS_PER_PART]
        # Row numbers count the header as row 1, as a spreadsheet shows them.
        label = f"{name} rows {start + 2}–{start + 1 + len(block)}" if name else f"{start + 2}–{start + 1 + len(block)}"
        parts.append(Part(unit, label, markdown_table(header, block)))
    return parts
