"""File types told from bytes alone, and text encodings: what is read, and what is refused by name."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile

import pytest

from relaygate.core.errors import UnsupportedFile
from relaygate.fetch import FileKind, image_mime, sniff
from relaygate.fetch.charsets import decode_text
from tests import documents

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(("data", "kind"), [
    (documents.pdf(), FileKind.PDF),
    (b"\r\n\x00junk before the header\n" + documents.pdf(), FileKind.PDF),
    (documents.docx_file(), FileKind.DOCX),
    (documents.xlsx_file(), FileKind.XLSX),
    (documents.xls_file(), FileKind.XLS),
    (documents.pptx_file(), FileKind.PPTX),
    (documents.html_page(), FileKind.HTML),
    (b"<div><p>fragment of a page</p><p>second</p></div>", FileKind.HTML),
    (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>x</body></html>', FileKind.HTML),
    (b'<?xml version="1.0"?><config><item>1</item></config>', FileKind.XML),
    (b'{"model": "gpt-4", "n": [1, 2]}', FileKind.JSON),
    (b"name,price,stock\nwidget,1.50,3\ngadget,2.00,7\n", FileKind.CSV),
    (b"name\tprice\nwidget\t1.50\ngadget\t2.00\n", FileKind.CSV),
    (b"# Notes\n\nHello, world. This is markdown, with commas, in prose.\nAnd a second line.\n", FileKind.TEXT),
    (b"def main() -> None:\n    print('hi')\n", FileKind.TEXT),
    (b"MZ is where this text file starts, and it is text all the same.\n", FileKind.TEXT),
    (b"{not json at all", FileKind.TEXT),
])
def test_documents_are_told_from_their_bytes(data: bytes, kind: FileKind) -> None:
    assert sniff(data).kind is kind


@pytest.mark.parametrize(("data", "mime"), [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "image/png"), (b"\xff\xd8\xff\xe0" + b"\x00" * 30, "image/jpeg"),
    (b"GIF89a" + b"\x00" * 30, "image/gif"), (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 30, "image/webp"),
])
def test_images_are_sniffed_for_vision(data: bytes, mime: str) -> None:
    found = sniff(data)
    assert (found.kind, found.mime) == (FileKind.IMAGE, mime)
    assert image_mime(data) == mime
    assert image_mime(b"%PDF-1.4") is None


def _tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        info = tarfile.TarInfo("a.txt")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    return out.getvalue()


@pytest.mark.parametrize(("data", "named"), [
    (documents.elf_executable(), "ELF executable"),
    (documents.pe_executable(), "Windows executable"),
    (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 100, "Mach-O"),
    (documents.mp4_video(), "video or audio file (MP4)"),
    (b"\x1aE\xdf\xa3" + b"\x00" * 100, "Matroska/WebM"),
    (b"ID3\x04\x00" + b"\x00" * 100, "audio (MP3)"),
    (b"\xff\xfb\x90\x00" + b"\x00" * 100, "audio (MPEG)"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 100, "audio (WAV)"),
    (b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 100, "video (AVI)"),
    (b"OggS\x00\x02" + b"\x00" * 100, "Ogg"),
    (_zip({"a.txt": b"hello"}), "a ZIP archive"),
    (_zip({"mimetype": b"application/vnd.oasis.opendocument.text", "META-INF/manifest.xml": b"<m/>"}),
     "OpenDocument"),
    (b"\x1f\x8b\x08\x00" + b"\x00" * 100, "gzip"),
    (b"7z\xbc\xaf\x27\x1c" + b"\x00" * 100, "7-Zip"),
    (b"Rar!\x1a\x07\x01\x00" + b"\x00" * 100, "RAR"),
    (_tar(), "tar archive"),
    (b"SQLite format 3\x00" + b"\x00" * 100, "database"),
    (OLE2 + "WordDocument".encode("utf-16-le"), ".doc"),
    (OLE2 + "PowerPoint Document".encode("utf-16-le"), ".ppt"),
    (OLE2, "OLE2 compound file"),
    (b"PK\x03\x04" + b"\x00" * 60, "damaged ZIP"),
])
def test_other_binaries_are_refused_by_name(data: bytes, named: str) -> None:
    with pytest.raises(UnsupportedFile) as refused:
        sniff(data)
    assert (refused.value.status, refused.value.code) == (415, "unsupported_file_type")
    assert named in refused.value.message


def test_random_bytes_are_refused_as_binary() -> None:
    for data in [os.urandom(4096), bytes(b | 0x80 for b in os.urandom(4096)), b"\x00" * 100, b"text\x00with nul"]:
        with pytest.raises(UnsupportedFile) as refused:
            sniff(data)
        assert refused.value.code == "unsupported_file_type" and "binary" in refused.value.message


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(UnsupportedFile) as refused:
        sniff(b"")
    assert (refused.value.status, refused.value.code) == (415, "empty_file")


def test_a_password_protected_office_file_is_refused_as_encrypted() -> None:
    with pytest.raises(UnsupportedFile) as refused:
        sniff(OLE2 + "EncryptedPackage".encode("utf-16-le"))
    assert refused.value.code == "encrypted_file"


CHINESE = "添加域名的接口是 POST /api/domain，请在请求体中传入域名和证书。这是一个测试文件。"
FRENCH = "Le café est très bon. Voilà une phrase en français avec des accents : é, è, à, ç."


@pytest.mark.parametrize(("data", "encoding"), [
    (CHINESE.encode("utf-8"), "utf-8"),
    (b"\xef\xbb\xbf" + CHINESE.encode("utf-8"), "utf-8-sig"),
    (CHINESE.encode("utf-16"), "utf-16"),
    (CHINESE.encode("gb18030"), "gb18030"),
    (("這是一個測試文件。請在請求體中傳入域名和證書。" * 2).encode("big5"), "big5"),
    (("これは日本語のテキストです。ファイルの内容を確認してください。" * 2).encode("shift_jis"), "cp932"),
])
def test_text_is_read_in_utf8_with_a_bom_or_in_an_unambiguous_detected_encoding(data: bytes, encoding: str) -> None:
    text, found = decode_text(data)
    assert found == encoding
    assert text.strip("\ufeff") in (CHINESE, "這是一個測試文件。請在請求體中傳入域名和證書。" * 2,
                                    "これは日本語のテキストです。ファイルの内容を確認してください。" * 2)


def test_latin_text_of_ambiguous_encoding_is_refused_unless_its_charset_is_declared() -> None:
    data = FRENCH.encode("cp1252")
    with pytest.raises(UnsupportedFile) as refused:
        sniff(data)
    assert (refused.value.status, refused.value.code) == (415, "unsupported_text_encoding")
    assert "UTF-8" in refused.value.message
    found = sniff(data, charset="windows-1252")
    assert (found.kind, found.text, found.encoding) == (FileKind.TEXT, FRENCH, "cp1252")


def test_a_charset_declared_in_the_markup_is_honoured() -> None:
    page = ('<html><head><meta charset="gbk"><title>t</title></head><body><p>' + CHINESE + "</p></body></html>")
    found = sniff(page.encode("gbk"))
    assert found.kind is FileKind.HTML and found.text is not None and CHINESE in found.text
    assert found.encoding == "gbk"


def test_a_declared_charset_never_turns_binary_into_text() -> None:
    with pytest.raises(UnsupportedFile) as refused:
        sniff(bytes(range(256)) * 16, charset="iso-8859-1")
    assert refused.value.code == "unsupported_file_type"


def test_a_bom_that_lies_is_refused() -> None:
    with pytest.raises(UnsupportedFile) as refused:
        decode_text(b"\xef\xbb\xbf" + b"\xff\xfe\xfd not utf-8")
    assert refused.value.code == "unsupported_text_encoding"
