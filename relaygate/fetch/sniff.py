"""Telling a file's type from its bytes: the documents relaygate reads, images, and a named refusal for the rest."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass

import orjson

from relaygate.core.errors import UnsupportedFile
from relaygate.fetch.charsets import decode_text
from relaygate.fetch.document import FileKind


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: FileKind
    mime: str
    text: str | None = None
    """The decoded text, for the text kinds."""
    encoding: str | None = None


_IMAGES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
           (b"GIF89a", "image/gif"))
# Prefix -> what it is; refused by name so the client learns why (the order matters: longer first).
_REFUSED = (
    (b"\x7fELF", "an ELF executable"), (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"), (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"), (b"\xca\xfe\xba\xbe", "a Mach-O universal binary or Java class"),
    (b"\x00asm", "a WebAssembly module"),
    (b"\x1f\x8b", "a gzip archive"), (b"BZh", "a bzip2 archive"), (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"), (b"MSCF", "a cabinet archive"), (b"SQLite format 3\x00", "a database"),
    (b"\x1aE\xdf\xa3", "a video (Matroska/WebM)"), (b"OggS", "audio or video (Ogg)"), (b"fLaC", "audio (FLAC)"),
    (b"ID3", "audio (MP3)"), (b"FLV", "a video (FLV)"), (b"MThd", "audio (MIDI)"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "audio or video (Windows Media)"), (b"\x00\x00\x01\xba", "a video (MPEG)"),
    (b"\x00\x00\x01\xb3", "a video (MPEG)"), (b"II*\x00", "an image (TIFF)"), (b"MM\x00*", "an image (TIFF)"),
    (b"\x00\x00\x01\x00", "an image (ICO)"), (b"wOFF", "a font"), (b"wOF2", "a font"),
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Stream names as they appear (UTF-16) in the compound file's directory; "Book" is the Excel 5/95 name.
_OLE_STREAMS = (("EncryptedPackage", None), ("Workbook", FileKind.XLS),
                ("WordDocument", "a Word 97-2003 document (.doc); save it as .docx"),
                ("PowerPoint Document", "a PowerPoint 97-2003 file (.ppt); save it as .pptx"), ("Book", FileKind.XLS))
_OOXML_MAIN = (("word/document.xml", FileKind.DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml"
                ".document"),
               ("xl/workbook.xml", FileKind.XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
               ("ppt/presentation.xml", FileKind.PPTX,
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"))
_HTML_START = re.compile(r"^\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])", re.IGNORECASE | re.DOTALL)
_HTML_TAGS = re.compile(r"<(?:head|body|title|meta|div|p)[\s>]", re.IGNORECASE)
_CSV_DELIMITERS = (",", "\t", ";", "|")


def _refuse(what: str) -> UnsupportedFile:
    return UnsupportedFile(f"the file is {what}, which relaygate cannot read as a document",
                           code="unsupported_file_type")


def _binary_kind(data: bytes) -> str | None:
    """A named refusal for recognised non-document binaries, or None when nothing matched."""
    head = data[:16]
    for prefix, what in _REFUSED:
        if head.startswith(prefix):
            return what
    if head.startswith(b"MZ") and len(data) >= 64:
        offset = int.from_bytes(data[0x3C:0x40], "little")
        if data[offset:offset + 4] == b"PE\x00\x00":
            return "a Windows executable"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "an HEIF/AVIF image" if brand in (b"heic", b"heix", b"mif1", b"avif") else "a video or audio file (MP4)"
    if head.startswith(b"RIFF") and data[8:12] in (b"AVI ", b"WAVE"):
        return "a video (AVI)" if data[8:12] == b"AVI " else "audio (WAV)"
    if len(data) > 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] != 0xFE:  # FF FE: a UTF-16 BOM
        return "audio (MPEG)"
    if head.startswith(b"BM") and len(data) >= 26 and data[6:10] == b"\x00\x00\x00\x00":
        return "an image (BMP)"
    if len(data) >= 376 and data[0] == 0x47 and data[188] == 0x47:
        return "a video (MPEG transport stream)"
    if data[257:262] == b"ustar":
        return "a tar archive"
    return None


def image_mime(data: bytes) -> str | None:
    """The MIME type of a PNG, JPEG, GIF or WebP image (what vision models take), else None."""
    for prefix, mime in _IMAGES:
        if data.startswith(prefix):
            return mime
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _zip_kind(data: bytes) -> Sniffed:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise _refuse("a damaged ZIP archive") from None
    if "[Content_Types].xml" in names:
        for main, kind, mime in _OOXML_MAIN:
            if main in names:
                return Sniffed(kind, mime)
        raise _refuse("an Office package of an unsupported kind")
    if "mimetype" in names and any(n.startswith("META-INF/") for n in names):
        raise _refuse("an OpenDocument or EPUB package; save it as .docx, .xlsx, .pptx or PDF")
    raise _refuse("a ZIP archive")


def _ole_kind(data: bytes) -> Sniffed:
    for stream, kind in _OLE_STREAMS:
        if stream.encode("utf-16-le") in data:
            if kind is None:
                raise UnsupportedFile("the Office file is password-protected", code="encrypted_file")
            if isinstance(kind, FileKind):
                return Sniffed(kind, "application/vnd.ms-excel")
            raise _refuse(kind)
    raise _refuse("an OLE2 compound file that is not an Excel workbook")


def csv_delimiter(text: str) -> str | None:
    """The delimiter when the first lines are rows of one width (at least 3 rows of 2+ fields), else None."""
    lines = [line for line in text[:65536].splitlines()[:50] if line.strip()]
    if len(lines) < 3:
        return None
    if len(lines) == 50 or len(text) > 65536:
        lines = lines[:-1]  # the last line of a sample may be cut short
    for delimiter in _CSV_DELIMITERS:
        if delimiter not in lines[0]:
            continue
        try:
            widths = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
        except csv.Error:
            continue
        if len(widths) == 1 and widths.pop() >= 2:
            return delimiter
    return None


def _text_kind(text: str, encoding: str) -> Sniffed:
    head = text[:4096].lstrip("\ufeff")
    stripped = head.lstrip()
    if _HTML_START.match(head) or (stripped.startswith("<") and not stripped.startswith("<?xml")
                                   and len(_HTML_TAGS.findall(head)) >= 2):
        return Sniffed(FileKind.HTML, "text/html", text, encoding)
    if stripped.startswith("<?xml"):
        kind = FileKind.HTML if "<html" in head.lower() else FileKind.XML
        return Sniffed(kind, "text/html" if kind is FileKind.HTML else "application/xml", text, encoding)
    if stripped[:1] in ("{", "["):
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return Sniffed(FileKind.JSON, "application/json", text, encoding)
    if csv_delimiter(text) is not None:
        return Sniffed(FileKind.CSV, "text/csv", text, encoding)
    return Sniffed(FileKind.TEXT, "text/plain", text, encoding)


def sniff(data: bytes, charset: str | None = None) -> Sniffed:
    """What the bytes are; UnsupportedFile (415) naming the type for anything relaygate does not read.

    `charset` is the server's declared charset, a hint for text that is not UTF-8; names and Content-Types
    are never trusted for the type.
    """
    if not data:
        raise UnsupportedFile("the file is empty (0 bytes)", code="empty_file")
    pdf_header = data[:1024].find(b"%PDF-")
    if pdf_header == 0 or (pdf_header > 0 and b"%%EOF" in data[-2048:]):
        return Sniffed(FileKind.PDF, "application/pdf")
    mime = image_mime(data)
    if mime is not None:
        return Sniffed(FileKind.IMAGE, mime)
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(data)
    if data.startswith(_OLE2):
        return _ole_kind(data)
    what = _binary_kind(data)
    if what is not None:
        raise _refuse(what)
    text, encoding = decode_text(data, charset)
    return _text_kind(text, encoding)
