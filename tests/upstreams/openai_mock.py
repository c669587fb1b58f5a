"""MockOpenAI: a strict OpenAI-compatible upstream, a real aiohttp server on 127.0.0.1 in its own thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.upstreams import openai_wire as wire


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


class MockOpenAI:
    """Behaviour is set by attributes (`mode`, `stream_delay`, …) and one-shot `fail_next` modes."""

    def __init__(self, *, api_keys: Iterable[str] = ("sk-upstream-test",),
                 models: Iterable[str] = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")) -> None:
        self.api_keys = set(api_keys)
        self.models = list(models)
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._queued: list[str] = []
        self._counter = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queued.clear()
        self.mode = "ok"
        self.stream_delay = 0.0
        self.stream_chunks = 5
        self.reply_text: str | None = None
        self.hang_seconds = 30.0
        self.streams_finished_at: list[float] = []

    def fail_next(self, *modes: str) -> None:
        with self._lock:
            self._queued.extend(modes)

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def count(self, path_suffix: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path.endswith(path_suffix))

    def start(self) -> MockOpenAI:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        loop.run_forever()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def _next_mode(self) -> str:
        with self._lock:
            return self._queued.pop(0) if self._queued else self.mode

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = None
        with self._lock:
            self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), raw, parsed))
            self._counter += 1
            serial = self._counter
        try:
            self._authenticate(request)
            mode = self._next_mode()
            failure = await self._failure(request, mode)
            if failure is not None:
                return failure
            return await self._route(request, raw, parsed, serial, mode)
        except wire.WireError as err:
            headers = {"Retry-After": "1"} if err.status == 429 else None
            return web.json_response(err.body(), status=err.status, headers=headers)

    def _authenticate(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.api_keys:
            raise wire.WireError(401, "Incorrect API key provided: " + auth[7:11] + "***.", code="invalid_api_key")

    async def _failure(self, request: web.Request, mode: str) -> web.StreamResponse | None:
        if mode == "500":
            raise wire.WireError(500, "mock internal error", type_="server_error")
        if mode == "429":
            raise wire.WireError(429, "Rate limit reached for requests", type_="requests",
                                 code="rate_limit_exceeded")
        if mode == "401":
            raise wire.WireError(401, "Incorrect API key provided: sk-u***test.", code="invalid_api_key")
        if mode == "400":
            raise wire.WireError(400, "This model's maximum context length is 8192 tokens. However, your messages "
                                      "resulted in 9000 tokens.", param="messages", code="context_length_exceeded")
        if mode == "timeout":
            await asyncio.sleep(self.hang_seconds)
        if mode == "reset":
            assert request.transport is not None
            request.transport.abort()
            raise web.HTTPInternalServerError()
        return None

    async def _route(self, request: web.Request, raw: bytes, body: Any, serial: int,
                     mode: str) -> web.StreamResponse:
        path = request.path
        if request.method == "GET" and path == "/v1/models":
            return web.json_response({"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "mock"} for m in self.models]})
        handlers = {"/v1/chat/completions": self._chat, "/v1/completions": self._completions,
                    "/v1/embeddings": self._embeddings}
        handler = handlers.get(path)
        if handler is None or request.method != "POST":
            raise wire.WireError(404, f"Unknown request URL: {request.method} {path}.", code="unknown_url")
        if not request.content_type.startswith("application/json"):
            raise wire.WireError(400, "Content-Type must be application/json.")
        if not isinstance(body, dict):
            raise wire.WireError(400, "We could not parse the JSON body of your request.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise wire.WireError(400, "You must provide a model parameter.", param="model")
        if model not in self.models:
            raise wire.WireError(404, f"The model `{model}` does not exist or you do not have access to it.",
                                 code="model_not_found")
        return await handler(request, body, serial, mode)

    async def _chat(self, request: web.Request, body: dict[str, Any], serial: int, mode: str) -> web.StreamResponse:
        wire.validate_chat(body)
        text, finish = wire.chat_text(body, self.reply_text)
        prompt = wire.prompt_tokens(body)
        n = body.get("n") or 1
        base = {"id": f"chatcmpl-mock{serial}", "created": wire.now(), "model": body["model"],
                "system_fingerprint": "fp_mock"}
        if body.get("stream"):
            return await self._stream_chat(request, body, base, text, finish, prompt, mode)
        choices = []
        for i in range(n):
            message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
            reason = finish
            if wire.wants_tool_call(body):
                message = {"role": "assistant", "content": None, "refusal": None,
                           "tool_calls": [wire.tool_call(body)]}
                reason = "tool_calls"
            choices.append({"index": i, "message": message,
                            "logprobs": wire.logprobs_for(text) if body.get("logprobs") else None,
                            "finish_reason": reason})
        return web.json_response({**base, "object": "chat.completion", "choices": choices,
                                  "usage": wire.usage(prompt, len(text.split()) * n)}, dumps=_dumps)

    async def _stream_chat(self, request: web.Request, body: dict[str, Any], base: dict[str, Any], text: str,
                           finish: str, prompt: int, mode: str) -> web.StreamResponse:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        extra = {"usage": None} if include_usage else {}

        def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
            return {**base, "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}], **extra}

        events = [chunk({"role": "assistant", "content": ""})]
        if wire.wants_tool_call(body):
            call = wire.tool_call(body)
            args = call["function"]["arguments"]
            events.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                                 "function": {"name": call["function"]["name"], "arguments": ""}}]}))
            for piece in (args[: len(args) // 2], args[len(args) // 2:]):
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            finish = "tool_calls"
        else:
            events += [chunk({"content": piece}) for piece in wire.split_pieces(text, self.stream_chunks)]
        events.append(chunk({}, finish))
        if include_usage:
            events.append({**base, "object": "chat.completion.chunk", "choices": [],
                           "usage": wire.usage(prompt, len(text.split()))})
        return await self._send_events(request, events, mode)

    async def _send_events(self, request: web.Request, events: list[dict[str, Any]], mode: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        try:
            for i, event in enumerate(events):
                if mode == "stream_cut" and i == 3:
                    assert request.transport is not None
                    request.transport.abort()
                    return resp
                await resp.write(b"data: " + orjson.dumps(event) + b"\n\n")
                if self.stream_delay and 0 < i < len(events) - 1:
                    await asyncio.sleep(self.stream_delay)
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            self.streams_finished_at.append(time.monotonic())
        except ConnectionError:
            pass
        return resp

    async def _completions(self, request: web.Request, body: dict[str, Any], serial: int,
                           mode: str) -> web.StreamResponse:
        wire.validate_completions(body)
        text, finish = wire.chat_text(body, self.reply_text)
        prompt = wire.prompt_tokens(body)
        base = {"id": f"cmpl-mock{serial}", "object": "text_completion", "created": wire.now(),
                "model": body["model"]}
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events: list[dict[str, Any]] = [
                {**base, "choices": [{"index": 0, "text": piece, "logprobs": None, "finish_reason": None}]}
                for piece in wire.split_pieces(text, self.stream_chunks)]
            events.append({**base, "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": finish}]})
            if include_usage:
                events.append({**base, "choices": [], "usage": wire.usage(prompt, len(text.split()))})
            return await self._send_events(request, events, mode)
        return web.json_response({**base, "choices": [{"index": 0, "text": text, "logprobs": None,
                                                       "finish_reason": finish}],
                                  "usage": wire.usage(prompt, len(text.split()))}, dumps=_dumps)

    async def _embeddings(self, request: web.Request, body: dict[str, Any], serial: int,
                          mode: str) -> web.StreamResponse:
        wire.validate_embeddings(body)
        value = body["input"]
        inputs = [value] if isinstance(value, str) else value
        if inputs and isinstance(inputs[0], int):
            inputs = [inputs]
        dims = body.get("dimensions") or 8
        fmt = body.get("encoding_format") or "float"
        tokens = sum(len(str(i).split()) for i in inputs)
        return web.json_response({
            "object": "list", "model": body["model"],
            "data": [{"object": "embedding", "index": i, "embedding": wire.embedding(i, dims, fmt)}
                     for i in range(len(inputs))],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()
