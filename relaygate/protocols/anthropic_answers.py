"""Anthropic Messages answers ⇄ OpenAI chat completions: whole answers both ways and one stream converter
per direction, working on decoded events (SSE framing is protocols/sse.py's). Pure functions of their inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

from relaygate.core.errors import BadRequest
from relaygate.core.types import JsonObject, JsonValue, Usage
from relaygate.protocols import content as c
from relaygate.protocols.anthropic import FINISH_TO_STOP, STOP_TO_FINISH, usage_from, usage_to


def message_to_completion(msg: JsonObject, *, created: int) -> tuple[JsonObject, Usage | None]:
    """A Claude message as a one-choice chat.completion, with its usage."""
    text: list[str] = []
    thinking: list[str] = []
    calls: list[JsonObject] = []
    blocks = msg.get("content")
    for block in c.objects(blocks):
        kind = block.get("type")
        if kind == "text":
            text.append(str(block.get("text") or ""))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": c.dumps_text(block.get("input"))}})
    message: JsonObject = {"role": "assistant", "content": "".join(text) if text or not calls else None,
                           "refusal": None}
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    if calls:
        message["tool_calls"] = calls  # type: ignore[assignment]
    usage = usage_from(msg.get("usage"))
    finish = STOP_TO_FINISH.get(str(msg.get("stop_reason")), "stop")
    body = c.completion_object(id_=str(msg.get("id") or ""), model=str(msg.get("model") or ""), created=created,
                               message=message, finish=finish, usage=usage)
    return body, usage


def completion_to_message(body: JsonObject, model: str) -> JsonObject:
    """A chat.completion (first choice) as an Anthropic message for the /v1/messages front door."""
    choices = body.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = c.object_field(choice, "message")
    blocks: list[JsonObject] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = c.text_of(message.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(call, dict):
            blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"),
                           "input": _loose_arguments(fn.get("arguments"))})
    usage = c.parse_usage(body.get("usage")) or Usage()
    return {
        "id": _message_id(body.get("id")), "type": "message", "role": "assistant", "model": model,
        "content": list[JsonValue](blocks),
        "stop_reason": FINISH_TO_STOP.get(str(choice.get("finish_reason")), "end_turn"), "stop_sequence": None,
        "usage": usage_to(usage),
    }


def _loose_arguments(raw: JsonValue) -> JsonObject:
    try:
        return c.arguments(raw)
    except BadRequest:
        return {}


def _message_id(value: JsonValue) -> str:
    text = str(value or "")
    return text if text.startswith("msg_") else "msg_" + text.removeprefix("chatcmpl-")


# ---------------------------------------------------------------- streams

@dataclass(slots=True)
class EventsToChunks:
    """Claude stream events → chat.completion.chunk objects (the Claude channel type)."""

    created: int
    include_usage: bool
    usage: Usage | None = None
    finished: bool = False
    failure: str | None = None
    text: list[str] = field(default_factory=list)
    _id: str = ""
    _model: str = ""
    _tools: dict[int, int] = field(default_factory=dict)

    def on_event(self, kind: str, data: JsonObject) -> list[JsonObject]:
        if kind == "message_start":
            msg = c.object_field(data, "message")
            self._id, self._model = str(msg.get("id") or ""), str(msg.get("model") or "")
            self.usage = usage_from(msg.get("usage"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = data.get("content_block")
            if isinstance(block, dict) and block.get("type") == "tool_use":
                index = len(self._tools)
                self._tools[c.count_or_zero(data.get("index"))] = index
                self.text.append(str(block.get("name") or ""))
                return [self._chunk(c.tool_call_delta(index, id_=str(block.get("id") or ""),
                                                      name=str(block.get("name") or "")))]
            return []
        if kind == "content_block_delta":
            return self._delta(data)
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            self.finished = True
            if self.include_usage:
                return [c.chunk_object(id_=self._id, model=self._model, created=self.created, delta=None,
                                       usage=self.usage)]
            return []
        if kind == "error":
            error = data.get("error")
            detail = (error.get("message") or error.get("type")) if isinstance(error, dict) else None
            self.failure = str(detail or "stream error")
        return []

    def _delta(self, data: JsonObject) -> list[JsonObject]:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return []
        kind = delta.get("type")
        if kind == "text_delta":
            piece = str(delta.get("text") or "")
            self.text.append(piece)
            return [self._chunk({"content": piece})]
        if kind == "input_json_delta":
            piece = str(delta.get("partial_json") or "")
            self.text.append(piece)
            index = self._tools.get(c.count_or_zero(data.get("index")), 0)
            return [self._chunk(c.tool_call_delta(index, arguments=piece))]
        if kind == "thinking_delta":
            piece = str(delta.get("thinking") or "")
            self.text.append(piece)
            return [self._chunk({"reasoning_content": piece})]
        return []

    def _message_delta(self, data: JsonObject) -> list[JsonObject]:
        late = data.get("usage")
        if isinstance(late, dict):
            usage = self.usage or Usage()
            if "output_tokens" in late:
                usage.completion_tokens = c.count_or_zero(late.get("output_tokens"))
            if any(k in late for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")):
                merged = usage_from({**usage_to(usage), **late})
                if merged is not None:
                    usage = merged
            self.usage = usage
        delta = data.get("delta")
        reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        if reason is None:
            return []
        return [self._chunk({}, STOP_TO_FINISH.get(str(reason), "stop"))]

    def _chunk(self, delta: JsonObject, finish: str | None = None) -> JsonObject:
        return c.chunk_object(id_=self._id, model=self._model, created=self.created, delta=delta, finish=finish)


@dataclass(slots=True)
class ChunksToEvents:
    """chat.completion.chunk objects → Claude stream events (the /v1/messages front door)."""

    model: str
    message_id: str
    usage: Usage = field(default_factory=Usage)
    _started: bool = False
    _block: int = -1
    _block_kind: str | None = None
    _tool_blocks: dict[int, int] = field(default_factory=dict)
    _stop: str = "end_turn"

    def on_chunk(self, chunk: JsonObject) -> list[tuple[str, JsonObject]]:
        events = self._start()
        usage = c.parse_usage(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        choices = chunk.get("choices")
        for choice in c.objects(choices):
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                events += self._delta(delta)
            if choice.get("finish_reason"):
                self._stop = FINISH_TO_STOP.get(str(choice["finish_reason"]), "end_turn")
        return events

    def finish(self) -> list[tuple[str, JsonObject]]:
        events = self._start() + self._close()
        events.append(("message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": self._stop, "stop_sequence": None},
                                         "usage": usage_to(self.usage)}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _start(self) -> list[tuple[str, JsonObject]]:
        if self._started:
            return []
        self._started = True
        message: JsonObject = {"id": self.message_id, "type": "message", "role": "assistant", "model": self.model,
                               "content": [], "stop_reason": None, "stop_sequence": None,
                               "usage": {"input_tokens": 0, "output_tokens": 0}}
        return [("message_start", {"type": "message_start", "message": message})]

    def _open(self, kind: str, block: JsonObject) -> list[tuple[str, JsonObject]]:
        events = self._close()
        self._block += 1
        self._block_kind = kind
        events.append(("content_block_start", {"type": "content_block_start", "index": self._block,
                                               "content_block": block}))
        return events

    def _close(self) -> list[tuple[str, JsonObject]]:
        if self._block_kind is None:
            return []
        self._block_kind = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self._block})]

    def _emit(self, delta: JsonObject) -> tuple[str, JsonObject]:
        return ("content_block_delta", {"type": "content_block_delta", "index": self._block, "delta": delta})

    def _delta(self, delta: JsonObject) -> list[tuple[str, JsonObject]]:
        events: list[tuple[str, JsonObject]] = []
        reasoning = delta.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            if self._block_kind != "thinking":
                events += self._open("thinking", {"type": "thinking", "thinking": ""})
            events.append(self._emit({"type": "thinking_delta", "thinking": reasoning}))
        text = delta.get("content")
        if isinstance(text, str) and text:
            if self._block_kind != "text":
                events += self._open("text", {"type": "text", "text": ""})
            events.append(self._emit({"type": "text_delta", "text": text}))
        calls = delta.get("tool_calls")
        for call in c.objects(calls):
            index = c.count_or_zero(call.get("index"))
            fn = c.object_field(call, "function")
            if call.get("id") is not None or index not in self._tool_blocks:
                events += self._open("tool_use", {"type": "tool_use", "id": str(call.get("id") or ""),
                                                  "name": str(fn.get("name") or ""), "input": {}})
                self._tool_blocks[index] = self._block
            args = fn.get("arguments")
            if isinstance(args, str) and args:
                events.append(("content_block_delta", {
                    "type": "content_block_delta", "index": self._tool_blocks[index],
                    "delta": {"type": "input_json_delta", "partial_json": args}}))
        return events
