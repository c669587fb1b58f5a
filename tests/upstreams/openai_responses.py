"""The Responses API of the fake OpenAI upstream: POST /v1/responses (stream and not), the stored responses behind
previous_response_id, retrieve, delete, cancel, input_items and input_tokens, scoped per API key as OpenAI scopes
them per project; Azure's Responses routes map onto the same handlers."""

from __future__ import annotations

import asyncio
import fnmatch
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from tests.upstreams import responses_output as out
from tests.upstreams import responses_wire as rules
from tests.upstreams.openai_wire import WireError
from tests.upstreams.server import reset_connection

if TYPE_CHECKING:
    from tests.upstreams.openai_mock import MockOpenAI

AZURE_FIRST_VERSION = "2025-03-01-preview"
"""The first api-version Azure serves its Responses API on (/openai/responses?api-version=…)."""


@dataclass
class StoredResponse:
    """One response the fake produced, as it keeps it (store=false ones too, for tests; the API hides those)."""

    key: str
    """The API key that created it: another key cannot see it (OpenAI scopes responses to a project)."""
    final: dict[str, Any]
    input_items: list[dict[str, Any]]
    context: list[dict[str, Any]]
    """Every item the model saw (earlier turns' input and output, then this input), instructions excepted."""
    request: dict[str, Any]
    stored: bool
    ready_at: float = 0.0
    """When a background response finishes (time.monotonic)."""
    cancelled: bool = False

    def view(self) -> dict[str, Any]:
        """The Response as GET shows it now: a background one is in progress until ready_at, or cancelled."""
        if not self.final["background"]:
            return self.final
        pending = {**self.final, "output": [], "usage": None, "completed_at": None, "incomplete_details": None}
        if self.cancelled:
            return {**pending, "status": "cancelled"}
        if time.monotonic() < self.ready_at:
            return {**pending, "status": "in_progress"}
        return self.final


def azure_path(request: web.Request) -> str | None:
    """/v1/responses… for Azure's Responses routes (/openai/v1/responses…, /openai/responses…?api-version=…)."""
    path = request.path
    if path.startswith("/openai/v1/responses"):
        return path.removeprefix("/openai")
    if not path.startswith("/openai/responses"):
        return None
    version = request.query.get("api-version", "")
    if not version:
        raise WireError(404, "Resource not found", code="404")
    if version[:10] < AZURE_FIRST_VERSION[:10]:
        raise WireError(400, f"Azure OpenAI Responses API is enabled only for api-version {AZURE_FIRST_VERSION} "
                             "and later", code="BadRequest")
    return "/v1" + path.removeprefix("/openai")


