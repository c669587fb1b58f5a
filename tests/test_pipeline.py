"""The relay transaction in-process, over the mock transport: routing by capability, preparation steps, retries
on unusable answers, settlement before the last byte, broken and abandoned streams."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from relaygate.admin import schemas as s
from relaygate.admin.service import Operator
from relaygate.billing.ledger import Ledger
from relaygate.billing.tokens import TokenCounter
from relaygate.core.errors import BadRequest, RelayError
from relaygate.limits.memory import MemoryRateLimiter
from relaygate.providers.base import UpstreamRequest
from relaygate.relay.attempts import Attempts
from relaygate.relay.catalog import CatalogCache
from relaygate.relay.exchange import Exchange, Inbound
from relaygate.relay.inbound import ParsedRequest
from relaygate.relay.metrics import RelayMetrics
from relaygate.relay.operation import OperationContext, Parsed
from relaygate.relay.operations import OPERATIONS, build_operations
from relaygate.relay.pipeline import Relay
from relaygate.relay.routing import ProcessChannelHealth
from relaygate.relay.sink import ClientGone
from relaygate.relay.steps.base import Step
from relaygate.store.database import Database
from tests.mock_transport import MockTransport, Reply

ROUTES = {op.name: op.routes[0] for op in OPERATIONS}


def _completion(model: str, text: str = "hi there", prompt: int = 5, completion: int = 3) -> bytes:
    return orjson.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                   "total_tokens": prompt + completion}})


def _chunks(n: int) -> list[bytes]:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    events = [orjson.dumps({**base, "choices": [{"index": 0, "delta": {"content": f"w{i} "}}]}) for i in range(n)]
    events.append(orjson.dumps({**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": n,
                                                                "total_tokens": 5 + n}}))
    return [b"data: " + e + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


class Body:
    """A request body held in memory."""

    def __init__(self, value: Any) -> None:
        self._raw = orjson.dumps(value)

    @property
    def content_type(self) -> str:
        return "application/json"

    async def read(self, limit: int) -> bytes:
        return self._raw

    async def parts(self, limit: int) -> AsyncIterator[Any]:
        raise BadRequest("not multipart")
        yield  # pragma: no cover


@dataclass
class Sink:
    """Records what reached the client, and the user's balance at the moment each final byte went out."""

    balance: Callable[[], int]
    gone_after: int | None = None
    sent: list[tuple[int, bytes, str]] = field(default_factory=list)
    written: list[bytes] = field(default_factory=list)
    closed_with: bytes | None = None
    balance_at_end: int | None = None
    aborted: bool = False

    async def send(self, status: int, body: bytes, content_type: str = "application/json",
                   headers: Mapping[str, str] | None = None) -> None:
        self.balance_at_end = self.balance()
        self.sent.append((status, body, content_type))

    async def open_stream(self, content_type: str = "text/event-stream",
                          headers: Mapping[str, str] | None = None) -> None:
        return None

    def send_head(self) -> None:
        return None

    async def write(self, data: bytes) -> None:
        if self.gone_after is not None and len(self.written) >= self.gone_after:
            raise ClientGone()
        self.written.append(data)

    async def close_stream(self, last: bytes = b"") -> None:
        self.balance_at_end = self.balance()
        self.closed_with = last

    def abort(self) -> None:
        self.aborted = True


class Harness:
    def __init__(self, tmp_path: Path, handler: Callable[[UpstreamRequest], Reply | Exception]) -> None:
        self.db = Database(f"sqlite:///{tmp_path}/relay.db")
        self.db.migrate()
        self.operator = Operator(self.db)
        self.transport = MockTransport(handler)
        self.steps: list[Step] = []
        self.key = ""
        self.user_id = 0

    async def start(self, channels: list[dict[str, Any]]) -> None:
        user = await self.operator.create_user(s.UserIn(name="u", balance=10**9))
        self.user_id = user.id
        for i, fields in enumerate(channels):
            await self.operator.create_channel(s.ChannelIn(**{"name": f"ch{i}", "credentials": ["sk-up"],
                                                              **fields}))
        self.key = (await self.operator.create_key(s.KeyIn(user_id=user.id, tpm=10**6))).key
        self.catalogs = CatalogCache(self.db, unpriced=None, poll_interval=3600)
        await self.catalogs.reload()
        self.ledger = Ledger(self.db)
        self.limiter = MemoryRateLimiter()
        metrics = RelayMetrics()

        async def down(channel: Any, reason: str) -> None:
            return None

        attempts = Attempts(transport=self.transport, health=ProcessChannelHealth(5), metrics=metrics,
                            on_channel_down=down, retry_count=2, default_timeout=5)
        operations = build_operations(OperationContext(TokenCounter(), 4096, 10**7, store=self.db))
        self.relay = Relay(catalogs=self.catalogs, ledger=self.ledger, limiter=self.limiter, attempts=attempts,
                           metrics=metrics, operations=operations,
                           steps=self.steps)

    def balance(self) -> int:
        with self.db.engine.begin() as conn:
            return int(conn.exec_driver_sql("SELECT balance FROM users WHERE id = ?", (self.user_id,)).scalar_one())

    def logs(self) -> list[dict[str, Any]]:
        with self.db.engine.begin() as conn:
            return [dict(r) for r in conn.exec_driver_sql("SELECT * FROM request_logs ORDER BY id").mappings()]

    async def call(self, operation: str, body: Any, sink: Sink | None = None, *, key: str | None = None,
                   params: Mapping[str, str] | None = None) -> Sink:
        sink = sink or Sink(self.balance)
        inbound = Inbound(Body(body), key or self.key, "127.0.0.1", "req_test", params or {})
        await self.relay.handle(operation, ROUTES[operation], inbound, sink)
        return sink

    async def close(self) -> None:
        await self.ledger.close()
        self.db.close()


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., Any]:
    return functools.partial(run_scenario, tmp_path)


