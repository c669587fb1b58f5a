"""The seam's pins and keeps, in-process over the mock transport: a request continuing an earlier one (a stored
response) goes only to the channel that made it and only for the key that made it; what an answer leaves in the
store is written with its settlement (before its last byte), and never for a broken answer."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

import orjson
import pytest

from relaygate.admin import schemas as s
from relaygate.core.errors import BadRequest, NotFound, ServiceUnavailable, UpstreamFailed
from relaygate.providers.base import UpstreamRequest
from relaygate.relay.response_memory import ResponseMemory
from tests.mock_transport import Reply
from tests.test_pipeline import Harness, Sink, run  # noqa: F401 -- `run` is the harness fixture

CHANNELS = [{"type": "openai", "base_url": f"http://{name}.test", "models": ["gpt-4o-mini"], "priority": priority}
            for name, priority in (("a", 0), ("b", 10))]
"""b comes first in routing; a request made on a (b failed) must stay on a."""


def _answering(failing_first: str | None = None) -> Any:
    ids = itertools.count(1)
    failed: list[str] = []

    def handler(req: UpstreamRequest) -> Reply:
        host = req.url.split("/")[2]
        if host == failing_first and not failed:
            failed.append(host)
            return Reply(status=500, chunks=[b'{"error": {"message": "down"}}'])
        if req.method == "GET":
            return Reply(chunks=[orjson.dumps({"id": req.url.rsplit("/", 1)[1], "object": "response"})])
        body = {"id": f"resp_{next(ids)}", "object": "response", "status": "completed",
                "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}}
        if isinstance(req.body, bytes) and orjson.loads(req.body).get("stream"):
            events = [{"type": "response.created", "response": {**body, "status": "in_progress", "usage": None},
                       "sequence_number": 0},
                      {"type": "response.output_text.delta", "delta": "hi", "sequence_number": 1},
                      {"type": "response.completed", "response": body, "sequence_number": 2}]
            return Reply(chunks=[b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n"
                                 for e in events], content_type="text/event-stream", broken_after=2)
        return Reply(chunks=[orjson.dumps(body)])

    return handler


def _kept(h: Harness) -> list[dict[str, Any]]:
    with h.db.engine.begin() as conn:
        return [dict(r) for r in conn.exec_driver_sql("SELECT * FROM kept_responses").mappings()]


def test_a_follow_up_goes_only_to_the_channel_that_made_what_it_continues(run: Any) -> None:  # noqa: F811
    async def scenario(h: Harness) -> None:
        made = orjson.loads((await h.call("responses", {"model": "gpt-4o-mini", "input": "hi"})).sent[0][1])
        assert [r.url.split("/")[2] for r in h.transport.requests] == ["b.test", "a.test"]
        follow = {"model": "gpt-4o-mini", "input": "again", "previous_response_id": made["id"]}
        for _ in range(3):
            await h.call("responses", follow)
            await h.call("responses.retrieve", None, params={"response_id": made["id"]})
        assert {r.url.split("/")[2] for r in h.transport.requests[2:]} == {"a.test"}
        assert h.transport.requests[-1].method == "GET" and h.transport.requests[-1].body is None

    run(_answering(failing_first="b.test"), CHANNELS, scenario)


def test_another_key_gets_the_pins_refusal_and_reaches_no_upstream(run: Any) -> None:  # noqa: F811
    async def scenario(h: Harness) -> None:
        made = orjson.loads((await h.call("responses", {"model": "gpt-4o-mini", "input": "hi"})).sent[0][1])
        other = (await h.operator.create_key(s.KeyIn(user_id=h.user_id))).key
        await h.catalogs.reload()
        asked = len(h.transport.requests)
        with pytest.raises(BadRequest, match="Previous response with id"):
            await h.call("responses", {"model": "gpt-4o-mini", "input": "x", "previous_response_id": made["id"]},
                         key=other)
        with pytest.raises(NotFound, match=f"Response with id '{made['id']}' not found"):
            await h.call("responses.retrieve", None, key=other, params={"response_id": made["id"]})
        assert len(h.transport.requests) == asked
        await h.ledger.drain()
        assert [r["status"] for r in h.logs()[-2:]] == [400, 404]

    run(_answering(), CHANNELS, scenario)


def test_a_pinned_channel_that_is_gone_is_said_so(run: Any) -> None:  # noqa: F811
    async def scenario(h: Harness) -> None:
        made = orjson.loads((await h.call("responses", {"model": "gpt-4o-mini", "input": "hi"})).sent[0][1])
        await h.operator.update_channel(2, s.ChannelPatch(models=["gpt-4o"]))
        await h.catalogs.reload()
        with pytest.raises(ServiceUnavailable, match="no longer serves 'gpt-4o-mini'"):
            await h.call("responses.retrieve", None, params={"response_id": made["id"]})

    run(_answering(), CHANNELS, scenario)


def test_what_an_answer_keeps_is_stored_before_its_last_byte_and_never_for_a_broken_one(run: Any) -> None:  # noqa: F811
    async def scenario(h: Harness) -> None:
        sink = await h.call("responses", {"model": "gpt-4o-mini", "input": "hi"}, Sink(lambda: len(_kept(h))))
        assert sink.balance_at_end == 1  # the row was there when the answer went out
        (row,) = _kept(h)
        assert (row["channel_id"], row["model"], bool(row["relayed"]), bool(row["billed"])) == (
            2, "gpt-4o-mini", False, True)
        broken = await h.call("responses", {"model": "gpt-4o-mini", "input": "hi", "stream": True})
        assert broken.closed_with is not None and b"response.failed" in broken.closed_with
        assert len(_kept(h)) == 1
        unstored = await h.call("responses", {"model": "gpt-4o-mini", "input": "hi", "store": False})
        assert unstored.sent[0][0] == 200 and len(_kept(h)) == 1

    run(_answering(), CHANNELS, scenario)


def test_expired_responses_are_forgotten_and_purged(run: Any) -> None:  # noqa: F811
    async def scenario(h: Harness) -> None:
        made = orjson.loads((await h.call("responses", {"model": "gpt-4o-mini", "input": "hi"})).sent[0][1])
        with h.db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE kept_responses SET expires_at = ?", (time.time() - 1,))
        with pytest.raises(NotFound):  # expired: as if it never was, even before the purge
            await h.call("responses.retrieve", None, params={"response_id": made["id"]})
        memory = ResponseMemory(h.db, ttl=60)
        purging = asyncio.get_running_loop().create_task(memory.purge_forever(interval=0.01))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not _kept(h):
                break
        purging.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purging
        assert _kept(h) == []

    run(_answering(), CHANNELS, scenario)


def test_a_follow_up_of_a_deleted_channel_never_reaches_a_new_one_of_another_kind(run: Any) -> None:  # noqa: F811
    """Channel ids are never reused: a channel deleted and one of another kind added in its place cannot be
    taken for it — what the old upstream keeps cannot be continued, retrieved or counted anywhere."""
    async def scenario(h: Harness) -> None:
        made = orjson.loads((await h.call("responses", {"model": "gpt-4o-mini", "input": "hi"})).sent[0][1])
        await h.operator.delete_channel(2)
        new = await h.operator.create_channel(s.ChannelIn(name="claude", type="anthropic", base_url="http://c.test",
                                                          credentials=["sk-up"], models=["gpt-4o-mini"]))
        assert new.id != 2
        await h.catalogs.reload()
        asked = len(h.transport.requests)
        with pytest.raises(ServiceUnavailable, match="no longer serves"):
            await h.call("responses", {"model": "gpt-4o-mini", "input": "x", "previous_response_id": made["id"]})
        with pytest.raises(ServiceUnavailable, match="no longer serves"):
            await h.call("responses.retrieve", None, params={"response_id": made["id"]})
        assert len(h.transport.requests) == asked

    run(_answering(), CHANNELS, scenario)


def test_a_conversation_kept_here_is_not_asked_of_an_upstream(run: Any) -> None:  # noqa: F811
    """A response relaygate produced over Claude is kept here: retrieving it is refused clearly, and no upstream
    (not one that speaks the Responses API and serves the same model either) is asked about it."""
    model = "claude-3-5-sonnet-20241022"

    def handler(req: UpstreamRequest) -> Reply:
        return Reply(chunks=[orjson.dumps({
            "id": "msg_1", "type": "message", "role": "assistant", "model": model, "stop_reason": "end_turn",
            "stop_sequence": None, "content": [{"type": "text", "text": "hello"}],
            "usage": {"input_tokens": 3, "output_tokens": 1}})])

    async def scenario(h: Harness) -> None:
        made = orjson.loads((await h.call("responses", {"model": model, "input": "hi"})).sent[0][1])
        assert made["output"][0]["content"][0]["text"] == "hello"
        (kept,) = _kept(h)
        assert bool(kept["relayed"]) and orjson.loads(kept["conversation"])[-1]["content"][0]["text"] == "hello"
        await h.operator.create_channel(s.ChannelIn(name="gpt", base_url="http://g.test", credentials=["sk-up"],
                                                    models=[model], priority=10))
        await h.catalogs.reload()
        asked = len(h.transport.requests)
        with pytest.raises(BadRequest, match=r"does not serve this endpoint \(responses.retrieve\)"):
            await h.call("responses.retrieve", None, params={"response_id": made["id"]})
        assert len(h.transport.requests) == asked

    run(handler, [{"type": "anthropic", "base_url": "http://c.test", "models": [model]}], scenario)


def test_an_unusable_responses_answer_is_retried_on_the_next_channel(run: Any) -> None:  # noqa: F811
    """A stream request answered whole, or an answer that is not JSON, is the channel's failure: the next one
    answers, and nothing of the first reached the client."""
    def handler(req: UpstreamRequest) -> Reply:
        if req.url.startswith("http://b.test"):
            return Reply(chunks=[b"<html>busy</html>"], content_type="text/html")
        return _answering()(req) if b'"stream"' not in (req.body or b"") else Reply(chunks=[b'{"id":"resp_x"}'])

    async def scenario(h: Harness) -> None:
        sink = await h.call("responses", {"model": "gpt-4o-mini", "input": "hi"})
        assert sink.sent[0][0] == 200
        assert [r.url.split("/")[2] for r in h.transport.requests] == ["b.test", "a.test"]
        with pytest.raises(UpstreamFailed):
            await h.call("responses", {"model": "gpt-4o-mini", "input": "hi", "stream": True})
        await h.ledger.drain()
        assert (h.logs()[-1]["status"], h.logs()[-1]["cost"]) == (502, 0)

    run(handler, CHANNELS, scenario)
