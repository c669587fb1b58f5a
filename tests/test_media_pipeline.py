"""Audio and image operations in-process over the mock transport: n images reserved and what came back billed,
unusable first bytes retried on the next channel, a held answer's last piece sent after its charge is stored."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest

from relaygate.providers.base import UpstreamRequest
from tests.media import quota
from tests.mock_transport import Reply
from tests.test_pipeline import Harness, Sink, run_scenario

OPENAI_CH = {"type": "openai", "base_url": "http://openai.test", "models": ["dall-e-2", "gpt-image-1", "tts-1",
                                                                            "gpt-4o-mini-tts"]}
SECOND_CH = {**OPENAI_CH, "base_url": "http://second.test", "priority": -1}


_run = run_scenario


def _images(n: int, *, usage: dict[str, Any] | None = None, size: int = 8) -> bytes:
    answer: dict[str, Any] = {"created": 1, "data": [{"b64_json": base64.b64encode(bytes(size)).decode()}] * n}
    if usage is not None:
        answer["usage"] = usage
    return orjson.dumps(answer)


def test_n_images_are_reserved_and_what_came_back_is_billed(tmp_path: Path) -> None:
    held: list[int] = []

    def handler(req: UpstreamRequest) -> Reply:
        held.append(harness[0].balance())
        return Reply(chunks=[_images(2)[:40], _images(2)[40:]])

    harness: list[Harness] = []

    async def scenario(h: Harness) -> None:
        harness.append(h)
        start = h.balance()
        sink = await h.call("image_generations", {"model": "dall-e-2", "prompt": "a fox", "n": 4, "size": "512x512",
                                                  "response_format": "b64_json"})
        assert sink.sent[0][0] == 200 and len(orjson.loads(sink.sent[0][1])["data"]) == 2
        assert held == [start - quota(4 * 0.018)]
        await h.ledger.drain()
        assert start - h.balance() == quota(2 * 0.018)
        assert (h.logs()[-1]["images"], h.logs()[-1]["cost"]) == (2, quota(2 * 0.018))

    _run(tmp_path, handler, [OPENAI_CH], scenario)


def test_a_gpt_image_answer_without_usage_is_billed_for_the_tokens_its_images_take(tmp_path: Path) -> None:
    def handler(req: UpstreamRequest) -> Reply:
        return Reply(chunks=[_images(1)])

    async def scenario(h: Harness) -> None:
        start = h.balance()
        await h.call("image_generations", {"model": "gpt-image-1", "prompt": "a fox", "n": 2, "quality": "low",
                                           "size": "1024x1024"})
        await h.ledger.drain()
        row = h.logs()[-1]
        assert (row["images"], row["completion_tokens"]) == (1, 272)
        assert start - h.balance() == row["cost"] > quota(272 * 40e-6)

    _run(tmp_path, handler, [OPENAI_CH], scenario)


@pytest.mark.parametrize("reply", [
    Reply(chunks=[b"\xff\xfb" * 10], broken_after=0, content_type="audio/mpeg"),
    Reply(chunks=[], content_type="audio/mpeg"),
])
def test_speech_that_breaks_before_its_first_bytes_is_retried_on_the_next_channel(tmp_path: Path,
                                                                                  reply: Reply) -> None:
    def handler(req: UpstreamRequest) -> Reply:
        if req.url.startswith("http://openai.test"):
            return reply
        return Reply(chunks=[b"ID3", b"\xff\xfb" * 100], content_type="audio/mpeg")

    async def scenario(h: Harness) -> None:
        sink = await h.call("speech", {"model": "tts-1", "input": "hello", "voice": "alloy"})
        assert b"".join(sink.written) + (sink.closed_with or b"") == b"ID3" + b"\xff\xfb" * 100
        assert [r.url.split("/")[2] for r in h.transport.requests] == ["openai.test", "second.test"]
        await h.ledger.drain()
        assert h.logs()[-1]["status"] == 200 and h.logs()[-1]["characters"] == 5

    _run(tmp_path, handler, [OPENAI_CH, SECOND_CH], scenario)


def test_an_sse_speech_stream_opening_with_an_error_is_retried(tmp_path: Path) -> None:
    done = b'data: {"type":"speech.audio.done","usage":{"input_tokens":2,"output_tokens":9,"total_tokens":11}}\n\n'

    def handler(req: UpstreamRequest) -> Reply:
        if req.url.startswith("http://openai.test"):
            return Reply(chunks=[b'data: {"type":"error","error":{"message":"overloaded"}}\n\n'],
                         content_type="text/event-stream")
        return Reply(chunks=[b'data: {"type":"speech.audio.delta","audio":"AAAA"}\n\n', done],
                     content_type="text/event-stream")

    async def scenario(h: Harness) -> None:
        sink = await h.call("speech", {"model": "gpt-4o-mini-tts", "input": "hello", "voice": "alloy",
                                       "stream_format": "sse"})
        assert sink.closed_with == done and len(h.transport.requests) == 2
        await h.ledger.drain()
        row = h.logs()[-1]
        assert (row["prompt_tokens"], row["completion_tokens"], row["characters"]) == (2, 9, 0)

    _run(tmp_path, handler, [OPENAI_CH, SECOND_CH], scenario)


def test_an_images_answer_that_is_not_one_is_retried(tmp_path: Path) -> None:
    def handler(req: UpstreamRequest) -> Reply:
        if req.url.startswith("http://openai.test"):
            return Reply(chunks=[b"<html>bad gateway</html>"], content_type="text/html")
        return Reply(chunks=[_images(1)])

    async def scenario(h: Harness) -> None:
        sink = await h.call("image_generations", {"model": "dall-e-2", "prompt": "a fox"})
        assert sink.sent[0][0] == 200 and len(h.transport.requests) == 2 and h.transport.responses[0].released

    _run(tmp_path, handler, [OPENAI_CH, SECOND_CH], scenario)


def test_a_large_held_answer_goes_out_in_pieces_its_last_after_the_charge(tmp_path: Path) -> None:
    answer = _images(1, size=3_000_000, usage={"input_tokens": 4, "output_tokens": 272, "total_tokens": 276,
                                              "input_tokens_details": {"text_tokens": 4, "image_tokens": 0}})
    cut = len(answer) // 3

    def handler(req: UpstreamRequest) -> Reply:
        return Reply(chunks=[answer[:cut], answer[cut:2 * cut], answer[2 * cut:]])

    async def scenario(h: Harness) -> None:
        start = h.balance()
        sink = Sink(h.balance)
        await h.call("image_generations", {"model": "gpt-image-1", "prompt": "a fox", "quality": "low"}, sink)
        assert b"".join(sink.written) + (sink.closed_with or b"") == answer
        assert [len(piece) for piece in sink.written[:2]] == [1024 * 1024] * 2 and len(sink.written) == 3
        assert len(sink.closed_with or b"") == 1024 * 1024
        assert sink.balance_at_end == h.balance() == start - quota(4 * 5e-6 + 272 * 40e-6)

    _run(tmp_path, handler, [OPENAI_CH], scenario)