def run_scenario(tmp_path: Path, handler: Callable[[UpstreamRequest], Reply | Exception],
                 channels: list[dict[str, Any]], scenario: Callable[[Harness], Any]) -> Any:
    """A relay over the mock transport with these channels, running `scenario` on it, then closed."""
    async def main() -> Any:
        h = Harness(tmp_path, handler)
        await h.start(channels)
        try:
            return await scenario(h)
        finally:
            await h.close()
    return asyncio.run(main())


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
OPENAI_CH = {"type": "openai", "base_url": "http://openai.test", "models": ["gpt-4o-mini", "text-embedding-3-small"]}


def test_embeddings_skip_a_higher_priority_claude_channel_that_cannot_serve_them(run: Any) -> None:
    def handler(req: UpstreamRequest) -> Reply:
        assert req.url.startswith("http://openai.test/")
        return Reply(chunks=[orjson.dumps({"object": "list", "data": [{"object": "embedding", "index": 0,
                                                                        "embedding": [0.1]}],
                                           "model": "text-embedding-3-small",
                                           "usage": {"prompt_tokens": 1, "total_tokens": 1}})])

    async def scenario(h: Harness) -> None:
        sink = await h.call("embeddings", {"model": "text-embedding-3-small", "input": "hi"})
        assert sink.sent[0][0] == 200
        assert [r.url for r in h.transport.requests] == ["http://openai.test/v1/embeddings"]

    run(handler, [{"type": "anthropic", "base_url": "http://claude.test", "models": ["text-embedding-3-small"],
                   "priority": 10}, OPENAI_CH], scenario)


def test_a_preparation_step_changes_the_request_before_routing_and_may_refuse_it(run: Any) -> None:
    class Alias:
        async def prepare(self, ex: Exchange, parsed: Parsed) -> None:
            assert isinstance(parsed, ParsedRequest)
            messages = parsed.body["messages"]
            assert isinstance(messages, list)
            if messages[0] == {"role": "user", "content": "refuse me"}:
                raise BadRequest("refused by the step", param="messages")
            messages.append({"role": "user", "content": "added by the step"})

    def handler(req: UpstreamRequest) -> Reply:
        assert isinstance(req.body, bytes)
        assert orjson.loads(req.body)["messages"][-1]["content"] == "added by the step"
        return Reply(chunks=[_completion("gpt-4o-mini")])

    async def scenario(h: Harness) -> None:
        h.relay._steps = (Alias(),)
        assert (await h.call("chat", CHAT)).sent[0][0] == 200
        before = h.balance()
        with pytest.raises(RelayError, match="refused by the step"):
            await h.call("chat", {**CHAT, "messages": [{"role": "user", "content": "refuse me"}]})
        await h.ledger.drain()
        assert h.balance() == before and len(h.transport.requests) == 1
        assert h.logs()[-1]["status"] == 400 and h.logs()[-1]["cost"] == 0

    run(handler, [OPENAI_CH], scenario)


