"""From URL to document: real files of every type from an allow-listed 127.0.0.1 server, the hostile set, the cache."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from relaygate.core.errors import RelayError
from relaygate.fetch import (
    Document,
    DocumentCache,
    DocumentReader,
    ExtractLimits,
    Extractor,
    FetchPolicy,
    FileKind,
    GuardedFetcher,
    StaticResolver,
    SystemResolver,
    Upload,
)
from relaygate.fetch.allow import parse_allow_list
from tests import documents
from tests.documents import MARKER
from tests.fileserver import ConnectLog, FileServer, InternalServer, LoopThread


@pytest.fixture(scope="module")
def extractor(aio: LoopThread) -> Iterator[Extractor]:
    shared = Extractor(ExtractLimits())
    yield shared
    aio.run(shared.close())


def make_reader(aio: LoopThread, server: FileServer, extractor: Extractor, **caps: Any) -> DocumentReader:
    policy = FetchPolicy(allow=parse_allow_list(f"127.0.0.1:{server.port}"), **caps)
    resolver = StaticResolver({"intranet.test": ["127.0.0.1"], "wiki.test": ["10.0.0.8"]}, SystemResolver())
    return DocumentReader(GuardedFetcher(policy, resolver), extractor, DocumentCache(ttl=600, max_bytes=1 << 26))


def read_url(aio: LoopThread, reader: DocumentReader, url: str) -> Document:
    return aio.run(reader.read_url(url))


@pytest.fixture
def reader(aio: LoopThread, file_server: FileServer, extractor: Extractor) -> Iterator[DocumentReader]:
    made = make_reader(aio, file_server, extractor)
    yield made
    aio.run(made.fetcher.close())


DOCUMENTS: list[tuple[str, Callable[[], bytes], FileKind, str]] = [
    ("api-doc.pdf", documents.pdf, FileKind.PDF, "page 2"),
    ("guide.docx", documents.docx_file, FileKind.DOCX, "section «Adding a domain»"),
    ("prices.xlsx", documents.xlsx_file, FileKind.XLSX, "sheet «Prices» rows 2–6"),
    ("legacy.xls", documents.xls_file, FileKind.XLS, "sheet «Legacy» rows 2–3"),
    ("deck.pptx", documents.pptx_file, FileKind.PPTX, "slide 2"),
    ("page.html", documents.html_page, FileKind.HTML, "section «Adding a domain»"),
    ("notes.md", lambda: f"# Notes\n\n{MARKER}\n".encode(), FileKind.TEXT, "lines 1–3"),
    ("table.csv", lambda: b"k,v\nmarker,marker-cell-Q7\nx,y\n", FileKind.CSV, "rows 2–3"),
    ("data.json", lambda: b'{"marker": "marker-cell-Q7"}', FileKind.JSON, "lines 1–1"),
]


@pytest.mark.parametrize(("name", "make", "kind", "ref"), DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_every_document_type_is_read_by_url_whatever_its_content_type_says(
        name: str, make: Callable[[], bytes], kind: FileKind, ref: str, aio: LoopThread, file_server: FileServer,
        reader: DocumentReader) -> None:
    url = file_server.add(f"typed/{name}.bin", make(), "application/octet-stream")
    document = read_url(aio, reader, url)
    assert document.kind is kind and document.name == f"{name}.bin"
    part = next(p for p in document.parts if p.ref == ref)
    assert MARKER in part.text or "marker-cell-Q7" in part.text or "marker-xls" in part.text


HOSTILE_FILES: list[tuple[str, Callable[[], bytes], int, str]] = [
    ("report.pdf", documents.elf_executable, 415, "unsupported_file_type"),
    ("setup.pdf", documents.pe_executable, 415, "unsupported_file_type"),
    ("movie.pdf", documents.mp4_video, 415, "unsupported_file_type"),
    ("bomb.docx", documents.zip_bomb_docx, 413, "archive_too_large"),
    ("huge.pdf", lambda: documents.claims_pages_pdf(50_000_000), 413, "too_many_pages"),
    ("many.pdf", lambda: documents.blank_pages_pdf(600), 413, "too_many_pages"),
    ("empty.txt", lambda: b"", 415, "empty_file"),
    ("latin1.txt", lambda: "Voilà une phrase très française, déjà écrite.".encode("cp1252"), 415,
     "unsupported_text_encoding"),
]


@pytest.mark.parametrize(("name", "make", "status", "code"), HOSTILE_FILES, ids=[h[0] for h in HOSTILE_FILES])
def test_hostile_files_by_url_are_refused_with_the_rule_they_break(
        name: str, make: Callable[[], bytes], status: int, code: str, aio: LoopThread, file_server: FileServer,
        reader: DocumentReader) -> None:
    url = file_server.add(f"hostile/{name}", make(), "application/pdf")
    with pytest.raises(RelayError) as refused:
        read_url(aio, reader, url)
    assert (refused.value.status, refused.value.code) == (status, code)


def test_hostile_urls_through_the_reader_never_reach_the_internal_server(
        aio: LoopThread, file_server: FileServer, extractor: Extractor, internal_server: InternalServer,
        connect_log: ConnectLog) -> None:
    reader = make_reader(aio, file_server, extractor, total_timeout=1.0)
    internal = internal_server.port
    cases = [
        (f"http://127.0.0.1:{internal}/doc.pdf", 400, "url_not_allowed"),
        (f"http://localhost:{internal}/doc.pdf", 400, "url_not_allowed"),
        (f"http://[::1]:{internal}/", 400, "url_not_allowed"),
        (f"http://0.0.0.0:{internal}/", 400, "url_not_allowed"),
        (f"http://2130706433:{internal}/", 400, "url_not_allowed"),
        (f"http://0x7f000001:{internal}/", 400, "url_not_allowed"),
        (f"http://127.1:{internal}/", 400, "url_not_allowed"),
        ("http://169.254.169.254/latest/meta-data/iam/", 400, "url_not_allowed"),
        ("http://10.0.0.1/a.pdf", 400, "url_not_allowed"),
        ("http://172.16.5.4/a.pdf", 400, "url_not_allowed"),
        ("http://192.168.0.10/a.pdf", 400, "url_not_allowed"),
        (f"http://intranet.test:{internal}/a.pdf", 400, "url_not_allowed"),
        ("http://wiki.test/a.pdf", 400, "url_not_allowed"),
        (f"{file_server.base_url}/redirect?to=http://127.0.0.1:{internal}/", 400, "url_not_allowed"),
        (f"{file_server.base_url}/chain/9", 400, "too_many_redirects"),
        (f"{file_server.base_url}/endless", 413, "file_too_large"),
        (f"{file_server.base_url}/drip", 400, "fetch_timeout"),
        ("file:///etc/passwd", 400, "url_not_allowed"),
        ("ftp://127.0.0.1/", 400, "url_not_allowed"),
        ("gopher://127.0.0.1:70/", 400, "url_not_allowed"),
        (f"http://user:pass@127.0.0.1:{file_server.port}/files/typed/api-doc.pdf.bin", 400, "url_not_allowed"),
        (f"{file_server.base_url}/status/500", 502, "fetch_failed"),
    ]
    before = internal_server.connections
    connect_log.clear()
    try:
        for url, status, code in cases:
            with pytest.raises(RelayError) as refused:
                read_url(aio, reader, url)
            assert (refused.value.status, refused.value.code) == (status, code), url
    finally:
        aio.run(reader.fetcher.close())
    assert internal_server.connections == before
    assert set(connect_log.ports()) == {file_server.port}


def test_a_document_read_again_comes_from_the_cache(aio: LoopThread, file_server: FileServer,
                                                    reader: DocumentReader) -> None:
    url = file_server.add("cached/a.pdf", documents.pdf(), "application/pdf")
    first = read_url(aio, reader, url)
    before = file_server.paths().count("/files/cached/a.pdf")
    assert read_url(aio, reader, url) is first
    assert file_server.paths().count("/files/cached/a.pdf") == before


def test_the_same_bytes_at_another_url_are_downloaded_but_not_extracted_again(
        aio: LoopThread, file_server: FileServer, reader: DocumentReader) -> None:
    data = documents.pptx_file(4)
    first = read_url(aio, reader, file_server.add("copies/one.pptx", data))
    second = read_url(aio, reader, file_server.add("copies/two.pptx", data))
    assert second.name == "two.pptx" and second.parts is first.parts and second.stats is first.stats


def test_concurrent_questions_on_one_url_share_one_download(aio: LoopThread, file_server: FileServer,
                                                            reader: DocumentReader) -> None:
    url = file_server.add("shared/deck.pptx", documents.pptx_file(10))

    async def ask_five() -> list[Document]:
        return list(await asyncio.gather(*(reader.read_url(url) for _ in range(5))))

    results = aio.run(ask_five())
    assert all(r is results[0] for r in results)
    assert file_server.paths().count("/files/shared/deck.pptx") == 1


def test_an_upload_is_read_and_cached_by_its_hash(aio: LoopThread, reader: DocumentReader) -> None:
    upload = Upload("notes.txt", f"uploaded: {MARKER}".encode())
    first = aio.run(reader.read_upload(upload))
    assert MARKER in first.text()
    again = aio.run(reader.read_upload(Upload("renamed.txt", upload.data)))
    assert again.name == "renamed.txt" and again.parts is first.parts


def test_an_image_url_is_fetched_as_exactly_its_bytes(aio: LoopThread, file_server: FileServer,
                                                      reader: DocumentReader) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x01" * 40
    image = aio.run(reader.fetch_image(file_server.add("img/pic", png, "application/octet-stream")))
    assert (image.mime, image.data) == ("image/png", png)
    assert image.data_url().startswith("data:image/png;base64,iVBORw0KGgo")
    with pytest.raises(RelayError) as refused:
        aio.run(reader.fetch_image(file_server.add("img/not.png", documents.pdf(), "image/png")))
    assert (refused.value.status, refused.value.code) == (415, "unsupported_file_type")
