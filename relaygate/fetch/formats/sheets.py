"""Workbooks as Markdown tables per sheet: XLSX through openpyxl (streaming), XLS through xlrd."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Literal

import openpyxl
import xlrd

from relaygate.core.errors import FileTooLarge
from relaygate.fetch.document import Part
from relaygate.fetch.formats.tables import table_parts, trim_rows
from relaygate.fetch.limits import ExtractLimits


def _check_sheets(count: int, limits: ExtractLimits) -> None:
    if count > limits.max_sheets:
        raise FileTooLarge(f"the workbook has {count} sheets, over the {limits.max_sheets}-sheet limit",
                           code="too_many_sheets")


class _RowBudget:
    """Counts non-empty rows across a workbook's sheets, refusing the one past max_rows as it streams by."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def watch(self, rows: Iterator[Sequence[object]]) -> Iterator[Sequence[object]]:
        for row in rows:
            if any(value is not None and value != "" for value in row):
                self.used += 1
                if self.used > self.limit:
                    raise FileTooLarge(f"the workbook has more than {self.limit:,} rows, over the row limit",
                                       code="too_many_rows")
            yield row


def _sheet_parts(name: str, rows: list[list[str]], cut: bool, notes: list[str], limits: ExtractLimits) -> list[Part]:
    if cut:
        notes.append(f"Sheet «{name}»: rows wider than {limits.max_columns} columns were cut.")
    if not rows:
        notes.append(f"Sheet «{name}» is empty.")
    return table_parts(f"«{name}»", rows)


def extract_xlsx(data: bytes, limits: ExtractLimits) -> tuple[list[Part], list[str], str | None]:
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = workbook.worksheets
        _check_sheets(len(sheets), limits)
        budget = _RowBudget(limits.max_rows)
        parts: list[Part] = []
        notes: list[str] = []
        for sheet in sheets:
            rows, cut = trim_rows(budget.watch(sheet.iter_rows(values_only=True)), limits.max_columns)
            parts += _sheet_parts(sheet.title, rows, cut, notes, limits)
        title = (workbook.properties.title or "").strip() or None
    finally:
        workbook.close()
    return parts, notes, title


def _xls_value(cell: xlrd.sheet.Cell, datemode: Literal[0, 1]) -> object:
    value = cell.value
    if cell.ctype == xlrd.XL_CELL_DATE and isinstance(value, float):
        try:
            return xlrd.xldate_as_datetime(value, datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return value
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if cell.ctype == xlrd.XL_CELL_ERROR and isinstance(value, int):
        return xlrd.error_text_from_code.get(value, "#ERR")
    return value


def extract_xls(data: bytes, limits: ExtractLimits) -> tuple[list[Part], list[str], str | None]:
    book = xlrd.open_workbook(file_contents=data, on_demand=True)
    try:
        _check_sheets(book.nsheets, limits)
        budget = _RowBudget(limits.max_rows)
        parts: list[Part] = []
        notes: list[str] = []
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            datemode: Literal[0, 1] = 1 if book.datemode == 1 else 0
            raw = ([_xls_value(cell, datemode) for cell in sheet.row(r)] for r in range(sheet.nrows))
            rows, cut = trim_rows(budget.watch(raw), limits.max_columns)
            parts += _sheet_parts(sheet.name, rows, cut, notes, limits)
            book.unload_sheet(index)
    finally:
        book.release_resources()
    return parts, notes, None
