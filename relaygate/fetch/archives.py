"""Zip-based formats (DOCX, XLSX, PPTX) checked from the central directory before anything is inflated."""

from __future__ import annotations

import io
import zipfile

from relaygate.core.errors import FileTooLarge, UnreadableFile

_EOCD = b"PK\x05\x06"
_EOCD_SEARCH = 22 + 65535  # the end record plus the longest comment


def _declared_entries(data: bytes) -> int | None:
    """The entry count the end-of-central-directory record claims, read without parsing the directory."""
    at = data.rfind(_EOCD, max(0, len(data) - _EOCD_SEARCH))
    if at < 0 or at + 22 > len(data):
        return None
    count = int.from_bytes(data[at + 10:at + 12], "little")
    return None if count == 0xFFFF else count  # 0xFFFF: a zip64 archive; its directory says


def check_archive(data: bytes, *, max_entries: int, max_unpacked_bytes: int) -> None:
    """FileTooLarge when the archive has too many entries or would inflate past the cap (a zip bomb).

    The declared sizes bind: zipfile stops each entry at its declared size and fails on a CRC mismatch,
    so a lying directory cannot inflate more than it declares.
    """
    declared = _declared_entries(data)
    if declared is not None and declared > max_entries:
        raise _too_many(declared, max_entries)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise UnreadableFile("the file is a damaged ZIP package", code="unreadable_file") from None
    if len(entries) > max_entries:
        raise _too_many(len(entries), max_entries)
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > max_unpacked_bytes:
        raise FileTooLarge(
            f"the file would unpack to {unpacked:,} bytes, over the {max_unpacked_bytes:,}-byte limit",
            code="archive_too_large")


def _too_many(count: int, limit: int) -> FileTooLarge:
    return FileTooLarge(f"the file's archive holds {count:,} entries, over the {limit:,}-entry limit",
                        code="archive_too_large")
