"""Bytes to text: UTF-8, a BOM, a declared charset, or an encoding detection that leaves no doubt."""

from __future__ import annotations

import codecs
import re
import unicodedata

from relaygate.core.errors import UnsupportedFile

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAMPLE = 64 * 1024
_MAX_CONTROL_RATIO = 0.01
_MAX_CHAOS = 0.1
_WHITESPACE_CONTROLS = frozenset("\t\n\r\f\v\x1b")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]{1,40})["']""")


def _binary() -> UnsupportedFile:
    return UnsupportedFile("the file is binary data of a type relaygate does not read", code="unsupported_file_type")


def _looks_binary(sample: bytes) -> bool:
    controls = sum(1 for b in sample if b < 0x20 and chr(b) not in _WHITESPACE_CONTROLS)
    return b"\x00" in sample or controls > len(sample) * _MAX_CONTROL_RATIO


def _declared_in_markup(data: bytes) -> str | None:
    head = data[:2048]
    found = _XML_ENCODING.match(head.lstrip()) or _META_CHARSET.search(head)
    return found.group(1).decode("ascii") if found else None


def _strict(data: bytes, encoding: str | None) -> str | None:
    if not encoding:
        return None
    try:
        return data.decode(codecs.lookup(encoding).name)
    except (LookupError, UnicodeDecodeError):
        return None


def _detected(data: bytes) -> tuple[str, str]:
    """charset-normalizer's answer, when every equally plausible reading gives the same text."""
    import charset_normalizer  # only for text that is not UTF-8: imported then, not at start (≈ 4 MiB)

    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None or best.chaos > _MAX_CHAOS:
        raise _binary()
    rivals = [m for m in matches if m.chaos <= best.chaos + 0.01]
    readings = {str(m) for m in rivals}
    if len(readings) > 1:
        names = ", ".join(m.encoding for m in rivals[:4])
        raise UnsupportedFile(
            f"the text is not UTF-8 and its encoding is ambiguous (it reads differently as {names}); "
            "save it as UTF-8 or serve it with a charset", code="unsupported_text_encoding")
    if _looks_binary(data[:_SAMPLE]) and not best.encoding.startswith(("utf_16", "utf_32")):
        raise _binary()
    return str(best), best.encoding


def _check_controls(text: str) -> None:
    sample = text[:_SAMPLE]
    controls = sum(1 for ch in sample if ch not in _WHITESPACE_CONTROLS and unicodedata.category(ch) == "Cc")
    if controls > len(sample) * _MAX_CONTROL_RATIO:
        raise _binary()


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """The text and the encoding it was read in; UnsupportedFile when it is binary or undecidable.

    Order: a BOM; strict UTF-8; the charset the server or the markup declares; then detection, accepted
    only when it is unambiguous (GB18030, Big5 and Shift-JIS are; short Latin-1 text usually is not, and
    mojibake handed to a model would be worse than a clear refusal).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _strict(data, encoding)
            if text is None:
                raise UnsupportedFile(f"the file starts with a {encoding} BOM but is not valid {encoding}",
                                      code="unsupported_text_encoding")
            _check_controls(text)
            return text.lstrip("\ufeff"), encoding
    for candidate in ("utf-8", declared, _declared_in_markup(data)):
        decoded = _strict(data, candidate)
        if decoded is not None and candidate is not None:
            _check_controls(decoded)
            return decoded, codecs.lookup(candidate).name
    detected, encoding = _detected(data)
    _check_controls(detected)
    return detected, encoding
