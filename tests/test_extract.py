"""Extraction through the real worker processes: every document type's text and references, every cap, every failure."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import orjson
import pytest

from relaygate.core.errors import FetchRefused, FileTooLarge, UnreadableFile, UnsupportedFile
from relaygate.fetch import Document, ExtractLimits, Extractor, FileKind, Upload
from relaygate.fetch.worker import NICENESS
from tests import documents
from tests.documents import MARKER
from tests.fileserver import LoopThread


@pytest.fixture(scope="module")
def extractor(aio: LoopThread) -> Iterator[Extractor]:
    reader = Extractor(ExtractLimits())
    aio.run(reader.warm_up())
    yield reader
    aio.run(reader.close())


def read(aio: LoopThread, extractor: Extractor, data: bytes, name: str = "file",
         charset: str | None = None) -> Document:
    return aio.run(extractor.extract(Upload(name, data, charset)))


def refused(aio: LoopThread, extractor: Extractor, data: bytes) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        read(aio, extractor, data)
    return caught.value


def test_a_pdf_is_read_page_by_page(aio: LoopThread, extractor: Extractor) -> None:
    document = read(aio, extractor, documents.pdf(3, marker_page=2), "api-doc.pdf")
    assert (document.kind, document.name, document.title) == (FileKind.PDF, "api-doc.pdf", "Relaygate test PDF")
    assert [part.ref for part in document.parts] == ["page 1", "page 2", "page 3"]
    assert MARKER in document.parts[1].text and MARKER not in document.parts[0].text
    assert "This is page 3" in document.parts[2].text and document.notes == ()
    assert document.stats is not None and document.stats.peak_memory_bytes > 0


def test_a_scanned_pdf_says_it_has_no_text_layer_instead_of_inventing_text(
        aio: LoopThread, extractor: Extractor) -> None:
    document = read(aio, extractor, documents.scanned_pdf(3))
    assert document.parts == () and not document.has_text
    assert document.notes == (
        "This PDF has no text layer (it is probably scanned images): its text could not be read.",)
    partly = read(aio, extractor, documents.scanned_pdf(4, text_pages=(1,)))
    assert [part.ref for part in partly.parts] == ["page 1"] and MARKER in partly.parts[0].text
    assert partly.notes == ("No text layer on pages 2–4 (probably scanned images).",)


def test_a_docx_is_read_by_section_with_its_table_as_markdown(aio: LoopThread, extractor: Extractor) -> None:
    document = read(aio, extractor, documents.docx_file())
    assert (document.kind, document.title) == (FileKind.DOCX, "Domain guide")
    assert [part.ref for part in document.parts] == [
        "section «Introduction»", "section «Adding a domain»", "section «Removing a domain»"]
    adding = document.parts[1].text
    assert adding.startswith("# Adding a domain") and MARKER in adding
    assert "| Field | Type |\n|---|---|\n| name | string |\n| ttl | integer |" in adding


def test_an_xlsx_is_read_sheet_by_sheet_as_markdown_tables(aio: LoopThread, extractor: Extractor) -> None:
    document = read(aio, extractor, documents.xlsx_file(rows=5, sheets=2))
    assert document.kind is FileKind.XLSX
    assert [part.ref for part in document.parts] == ["sheet «Prices» rows 2–6", "sheet «Sheet2» rows 2–2"]
    prices = document.parts[0].text.splitlines()
    assert prices[:3] == ["| Model | Input per 1M | Note |", "|---|---|---|", "| model-0 | 0.5 |  |"]
    assert "| model-3 | 3.5 | marker-cell-Q7 |" in prices
    assert "| key1 | value1 |" in document.parts[1].text


def test_a_large_sheet_is_cut_into_row_ranges_each_with_its_header(aio: LoopThread, extractor: Extractor) -> None:
    document = read(aio, extractor, documents.wide_xlsx(450, columns=3))
    assert [part.ref for part in document.parts] == [
        "sheet «Data» rows 2–201", "sheet «Data» rows 202–401", "sheet «Data» rows 402–451"]
    assert all(part.text.startswith("| col0 | col1 | col2 |") for part in document.parts)
    assert "| 449 | r449c1 | r449c2 |" in document.parts[2].text


def test_an_xls_is_read(aio: LoopThread, extractor: Extractor) -> None:
    document = read(aio, extractor, documents.xls_file())
    assert document.kind is FileKind.XLS
    assert [part.ref for part in document.parts] == ["sheet «Legacy» rows 2–3"]
    assert "| Lisbon | LIS-marker-xls |" in document.parts[0].text


def test_a_pptx_is_read_slide_by_slide_with_tables_and_notes(aio: LoopThread, extractor: Extractor) -> None:
    document = read(aio, extractor, documents.pptx_file(3))
    assert [part.ref for part in document.parts] == ["slide 1", "slide 2", "slide 3"]
    assert document.parts[1].text.startswith("# Slide title 2") and MARKER in document.parts[1].text
    assert "| Region | Latency |\n|---|---|\n| eu-west | 42 ms |" in document.parts[2].text
    assert "Notes: Speaker notes 3" in document.parts[2].text


def test_an_html_page_gives_its_main_text_without_boilerplate(aio: LoopThread, extractor: Extractor) -> None:
    document = read(aio, extractor, documents.html_page())
    text = document.text()
    assert (document.kind, document.title) == (FileKind.HTML, "Domain API & docs")
    assert MARKER in text and "| name | string |" in text and "fifty domains per day" in text
    assert "Cookie settings" not in text and "Sign in" not in text
    assert [part.ref for part in document.parts] == ["section «Adding a domain»", "section «Limits»"]


def test_csv_json_and_plain_text_are_read_with_line_or_row_references(aio: LoopThread, extractor: Extractor) -> None:
    csv = read(aio, extractor, b"city,code\nLisbon,LIS\nOslo,OSL\n")
    assert csv.kind is FileKind.CSV and csv.parts[0].ref == "rows 2–3"
    assert csv.parts[0].text == "| city | code |\n|---|---|\n| Lisbon | LIS |\n| Oslo | OSL |"
    packed = orjson.dumps({"endpoints": [{"path": f"/api/{i}", "marker": MARKER} for i in range(60)]})
    json = read(aio, extractor, packed)
    assert json.kind is FileKind.JSON and len(json.parts) > 1 and json.parts[0].ref == "lines 1–80"
    assert orjson.loads("\n".join(part.text for part in json.parts)) == orjson.loads(packed)
    text = read(aio, extractor, ("\n".join(f"line {i}" for i in range(1, 201))).encode())
    assert [part.ref for part in text.parts] == ["lines 1–80", "lines 81–160", "lines 161–200"]


def test_legacy_encoded_text_is_read_and_says_so(aio: LoopThread, extractor: Extractor) -> None:
    document = read(aio, extractor, "添加域名的接口是 POST /api/domain，请传入域名和证书。".encode("gb18030"))
    assert document.parts[0].text == "添加域名的接口是 POST /api/domain，请传入域名和证书。"
    assert document.notes == ("Read as gb18030 text.",)


@pytest.mark.parametrize(("data", "status", "code"), [
    (documents.zip_bomb_docx(), 413, "archive_too_large"),
    (documents.many_entries_zip(12_000), 413, "archive_too_large"),
    (documents.claims_pages_pdf(10_000_000), 413, "too_many_pages"),
    (documents.blank_pages_pdf(501), 413, "too_many_pages"),
    (documents.elf_executable(), 415, "unsupported_file_type"),
    (documents.mp4_video(), 415, "unsupported_file_type"),
    (os.urandom(10_000), 415, "unsupported_file_type"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 415, "unsupported_file_type"),
    (b"", 415, "empty_file"),
    ("Voilà, très français.".encode("cp1252"), 415, "unsupported_text_encoding"),
    (b"%PDF-1.7\n1 0 obj garbage that is no PDF\n", 422, "unreadable_file"),
])
def test_hostile_and_unreadable_files_are_refused_with_the_rule_they_break(
        data: bytes, status: int, code: str, aio: LoopThread, extractor: Extractor) -> None:
    error = refused(aio, extractor, data)
    assert (error.status, error.code) == (status, code)
    assert MARKER not in error.message


def test_a_damaged_docx_is_unreadable_not_a_crash(aio: LoopThread, extractor: Extractor) -> None:
    data = documents.docx_file()
    damaged = data.replace(b"word/document.xml", b"word/documenX.xml")
    error = refused(aio, extractor, damaged)
    assert isinstance(error, UnsupportedFile | UnreadableFile)
    truncated = data[: len(data) // 2] + data[-200:]
    assert refused(aio, extractor, truncated).status in (415, 422)


def test_row_sheet_and_slide_caps(aio: LoopThread) -> None:
    capped = Extractor(ExtractLimits(max_rows=100, max_sheets=2, max_slides=4, workers=1))
    try:
        for data, code in [(documents.wide_xlsx(101, 3), "too_many_rows"), (documents.xlsx_file(3, sheets=3),
                           "too_many_sheets"), (documents.pptx_file(5), "too_many_slides"),
                           (b"a,b\n" + b"1,2\n" * 101, "too_many_rows")]:
            error = refused(aio, capped, data)
            assert isinstance(error, FileTooLarge) and (error.status, error.code) == (413, code)
        assert len(read(aio, capped, documents.wide_xlsx(99, 3)).parts) == 1
    finally:
        aio.run(capped.close())


def test_an_extraction_past_its_time_is_killed_and_the_next_file_still_reads(aio: LoopThread) -> None:
    slow = Extractor(ExtractLimits(timeout=0.3, workers=1))
    try:
        started = time.monotonic()
        error = refused(aio, slow, documents.wide_xlsx(10_000))
        assert (error.status, error.code) == (413, "extraction_timeout")
        assert time.monotonic() - started < 5
        assert read(aio, slow, b"still working").parts[0].text == "still working"
    finally:
        aio.run(slow.close())


def test_an_extraction_past_its_memory_is_refused(aio: LoopThread) -> None:
    small = Extractor(ExtractLimits(memory_bytes=160 * 1024 * 1024, workers=1))
    try:
        error = refused(aio, small, b"word " * (6 << 20))
        assert (error.status, error.code) == (413, "extraction_memory_exceeded")
        assert read(aio, small, b"small is fine").parts[0].text == "small is fine"
    finally:
        aio.run(small.close())


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(child) for child in listing.read().split()]


def test_a_crashing_parser_is_a_clear_error_and_the_worker_goes_on(aio: LoopThread) -> None:
    crashing = Extractor(ExtractLimits(workers=1))
    aio.run(crashing.warm_up())
    worker_pid = crashing._idle[0].process.pid

    async def crash_mid_extraction() -> FetchRefused:
        task = asyncio.ensure_future(crashing.extract(Upload("big.xlsx", documents.wide_xlsx(10_000))))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if children := _children(worker_pid):
                os.kill(children[0], signal.SIGSEGV)
                break
        with pytest.raises(FetchRefused) as caught:
            await task
        return caught.value

    try:
        error = aio.run(crash_mid_extraction())
        assert (error.status, error.code) == (422, "unreadable_file") and "crashed" in error.message
        assert read(aio, crashing, b"after the crash").parts[0].text == "after the crash"
        assert crashing._idle[0].process.pid == worker_pid
    finally:
        aio.run(crashing.close())


def test_a_dead_worker_is_replaced(aio: LoopThread) -> None:
    fragile = Extractor(ExtractLimits(workers=1))
    try:
        aio.run(fragile.warm_up())
        idle = fragile._idle[0].process
        os.kill(idle.pid, signal.SIGKILL)
        aio.run(idle.wait())
        assert read(aio, fragile, b"a new worker").parts[0].text == "a new worker"

        async def kill_mid_extraction() -> FetchRefused:
            task = asyncio.ensure_future(fragile.extract(Upload("big.xlsx", documents.wide_xlsx(10_000))))
            await asyncio.sleep(0.3)
            os.kill(fragile._busy.copy().pop().process.pid, signal.SIGKILL)
            with pytest.raises(FetchRefused) as caught:
                await task
            return caught.value

        error = aio.run(kill_mid_extraction())
        assert (error.status, error.code) == (422, "unreadable_file")
        assert read(aio, fragile, b"and another").parts[0].text == "and another"
    finally:
        aio.run(fragile.close())


def test_a_heavy_extraction_never_stalls_the_event_loop(aio: LoopThread, extractor: Extractor) -> None:
    async def measure() -> float:
        gaps: list[float] = []
        done = asyncio.Event()

        async def tick() -> None:
            last = time.monotonic()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        big = documents.wide_xlsx(10_000)
        ticker = asyncio.ensure_future(tick())
        started = time.monotonic()
        await asyncio.gather(extractor.extract(Upload("a.xlsx", big)), extractor.extract(Upload("b.xlsx", big)))
        done.set()
        await ticker
        assert time.monotonic() - started > 0.8  # in-loop, this much parsing would have been one long stall
        return max(gaps)

    assert aio.run(measure()) < 0.5


def test_the_worker_gets_none_of_relaygates_secrets(aio: LoopThread, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYGATE_ADMIN_KEY", "sk-admin-must-not-leak")
    isolated = Extractor(ExtractLimits(workers=1))
    try:
        aio.run(isolated.warm_up())
        with open(f"/proc/{isolated._idle[0].process.pid}/environ", "rb") as environ:
            assert b"sk-admin-must-not-leak" not in environ.read()
    finally:
        aio.run(isolated.close())


def test_extraction_runs_at_a_lower_priority_than_relaying(aio: LoopThread, extractor: Extractor) -> None:
    read(aio, extractor, b"one line of text")  # a worker exists once a file was read
    worker = extractor._idle[0].process.pid
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, worker) == min(ours + NICENESS, 19)
