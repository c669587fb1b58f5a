"""OpenAI streams relayed as bytes: only usage, error and [DONE] events are parsed; the text is kept for local
counting; forced usage is hidden from a client that did not ask for it."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from relaygate.providers.openai import OpenAIStream


def _sse(*payloads: object) -> bytes:
    return b"".join(b"data: " + (p if isinstance(p, bytes) else orjson.dumps(p)) + b"\n\n" for p in payloads)


def _delta(text: str, **extra: Any) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}],
            **extra}


def test_openai_stream_relays_events_unchanged_and_keeps_their_text_for_local_counting() -> None:
    call = {"index": 0, "id": "t", "type": "function", "function": {"name": "f", "arguments": "{\"a\":"}}
    events = [_delta("Hel"), _delta("lo"), {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]},
              _delta('"usage"')]  # a text that is the word in quotes is text, relayed the same
    stream = OpenAIStream(strip_usage=False)
    raw = _sse(*events)
    relayed = stream.feed(raw[:37]) + stream.feed(raw[37:]) + stream.feed(b"data: [DONE]\n\n")
    assert relayed == raw and stream.finished and stream.usage is None
    assert stream.generated_text() == 'Hellof{"a":"usage"'


def test_openai_stream_reads_usage_and_errors_at_once_and_strips_forced_usage() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    stream = OpenAIStream(strip_usage=True)
    relayed = stream.feed(_sse(_delta("a"), _delta("b"), {"id": "c", "choices": [], "usage": usage}))
    assert relayed == _sse(_delta("a"), _delta("b"))  # the usage chunk the client did not ask for is hidden
    assert stream.usage is not None and (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (3, 2)
    assert stream.generated_text() == "ab"
    broken = OpenAIStream(strip_usage=False)
    assert broken.feed(_sse(_delta("x"), {"error": {"message": "overloaded"}})) == _sse(_delta("x"))
    assert broken.failure == "overloaded"


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.text(max_size=12), min_size=1, max_size=8), cuts=st.lists(st.integers(0, 400), max_size=4))
def test_openai_stream_relays_any_text_as_bytes_and_counts_it_decoded(texts: list[str], cuts: list[int]) -> None:
    # OpenAI's own shape with include_usage: `"usage":null` on every chunk, the usage chunk last
    events = [_delta(t, usage=None) for t in texts]
    raw = _sse(*events, {"id": "c", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 9}})
    stream = OpenAIStream(strip_usage=False)
    relayed, at = b"", 0
    for cut in [*sorted(c for c in cuts if c < len(raw)), len(raw)]:
        relayed += stream.feed(raw[at:cut])
        at = cut
    relayed += stream.feed(b"data: [DONE]\n\n")
    assert relayed == raw and stream.finished
    assert stream.usage is not None and stream.usage.completion_tokens == 9
    assert stream.generated_text() == "".join(texts)


def test_openai_stream_takes_only_real_markers_and_reads_what_follows_one() -> None:
    tricky = [_delta("data: [DONE] is text"), _delta('{"error": 1}'), _delta("\\\"usage\\\":{")]
    stream = OpenAIStream(strip_usage=True)
    relayed = stream.feed(_sse(*tricky).replace(b"\n\n", b"\r\n\r\n"))  # CRLF framing is read too
    assert not stream.finished and stream.failure is None and stream.usage is None
    assert [orjson.loads(e[6:]) for e in relayed.split(b"\n\n")[:-1]] == tricky
    assert stream.generated_text() == 'data: [DONE] is text{"error": 1}\\"usage\\":{'
    # after a real usage chunk, the events are read one by one: a later error still ends the stream
    stream.feed(_sse({"id": "c", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}))
    assert stream.usage is not None
    assert stream.feed(_sse(_delta("late"), {"error": "gone"})) == _sse(_delta("late"))
    assert stream.failure == "gone"


def test_openai_stream_counts_text_that_is_not_valid_json_as_it_came() -> None:
    stream = OpenAIStream(strip_usage=False)
    relayed = stream.feed(b'data: {"choices":[{"delta":{"content":"a\tb\\x"}}]}\n\n')
    assert relayed.startswith(b"data: ") and stream.generated_text() == "a\tb\\x"