class ResponsesAPI:
    """Holds the stored responses; `background_seconds` is how long a background response stays in progress."""

    def __init__(self, mock: MockOpenAI) -> None:
        self._mock = mock
        self.stored: dict[str, StoredResponse] = {}
        self.streamed: dict[str, bytes] = {}
        """The bytes of every event stream sent, by response id (the last one sent for a replayed response)."""
        self.background_seconds = 0.2

    def reset(self) -> None:
        self.stored.clear()
        self.streamed.clear()
        self.background_seconds = 0.2

    @staticmethod
    def serves(path: str) -> bool:
        return path == "/v1/responses" or path.startswith("/v1/responses/")

    async def handle(self, request: web.Request, path: str, body: Any, serial: int, mode: str) -> web.StreamResponse:
        key = _key(request)
        rest = path.removeprefix("/v1/responses").strip("/")
        method = request.method
        if rest == "" and method == "POST":
            return await self._create(request, self._mock.json_body(request, body), key, serial, mode)
        if rest == "input_tokens" and method == "POST":
            return self._count(self._mock.json_body(request, body), key, serial)
        response_id, _, action = rest.partition("/")
        record = self._find(response_id, key)
        if action == "" and method == "GET":
            if request.query.get("stream") == "true":
                return await self._replay(request, record, request.query.get("starting_after", "-1"))
            return _json(record.view(), serial)
        if action == "" and method == "DELETE":
            del self.stored[response_id]
            return _json({"id": response_id, "object": "response", "deleted": True}, serial)
        if action == "cancel" and method == "POST":
            if not record.final["background"]:
                raise WireError(400, "Cannot cancel a synchronous response.")
            if record.view()["status"] in ("queued", "in_progress"):
                record.cancelled = True
            return _json(record.view(), serial)
        if action == "input_items" and method == "GET":
            return _json(_page(record.input_items, request.query), serial)
        raise WireError(404, f"Invalid URL ({method} {request.path})", code="unknown_url")

    def _find(self, response_id: str, key: str) -> StoredResponse:
        record = self.stored.get(response_id)
        if record is None or not record.stored or record.key != key:
            raise WireError(404, f"Response with id '{response_id}' not found.")
        return record

    def _model(self, body: dict[str, Any]) -> out.Model:
        self._mock.check_model(body, None)
        mock = self._mock
        reasoning = any(fnmatch.fnmatchcase(body["model"], p) for p in mock.reasoning_models)
        return out.Model(reasoning=reasoning, reasoning_tokens=mock.reasoning_tokens, reply=mock.reply_text)

    def _context(self, body: dict[str, Any], key: str) -> tuple[list[dict[str, Any]], int]:
        """Everything the model sees for this request, and how many of its tokens come from earlier turns."""
        for name, what in (("conversation", "Conversation"), ("prompt", "Prompt")):
            named = body.get(name)
            if named:  # the fake keeps neither conversations nor stored prompts
                ident = named if isinstance(named, str) else named.get("id")
                raise WireError(404, f"{what} with id '{ident}' not found.", param=name)
        prior: list[dict[str, Any]] = []
        previous = body.get("previous_response_id")
        if previous is not None:
            record = self.stored.get(previous)
            if record is None or not record.stored or record.key != key:
                raise WireError(400, f"Previous response with id '{previous}' not found.",
                                param="previous_response_id", code="previous_response_not_found")
            prior = record.context + record.final["output"]
        raw = body.get("input")
        items = [{"role": "user", "content": raw}] if isinstance(raw, str) else [
            self._resolve(item, key) for item in raw or []]
        context = prior + items
        called = {i["call_id"] for i in context if i.get("type") == "function_call"}
        for item in items:
            if item.get("type") == "function_call_output" and item["call_id"] not in called:
                raise WireError(400, f"No tool call found for function call output with call_id {item['call_id']}.",
                                param="input")
        return context, out.item_tokens(prior)

    def _resolve(self, item: dict[str, Any], key: str) -> dict[str, Any]:
        """An item_reference as the stored item it names (input or output of a stored response of this key)."""
        if item.get("type") != "item_reference":
            return item
        unstored = False
        for record in self.stored.values():
            for known in record.final["output"] + record.input_items:
                if known.get("id") == item["id"] and record.key == key:
                    if record.stored:
                        return dict(known)
                    unstored = True
        hint = (" Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove "
                "this item from your input.") if unstored else ""
        raise WireError(404, f"Item with id '{item['id']}' not found.{hint}", param="input")

    async def _create(self, request: web.Request, body: dict[str, Any], key: str, serial: int,
                      mode: str) -> web.StreamResponse:
        model = self._model(body)
        rules.validate_create(body, reasoning_model=model.reasoning)
        context, cached = self._context(body, key)
        start = out.skeleton(body, out.new_id("resp"), reasoning_model=model.reasoning)
        final = out.answer(body, context, start, model, cached=cached)
        record = StoredResponse(key=key, final=final, input_items=out.listed_items(body), context=context,
                                request=body, stored=body.get("store") is not False,
                                ready_at=time.monotonic() + self.background_seconds)
        self.stored[final["id"]] = record
        if body.get("stream"):
            record.ready_at = 0.0  # the stream delivers it whole
            events = out.stream_events(final, self._shape(body), queued=bool(body.get("background")))
            if mode == "stream_failed":
                record.final = out.failed(final)
            return await self._send(request, events, mode)
        if body.get("background"):
            return _json({**final, "status": "queued", "output": [], "usage": None, "completed_at": None,
                          "incomplete_details": None}, serial)
        return _json(final, serial)

    def _count(self, body: dict[str, Any], key: str, serial: int) -> web.Response:
        rules.validate_count(body)
        if body.get("model") is not None:
            self._mock.check_model(body, None)
        context, _ = self._context(body, key)
        tokens = out.item_tokens(context) + out.words(str(body.get("instructions") or ""))
        return _json({"object": "response.input_tokens", "input_tokens": tokens}, serial)

    def _shape(self, body: dict[str, Any]) -> out.StreamShape:
        options = body.get("stream_options") or {}
        return out.StreamShape(pieces=self._mock.stream_chunks, obfuscation=options.get("include_obfuscation", True))

    async def _replay(self, request: web.Request, record: StoredResponse, after: str) -> web.StreamResponse:
        """GET …?stream=true: a background response's events from `starting_after` on, once it has finished."""
        if not record.final["background"]:
            raise WireError(400, "This response cannot be streamed because it was not created with background=true.",
                            param="stream")
        if not after.removeprefix("-").isdigit():
            raise WireError(400, f"Invalid type for 'starting_after': expected an integer, but got '{after}'.",
                            param="starting_after", code="invalid_type")
        await asyncio.sleep(max(0.0, record.ready_at - time.monotonic()))
        events = out.stream_events(record.view(), self._shape(record.request), queued=True)
        return await self._send(request, [e for e in events if e["sequence_number"] > int(after)], "ok")

    async def _send(self, request: web.Request, events: list[dict[str, Any]], mode: str) -> web.StreamResponse:
        """An SSE stream of Responses events (`event:` lines, no [DONE]); the stream_* modes break it mid-way."""
        mock = self._mock
        events = _broken(events, mode)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-cache", "x-request-id": f"req_{out.new_id('mock')}"})
        await resp.prepare(request)
        if mock.stream_first_delay > 0:
            await asyncio.sleep(mock.stream_first_delay)
        response_id = next((e["response"]["id"] for e in events if "response" in e), "")
        sent = b""
        try:
            for i, event in enumerate(events):
                if i and mock.stream_delay > 0:
                    await asyncio.sleep(mock.stream_delay)
                frame = b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
                sent += frame
                self.streamed[response_id] = sent
                await resp.write(frame)
                if mode == "stream_cut" and i >= 3:
                    return await reset_connection(request, resp)
            mock.streams_finished_at.append(time.monotonic())
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp


