"""PDF text, page by page (pypdf); a page without a text layer is reported, never guessed at."""

from __future__ import annotations

import io

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError
from pypdf.generic import DictionaryObject

from relaygate.core.errors import FileTooLarge, UnreadableFile, UnsupportedFile
from relaygate.fetch.document import Part, compress_refs
from relaygate.fetch.limits import ExtractLimits


def _too_many(count: int, limit: int) -> FileTooLarge:
    return FileTooLarge(f"the PDF has {count:,} pages, over the {limit:,}-page limit", code="too_many_pages")


_UNSUPPORTED_CIPHER = NotImplementedError
"""What pypdf raises for an encryption scheme it does not implement (a file we refuse, not code of ours)."""


def _open(data: bytes, limits: ExtractLimits) -> PdfReader:
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")  # many PDFs are "encrypted" with an empty password, for permissions
        except (DependencyError, FileNotDecryptedError, PdfReadError, _UNSUPPORTED_CIPHER):
            opened = PasswordType.NOT_DECRYPTED
        if opened == PasswordType.NOT_DECRYPTED:
            raise UnsupportedFile("the PDF is password-protected", code="encrypted_file")
    # The page tree's own /Count is checked first: walking a claimed 10-million-page tree is the attack.
    pages = reader.root_object.get("/Pages")
    tree = pages.get_object() if pages is not None else None
    claimed = tree.get("/Count", 0) if isinstance(tree, DictionaryObject) else 0
    if isinstance(claimed, int) and claimed > limits.max_pages:
        raise _too_many(claimed, limits.max_pages)
    return reader


def extract_pdf(data: bytes, limits: ExtractLimits) -> tuple[list[Part], list[str], str | None]:
    """Parts (one per page with text), notes, title."""
    try:
        reader = _open(data, limits)
        count = len(reader.pages)
        if count > limits.max_pages:
            raise _too_many(count, limits.max_pages)
        pages = [Part("page", str(number), (page.extract_text() or "").strip())
                 for number, page in enumerate(reader.pages, start=1)]
        title = reader.metadata.title if reader.metadata is not None else None
    except PdfReadError:
        raise UnreadableFile("the PDF is damaged and could not be read", code="unreadable_file") from None
    notes = []
    blank = [page for page in pages if not page.text]
    if blank and len(blank) == len(pages):
        notes.append("This PDF has no text layer (it is probably scanned images): its text could not be read.")
    elif blank:
        notes.append("No text layer on " + ", ".join(compress_refs(blank)) + " (probably scanned images).")
    return [page for page in pages if page.text], notes, title if isinstance(title, str) and title.strip() else None
