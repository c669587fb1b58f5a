"""One extractor per document kind; extract_document picks by the sniffed kind (runs in a worker process)."""

from __future__ import annotations

from relaygate.core.errors import UnsupportedFile
from relaygate.fetch.archives import check_archive
from relaygate.fetch.document import Document, FileKind, Part
from relaygate.fetch.formats.docx import extract_docx
from relaygate.fetch.formats.pdf import extract_pdf
from relaygate.fetch.formats.sheets import extract_xls, extract_xlsx
from relaygate.fetch.formats.slides import extract_pptx
from relaygate.fetch.formats.text import extract_csv, extract_html, extract_json, extract_plain
from relaygate.fetch.limits import ExtractLimits
from relaygate.fetch.sniff import sniff

_BINARY = {FileKind.PDF: extract_pdf, FileKind.DOCX: extract_docx, FileKind.XLSX: extract_xlsx,
           FileKind.XLS: extract_xls, FileKind.PPTX: extract_pptx}


def _text_parts(kind: FileKind, text: str, limits: ExtractLimits) -> tuple[list[Part], list[str], str | None]:
    if kind is FileKind.HTML:
        return extract_html(text)
    if kind is FileKind.CSV:
        parts, notes = extract_csv(text, limits)
        return parts, notes, None
    if kind is FileKind.JSON:
        return extract_json(text), [], None
    return extract_plain(text), [], None


def extract_document(name: str, data: bytes, sha256: str, charset: str | None, limits: ExtractLimits) -> Document:
    """Sniff the bytes, check an archive's directory, and read the document's parts under the caps."""
    if data.startswith(b"PK"):  # before sniffing, which parses the zip directory
        check_archive(data, max_entries=limits.max_archive_entries, max_unpacked_bytes=limits.max_unpacked_bytes)
    sniffed = sniff(data, charset)
    if sniffed.kind is FileKind.IMAGE:
        raise UnsupportedFile(f"the file is an image ({sniffed.mime}), not a document", code="unsupported_file_type")
    if sniffed.text is not None:
        parts, notes, title = _text_parts(sniffed.kind, sniffed.text, limits)
        if sniffed.encoding and sniffed.encoding.replace("_", "-") not in ("utf-8", "utf-8-sig", "ascii"):
            notes = [f"Read as {sniffed.encoding} text.", *notes]
    else:
        parts, notes, title = _BINARY[sniffed.kind](data, limits)
    if not parts and not notes:
        notes = ["The file contains no text."]
    return Document(name=name, kind=sniffed.kind, size=len(data), sha256=sha256, parts=tuple(parts),
                    notes=tuple(notes), title=title)
