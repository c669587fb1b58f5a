"""Spooled uploads and the rebuilt form, and what audio and image answers report: pure pieces tested alone."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaygate.core.types import Usage
from relaygate.protocols.content import trailing_usage
from relaygate.protocols.media_answers import ImageItems, MediaEvents, token_usage, transcription_usage
from relaygate.relay import forms
from relaygate.relay.forms import Spool, read_form
from tests.upstreams.media_form import parse_multipart


@dataclass
class _Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None
    _at: int = 0

    async def read_chunk(self) -> bytes:
        piece = self.data[self._at:self._at + 7000]
        self._at += len(piece)
        return piece


class _Body:
    """A multipart body as the front door hands it over: its parts, read piece by piece."""

    content_type = "multipart/form-data"

    def __init__(self, parts: list[_Part]) -> None:
        self._parts = parts

    async def read(self, limit: int) -> bytes:
        raise AssertionError("a form is never read whole")

    async def parts(self, limit: int) -> AsyncIterator[_Part]:
        for part in self._parts:
            yield part


async def _collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


def test_a_small_file_stays_in_memory_and_a_large_one_goes_to_a_temporary_file() -> None:
    async def main() -> None:
        small, large = Spool(), Spool()
        await small.write(b"x" * 1000)
        data = bytes(range(256)) * (forms.SPOOL_IN_MEMORY // 256 * 3 + 1)
        for at in range(0, len(data), 65536):
            await large.write(data[at:at + 65536])
        await small.finish()
        await large.finish()
        assert not small.on_disk and large.on_disk and large.size == len(data)
        assert await _collect(small.chunks()) == b"x" * 1000
        assert await _collect(large.chunks()) == data == await _collect(large.chunks())

        def seen(source: bytes | IO[bytes]) -> int:
            return len(source) if isinstance(source, bytes) else len(source.read())

        assert await small.inspect(seen) == 1000 and await large.inspect(seen) == len(data)
        large.close()
        assert await _collect(large.chunks()) == b""

    asyncio.run(main())


def test_the_rebuilt_form_keeps_every_field_in_order_and_says_the_upstream_model() -> None:
    big = bytes(range(256)) * 9000
    parts = [_Part("prompt", "a “quoted” \\ prompt".encode()), _Part("model", b"my-model"),
             _Part("image[]", big, 'odd "name"\\ 語.png', "image/png"), _Part("image[]", b"\x89PNG", "b%22.png"),
             _Part("n", b"2"), _Part("n", b"3")]

    async def main() -> None:
        with ExitStack() as resources:
            form = await read_form(_Body(parts), 10**8, resources)
            assert form.text("n") == "3" and [f.name for f in form.files("image[]")] == ["image[]"] * 2
            for _ in range(2):  # every attempt gets the whole form again
                upload = form.upload("gpt-image-1")
                body = await _collect(upload.content)  # type: ignore[arg-type]
                assert upload.length == len(body)
                got = await parse_multipart(body, upload.content_type)
                assert [(p.name, p.data, p.filename, p.content_type) for p in got] == [
                    ("prompt", parts[0].data, None, None), ("model", b"gpt-image-1", None, None),
                    ("image[]", big, 'odd "name"\\ 語.png', "image/png"), ("image[]", b"\x89PNG", "b%22.png", None),
                    ("n", b"2", None, None), ("n", b"3", None, None)]
            spool = form.files("image[]")[0].spool
            assert spool is not None and spool.on_disk
        assert await _collect(spool.chunks()) == b"", "the spools are closed with the request"

    asyncio.run(main())


def test_a_form_without_a_model_gets_one_first() -> None:
    async def main() -> None:
        with ExitStack() as resources:
            form = await read_form(_Body([_Part("file", b"RIFF", "a.wav")]), 10**6, resources)
            upload = form.upload("whisper-1")
            got = await parse_multipart(await _collect(upload.content), upload.content_type)  # type: ignore[arg-type]
            assert [(p.name, p.data) for p in got] == [("model", b"whisper-1"), ("file", b"RIFF")]

    asyncio.run(main())


def _answer(n: int, prompt: str) -> bytes:
    items = [{"url": f"https://x/{i}", "revised_prompt": prompt} if i % 2 else {"b64_json": "QUJD" * 50}
             for i in range(n)]
    return orjson.dumps({"created": 1, "data": items, "usage": {"input_tokens": 1, "output_tokens": 2}})


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 6), prompt=st.sampled_from(['"url": "b64_json"', 'say "url"  :', "plain"]),
       cuts=st.lists(st.integers(0, 1200), max_size=6))
def test_images_are_counted_however_the_answer_is_cut(n: int, prompt: str, cuts: list[int]) -> None:
    raw = _answer(n, prompt)
    items = ImageItems()
    edges = [0, *sorted(c for c in cuts if c < len(raw)), len(raw)]
    for start, end in itertools.pairwise(edges):
        items.feed(raw[start:end])
    assert items.count == n


def test_spaced_keys_are_counted_once_across_a_cut() -> None:
    raw = b'{"data":[{"url"   \n  : "a"},{"b64_json":"QQ=="}]}'
    for cut in range(len(raw)):
        items = ImageItems()
        items.feed(raw[:cut])
        items.feed(raw[cut:])
        assert items.count == 2, cut


def test_trailing_usage_reads_a_buffer_without_copying_it_whole() -> None:
    raw = bytearray(b'  {"data":[{"b64_json":"' + b"A" * 5000 + b'"}],"usage":{"input_tokens":3,"output_tokens":4}}')
    assert trailing_usage(raw) == {"input_tokens": 3, "output_tokens": 4}
    assert trailing_usage(bytearray(b'["usage",{"usage":{}}]')) is None


def test_usage_objects_are_read_only_when_they_are_counts() -> None:
    assert token_usage({"input_tokens": 969 + 5, "output_tokens": 272,
                        "input_tokens_details": {"text_tokens": 5, "image_tokens": 969}}) == Usage(
        prompt_tokens=974, completion_tokens=272, image_tokens=969)
    assert token_usage({"input_tokens": -1, "output_tokens": 3}) is None
    assert token_usage({"input_tokens": True}) is None and token_usage("12") is None
    assert transcription_usage({"type": "duration", "seconds": 4}) == Usage(seconds=4.0)
    for bad in (-1, float("nan"), 10**9, True, "4"):
        assert transcription_usage({"type": "duration", "seconds": bad}) is None
    assert transcription_usage({"type": "tokens", "input_tokens": 20, "output_tokens": 5}) == Usage(20, 5)


def _event(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


@pytest.mark.parametrize("cut", [0, 1, 17, 40, 80, 200])
def test_media_events_pass_deltas_as_bytes_and_stop_at_done_with_its_usage(cut: int) -> None:
    stream = (_event({"type": "transcript.text.delta", "delta": 'the "error" of it'})
              + _event({"type": "transcript.text.done", "text": "x", "usage": {"type": "duration", "seconds": 3}}))
    events = MediaEvents(("transcript.text.done",), transcription_usage)
    out = events.feed(stream[:cut]) + events.feed(stream[cut:])
    assert out == stream and events.finished and events.usage == Usage(seconds=3.0) and events.failure is None


def test_an_error_event_is_a_failure_and_is_not_relayed() -> None:
    events = MediaEvents(("speech.audio.done",), token_usage)
    delta = _event({"type": "speech.audio.delta", "audio": "AAAA"})
    out = events.feed(delta + _event({"type": "error", "error": {"message": "overloaded"}}))
    assert out == delta and events.failure == "overloaded" and not events.finished
    other = MediaEvents(("speech.audio.done",), token_usage)
    assert other.feed(b": keep-alive\n\n" + _event({"error": "gone"})) == b": keep-alive\n\n"
    assert other.failure == "gone"


def test_an_upload_read_in_a_thread_can_be_any_binary_file() -> None:
    from relaygate.protocols.audio import duration_seconds
    from tests.upstreams.media_bytes import wav

    assert duration_seconds(io.BytesIO(wav(1.5)), filename="x.wav") == 1.5
