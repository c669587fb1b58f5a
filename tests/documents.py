"""Real documents made in the tests, each carrying known marker sentences, and hostile files built on purpose."""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

import docx
import openpyxl
import pptx
import xlwt
from fpdf import FPDF
from pptx.util import Inches
from pypdf import PdfWriter

MARKER = "The domain API is POST /api/domain and it needs a name."


def pdf(pages: int = 3, *, marker_page: int = 2, filler: int = 4) -> bytes:
    """A text PDF; page `marker_page` carries MARKER, every page says its number (in `filler` sentences)."""
    doc = FPDF()
    doc.set_font("Helvetica", size=11)
    doc.set_title("Relaygate test PDF")
    for number in range(1, pages + 1):
        doc.add_page()
        doc.multi_cell(0, 6, f"This is page {number} of the sample. Filler sentence about clouds and rivers. " * filler,
                       new_x="LMARGIN", new_y="NEXT")
        if number == marker_page:
            doc.multi_cell(0, 6, MARKER, new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())


def scanned_pdf(pages: int = 2, text_pages: tuple[int, ...] = ()) -> bytes:
    """A PDF whose pages hold only drawings (what a scan looks like to a text extractor), but `text_pages`."""
    doc = FPDF()
    doc.set_font("Helvetica", size=11)
    for number in range(1, pages + 1):
        doc.add_page()
        if number in text_pages:
            doc.multi_cell(0, 6, f"Typed page {number}. {MARKER}")
        else:
            doc.set_fill_color(120, 120, 120)
            doc.rect(20, 20, 150, 200, style="F")
    return bytes(doc.output())


def blank_pages_pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def claims_pages_pdf(count: int) -> bytes:
    """A tiny hand-made PDF whose page tree claims `count` pages (the cheap way to ask for a huge walk)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count " + str(count).encode() + b" >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    body = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    body += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return body


def _save(document: object) -> bytes:
    out = io.BytesIO()
    document.save(out)  # type: ignore[attr-defined]
    return out.getvalue()


def docx_file() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Domain guide"
    document.add_heading("Introduction", level=1)
    document.add_paragraph("This guide explains the relaygate test service.")
    document.add_heading("Adding a domain", level=1)
    document.add_paragraph(MARKER)
    table = document.add_table(rows=3, cols=2)
    for row, (field, kind) in enumerate([("Field", "Type"), ("name", "string"), ("ttl", "integer")]):
        table.cell(row, 0).text = field
        table.cell(row, 1).text = kind
    document.add_heading("Removing a domain", level=1)
    document.add_paragraph("DELETE /api/domain/{name} removes it.")
    return _save(document)


def xlsx_file(rows: int = 5, sheets: int = 2) -> bytes:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Prices"
    first.append(["Model", "Input per 1M", "Note"])
    for i in range(rows):
        first.append([f"model-{i}", 0.5 + i, "marker-cell-Q7" if i == 3 else ""])
    for n in range(1, sheets):
        extra = workbook.create_sheet(f"Sheet{n + 1}")
        extra.append(["Key", "Value"])
        extra.append([f"key{n}", f"value{n}"])
    return _save(workbook)


@functools.cache
def wide_xlsx(rows: int, columns: int = 8) -> bytes:
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Data")
    sheet.append([f"col{c}" for c in range(columns)])
    for r in range(rows):
        sheet.append([f"r{r}c{c}" if c else r for c in range(columns)])
    return _save(workbook)


def xls_file() -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Legacy")
    for row, values in enumerate([("City", "Code"), ("Lisbon", "LIS-marker-xls"), ("Oslo", "OSL")]):
        for col, value in enumerate(values):
            sheet.write(row, col, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pptx_file(slides: int = 3) -> bytes:
    presentation = pptx.Presentation()
    for number in range(1, slides + 1):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        assert slide.shapes.title is not None
        slide.shapes.title.text = f"Slide title {number}"
        body = slide.placeholders[1]
        body.text = MARKER if number == 2 else f"Body text of slide {number}."  # type: ignore[attr-defined]
        if number == 3:
            shape = slide.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1))
            table = shape.table
            table.cell(0, 0).text, table.cell(0, 1).text = "Region", "Latency"
            table.cell(1, 0).text, table.cell(1, 1).text = "eu-west", "42 ms"
        slide.notes_slide.notes_text_frame.text = f"Speaker notes {number}"  # type: ignore[union-attr]
    return _save(presentation)


def html_page() -> bytes:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Domain API &amp; docs</title></head><body>
<nav><a href="/">Home</a> | <a href="/pricing">Pricing</a> | Sign in</nav>
<article><h1>Adding a domain</h1><p>{MARKER}</p>
<p>The request body is JSON with the fields shown below; the answer is the created domain.</p>
<table><tr><th>Field</th><th>Type</th></tr><tr><td>name</td><td>string</td></tr></table>
<h2>Limits</h2><p>Each account may add up to fifty domains per day.</p></article>
<footer>Copyright 2026 Example Corp. Privacy policy. Terms of use. Cookie settings.</footer></body></html>""".encode()


def _zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip from (name, raw deflate data, crc32, uncompressed size) entries, written by hand."""
    out = bytearray()
    directory = bytearray()
    for name, data, crc, size in entries:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0)
        out += encoded + data
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size,
                                 len(encoded), 0, 0, 0, 0, 0, offset)
        directory += encoded
    start = len(out)
    out += directory
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), start, 0)
    return bytes(out)


def _deflated(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def zip_bomb_docx(inflated: int = 1 << 30) -> bytes:
    """A real DOCX plus one member of `inflated` zero bytes, about 1 MB compressed for 1 GiB: a zip bomb."""
    entries = []
    with zipfile.ZipFile(io.BytesIO(docx_file())) as real:
        for info in real.infolist():
            raw = real.read(info)
            entries.append((info.filename, _deflated(raw), zlib.crc32(raw), len(raw)))
    chunk = b"\x00" * (1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    # After a full flush the compressor starts afresh, so every further MiB of zeros compresses to the same bytes.
    first = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    repeat = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    count = inflated // len(chunk)
    stream = first + repeat * (count - 1) + packer.flush()
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    entries.append(("word/media/padding.bin", stream, crc, count * len(chunk)))
    return _zip(entries)


def many_entries_zip(entries: int) -> bytes:
    empty = _deflated(b"")
    files = [("[Content_Types].xml", _deflated(b"<Types/>"), zlib.crc32(b"<Types/>"), 8)]
    files += [(f"word/part{i}.xml", empty, 0, 0) for i in range(entries)]
    files.append(("word/document.xml", empty, 0, 0))
    return _zip(files)


def elf_executable() -> bytes:
    with open("/bin/true", "rb") as binary:
        return binary.read()


def pe_executable() -> bytes:
    header = bytearray(b"MZ" + b"\x90" * 62)
    header[0x3C:0x40] = (64).to_bytes(4, "little")
    return bytes(header) + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200


def mp4_video() -> bytes:
    return b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 500