def _broken(events: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    """stream_failed ends after the first delta with response.failed, stream_error with an `error` event."""
    if mode not in ("stream_failed", "stream_error"):
        return events
    first = next((i for i, e in enumerate(events) if e["type"].endswith(".delta")), len(events) - 1)
    kept = events[: first + 1]
    n = len(kept)
    if mode == "stream_failed":
        return [*kept, {"type": "response.failed", "response": out.failed(events[-1]["response"]),
                        "sequence_number": n}]
    return [*kept, {"type": "error", "code": "server_error", "message": out.FAILURE_MESSAGE, "param": None,
                    "sequence_number": n}]


def _page(items: list[dict[str, Any]], query: Any) -> dict[str, Any]:
    """A cursor page of input items: `order` (desc by default), `after` (an item id), `limit` 1–100 (20)."""
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise WireError(400, f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", param="order",
                        code="invalid_value")
    raw = query.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise WireError(400, f"Invalid 'limit': expected an integer between 1 and 100, but got {raw} instead.",
                        param="limit", code="invalid_value")
    ordered = items if order == "asc" else items[::-1]
    after = query.get("after")
    if after is not None:
        ids = [i["id"] for i in ordered]
        ordered = ordered[ids.index(after) + 1:] if after in ids else []
    page = ordered[: int(raw)]
    return {"object": "list", "data": page, "first_id": page[0]["id"] if page else "",
            "last_id": page[-1]["id"] if page else "", "has_more": len(ordered) > len(page)}


def _key(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    return request.headers.get("api-key") or auth.removeprefix("Bearer ")


def _json(obj: Any, serial: int) -> web.Response:
    return web.Response(body=orjson.dumps(obj), content_type="application/json",
                        headers={"x-request-id": f"req_mock{serial}"})