def test_an_unusable_answer_is_retried_on_the_next_channel(run: Any) -> None:
    def handler(req: UpstreamRequest) -> Reply:
        if req.url.startswith("http://bad.test"):
            return Reply(chunks=[b"<html>gateway</html>"], content_type="text/html")
        return Reply(chunks=[_completion("gpt-4o-mini")])

    async def scenario(h: Harness) -> None:
        sink = await h.call("chat", CHAT)
        assert sink.sent[0][0] == 200 and orjson.loads(sink.sent[0][1])["choices"][0]["message"]["content"]
        assert [r.url.split("/")[2] for r in h.transport.requests] == ["bad.test", "openai.test"]
        assert h.transport.responses[0].closed
        await h.ledger.drain()
        row = h.logs()[-1]
        assert row["status"] == 200 and row["channel_id"] == 2 and row["cost"] > 0

    run(handler, [{**OPENAI_CH, "base_url": "http://bad.test", "priority": 5}, OPENAI_CH], scenario)


def test_the_answer_and_the_streams_last_bytes_go_out_only_after_the_charge_is_stored(run: Any) -> None:
    def handler(req: UpstreamRequest) -> Reply:
        stream = orjson.loads(req.body if isinstance(req.body, bytes) else b"{}").get("stream")
        if stream:
            return Reply(chunks=_chunks(4), content_type="text/event-stream")
        return Reply(chunks=[_completion("gpt-4o-mini")])

    async def scenario(h: Harness) -> None:
        start = h.balance()
        whole = await h.call("chat", CHAT)
        charged = start - h.balance()
        assert charged > 0 and whole.balance_at_end == h.balance()
        streamed = await h.call("chat", {**CHAT, "stream": True})
        assert streamed.closed_with is not None and streamed.closed_with.endswith(b"data: [DONE]\n\n")
        assert streamed.balance_at_end == h.balance() < start - charged
        assert h.transport.responses[-1].released

    run(handler, [OPENAI_CH], scenario)


def test_a_broken_stream_is_released_and_ends_with_an_error_event(run: Any) -> None:
    def handler(req: UpstreamRequest) -> Reply:
        return Reply(chunks=_chunks(6), content_type="text/event-stream", broken_after=2)

    async def scenario(h: Harness) -> None:
        start = h.balance()
        sink = await h.call("chat", {**CHAT, "stream": True})
        assert sink.closed_with is not None and b'"code":"upstream_error"' in sink.closed_with
        assert h.balance() == start and h.transport.responses[0].closed
        await h.ledger.drain()
        assert (h.logs()[-1]["status"], h.logs()[-1]["cost"]) == (502, 0)
        # TPM kept nothing of the failed request
        window = h.limiter._windows[1]
        assert window.token_sum == 0

    run(handler, [OPENAI_CH], scenario)


def test_a_client_that_leaves_mid_stream_is_billed_for_what_was_generated(run: Any) -> None:
    def handler(req: UpstreamRequest) -> Reply:
        return Reply(chunks=_chunks(8), content_type="text/event-stream", pause=0.01)

    async def scenario(h: Harness) -> None:
        start = h.balance()
        sink = await h.call("chat", {**CHAT, "stream": True}, Sink(h.balance, gone_after=2))
        assert sink.closed_with is None and h.transport.responses[0].closed
        await h.ledger.drain()
        row = h.logs()[-1]
        assert row["status"] == 499 and 0 < row["cost"] == start - h.balance()
        assert row["completion_tokens"] > 0

    run(handler, [OPENAI_CH], scenario)


def test_every_operation_route_is_served_by_the_app() -> None:
    from relaygate.config import Settings
    from relaygate.server.app import create_app

    app = create_app(Settings(), bootstrap=False)
    served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    for op in OPERATIONS:
        for route in op.routes:
            assert (route.method, route.path) in served, route


def test_a_mapped_models_answer_carries_the_clients_name_however_the_upstream_spaces_its_json() -> None:
    from relaygate.providers.base import CallSpec
    from relaygate.providers.registry import provider_for
    from relaygate.relay.dialects import OPENAI
    from relaygate.relay.json_delivery import renamer
    from relaygate.relay.operation import Attempt

    def attempt(client: str, upstream: str) -> Attempt:
        call = CallSpec("chat", "/chat/completions", {}, upstream, False, False)
        channel: Any = None
        return Attempt(channel, provider_for("openai"), call, OPENAI, client)

    rename = renamer(attempt('my "quoted" model', "gpt-4o-2024-08-06"))
    assert rename is not None
    pretty = b'{\n  "id": "x",\n  "model": "gpt-4o-2024-08-06",\n  "text": "model gpt-4o-2024-08-06"\n}'
    assert rename(pretty) == (b'{\n  "id": "x",\n  "model": "my \\"quoted\\" model",\n'
                              b'  "text": "model gpt-4o-2024-08-06"\n}')
    assert orjson.loads(rename(pretty))["model"] == 'my "quoted" model'
    assert renamer(attempt("gpt-4o", "gpt-4o")) is None
