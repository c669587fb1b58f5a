"""Caps on what extraction processes: pages, sheets, rows, slides, unpacked size, worker memory and time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ExtractSettings(Protocol):
    """The fields of relaygate.config.Settings that extraction reads."""

    @property
    def extract_max_pages(self) -> int: ...
    @property
    def extract_max_sheets(self) -> int: ...
    @property
    def extract_max_rows(self) -> int: ...
    @property
    def extract_max_slides(self) -> int: ...
    @property
    def extract_max_unpacked_bytes(self) -> int: ...
    @property
    def extract_max_archive_entries(self) -> int: ...
    @property
    def extract_workers(self) -> int: ...
    @property
    def extract_memory_bytes(self) -> int: ...
    @property
    def extract_timeout(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ExtractLimits:
    max_pages: int = 500
    max_sheets: int = 50
    max_rows: int = 100_000
    """Rows across all sheets of a workbook, or of a CSV."""
    max_slides: int = 500
    max_unpacked_bytes: int = 256 * 1024 * 1024
    max_archive_entries: int = 10_000
    max_columns: int = 256
    """Columns kept per table row; wider rows are cut and the document says so."""
    workers: int = 2
    """Extractions running at once, each in its own process."""
    memory_bytes: int = 1024 * 1024 * 1024
    """Address-space cap (RLIMIT_AS) of each extraction process."""
    timeout: float = 30.0
    """Wall-clock seconds one extraction may take before its process is killed."""

    @classmethod
    def from_settings(cls, settings: ExtractSettings) -> ExtractLimits:
        return cls(
            max_pages=settings.extract_max_pages, max_sheets=settings.extract_max_sheets,
            max_rows=settings.extract_max_rows, max_slides=settings.extract_max_slides,
            max_unpacked_bytes=settings.extract_max_unpacked_bytes,
            max_archive_entries=settings.extract_max_archive_entries, workers=settings.extract_workers,
            memory_bytes=settings.extract_memory_bytes, timeout=settings.extract_timeout,
        )
