"""Multipart uploads relayed field for field: text fields kept as they came, files spooled (in memory up to a small
threshold, then in an anonymous temporary file), and the form rebuilt as a streamed body for each attempt — so an
upload is held once, whatever its size, and every field reaches the upstream in its order, repeats kept."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, TypeVar

from relaygate.core.errors import BadRequest
from relaygate.providers.base import Upload
from relaygate.relay.body import RequestBody

SPOOL_IN_MEMORY = 1024 * 1024
"""Bytes of one file kept in memory; a larger file goes to a temporary file (a form of small files stays in RAM)."""
_FLUSH = 1024 * 1024
"""Bytes gathered before one write to the temporary file (a thread hand-off each)."""
_READ = 256 * 1024
"""Bytes read from the temporary file at a time while the body goes upstream."""
_ESCAPES = {'"': '\\"', "\\": "\\\\", **{chr(c): f"%{c:02X}" for c in range(0x20)}}
_ESCAPED = re.compile("|".join(re.escape(c) for c in _ESCAPES))
"""A name or file name in a part's Content-Disposition, written back as the client wrote it: the front door's
parser unescaped `\\"` and `\\\\` (httpx and browsers send `%22`, kept as it is), and a header holds no control
characters."""

T = TypeVar("T")


class Spool:
    """One uploaded file's bytes, written once as they arrive and read back as often as attempts need them."""

    __slots__ = ("_closed", "_file", "_memory", "_pending", "size")

    def __init__(self) -> None:
        self._memory = bytearray()
        self._pending = bytearray()
        self._file: IO[bytes] | None = None
        self._closed = False
        self.size = 0

    @property
    def on_disk(self) -> bool:
        return self._file is not None

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is None:
            self._memory += data
            if len(self._memory) <= SPOOL_IN_MEMORY:
                return
            self._file = await asyncio.to_thread(tempfile.TemporaryFile)
            self._pending, self._memory = self._memory, bytearray()
        else:
            self._pending += data
        if len(self._pending) >= _FLUSH:
            await self._flush()

    async def finish(self) -> None:
        """Everything written is readable (the last bytes reach the temporary file)."""
        if self._file is not None and self._pending:
            await self._flush()

    async def _flush(self) -> None:
        file, data = self._file, self._pending
        assert file is not None
        self._pending = bytearray()
        await asyncio.to_thread(_write_all, file, data)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes from its start, read a piece at a time (the temporary file through a thread)."""
        if self._closed:
            return
        if self._file is None:
            yield bytes(self._memory)
            return
        fd, offset = self._file.fileno(), 0
        while offset < self.size and not self._closed:
            piece = await asyncio.to_thread(os.pread, fd, min(_READ, self.size - offset), offset)
            if not piece:
                raise OSError("a spooled upload ended early")
            offset += len(piece)
            yield piece

    async def inspect(self, reader: Callable[[bytes | IO[bytes]], T]) -> T:
        """`reader` over the file's bytes or its open temporary file (from its start), in a thread (a parser may
        be slow)."""
        if self._file is None:
            return await asyncio.to_thread(reader, bytes(self._memory))
        return await asyncio.to_thread(_from_start, reader, self._file)

    def close(self) -> None:
        self._closed = True
        self._memory = bytearray()
        if self._file is not None:
            self._file.close()


def _from_start(reader: Callable[[bytes | IO[bytes]], T], file: IO[bytes]) -> T:
    file.seek(0)
    return reader(file)


def _write_all(file: IO[bytes], data: bytearray) -> None:
    file.write(data)
    file.flush()


@dataclass(slots=True)
class FormField:
    """One part of a client's form: a text field (`value`) or a file (`spool`), with its name as sent."""

    name: str
    filename: str | None
    content_type: str | None
    value: bytes = b""
    spool: Spool | None = None

    @property
    def is_file(self) -> bool:
        return self.spool is not None

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", errors="replace")

    @property
    def size(self) -> int:
        return self.spool.size if self.spool is not None else len(self.value)


class UploadForm:
    """A client's multipart form as it came: every field in order, its files spooled."""

    def __init__(self, fields: list[FormField]) -> None:
        self.fields = fields

    def text(self, name: str) -> str | None:
        """The last text value of `name` (as a form parser reads a single field), None when absent."""
        found = [f for f in self.fields if f.name == name and not f.is_file]
        return found[-1].text if found else None

    def texts(self) -> dict[str, str]:
        """Every text field's last value by name."""
        return {f.name: f.text for f in self.fields if not f.is_file}

    def files(self, *names: str) -> list[FormField]:
        return [f for f in self.fields if f.is_file and f.name in names]

    def has_text(self, name: str) -> bool:
        return any(f.name == name and not f.is_file for f in self.fields)

    def upload(self, model: str) -> Upload:
        """The form as a body for one attempt, `model` fields saying the upstream's name for the model (one is put
        first if the client sent none); a new stream over the spools each time."""
        fields = [FormField(f.name, None, f.content_type, model.encode()) if f.name == "model" and not f.is_file
                  else f for f in self.fields]
        if not any(f.name == "model" and not f.is_file for f in fields):
            fields.insert(0, FormField("model", None, None, model.encode()))
        boundary = "relaygate-" + secrets.token_hex(16)
        heads = [_part_head(boundary, f) for f in fields]
        closing = f"--{boundary}--\r\n".encode()
        length = sum(len(h) + f.size + 2 for h, f in zip(heads, fields, strict=True)) + len(closing)
        return Upload(f"multipart/form-data; boundary={boundary}", _body(heads, fields, closing), length)

    def close(self) -> None:
        for f in self.fields:
            if f.spool is not None:
                f.spool.close()


def _quoted(value: str) -> str:
    return _ESCAPED.sub(lambda m: _ESCAPES[m.group(0)], value)


def _part_head(boundary: str, field: FormField) -> bytes:
    disposition = f'form-data; name="{_quoted(field.name)}"'
    if field.filename is not None:
        disposition += f'; filename="{_quoted(field.filename)}"'
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
    if field.content_type:
        head += f"Content-Type: {field.content_type}\r\n"
    return (head + "\r\n").encode()


async def _body(heads: list[bytes], fields: list[FormField], closing: bytes) -> AsyncIterator[bytes]:
    for head, field in zip(heads, fields, strict=True):
        if field.spool is None:
            yield head + field.value + b"\r\n"
            continue
        yield head
        async for piece in field.spool.chunks():
            yield piece
        yield b"\r\n"
    yield closing


async def read_form(body: RequestBody, limit: int, resources: ExitStack) -> UploadForm:
    """The client's form, field for field, its files spooled; BodyTooLarge as soon as it passes `limit` bytes,
    BadRequest when it is not a multipart form. The spools are closed with `resources`."""
    form = UploadForm([])
    resources.callback(form.close)
    async for part in body.parts(limit):
        if not part.name:
            raise BadRequest("Every field of the multipart form needs a name.")
        field = FormField(part.name, part.filename, part.content_type)
        form.fields.append(field)
        if part.filename is None:
            value = bytearray()
            while chunk := await part.read_chunk():
                value += chunk
            field.value = bytes(value)
            continue
        spool = field.spool = Spool()
        while chunk := await part.read_chunk():
            await spool.write(chunk)
        await spool.finish()
    return form
