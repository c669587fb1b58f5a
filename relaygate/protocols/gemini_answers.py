"""Gemini generateContent answers ⇄ OpenAI chat completions: whole answers both ways and one stream converter
per direction, working on decoded objects (SSE framing is protocols/sse.py's). Pure functions of their inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

from relaygate.core.errors import BadRequest
from relaygate.core.types import JsonObject, JsonValue, Usage
from relaygate.protocols import content as c
from relaygate.protocols.gemini import FINISH_FROM_GEMINI, FINISH_TO_GEMINI, usage_from, usage_to


def response_to_completion(resp: JsonObject, model: str, *, created: int) -> tuple[JsonObject, Usage | None]:
    """A GenerateContentResponse as a chat.completion (one choice per candidate), with its usage."""
    choices: list[JsonValue] = []
    candidates = resp.get("candidates")
    for n, cand in enumerate(candidates if isinstance(candidates, list) else []):
        if not isinstance(cand, dict):
            continue
        text, thought, calls = _candidate_parts(cand, n)
        message: JsonObject = {"role": "assistant", "content": text if text or not calls else None,
                               "refusal": None}
        if thought:
            message["reasoning_content"] = thought
        if calls:
            message["tool_calls"] = list[JsonValue](calls)
        choices.append({"index": cand.get("index", n), "message": message, "logprobs": None,
                        "finish_reason": _finish(cand.get("finishReason"), bool(calls))})
    if not choices:
        choices.append({"index": 0, "message": {"role": "assistant", "content": "", "refusal": None},
                        "logprobs": None, "finish_reason": "content_filter"})
    usage = usage_from(resp.get("usageMetadata"))
    body: JsonObject = {"id": "chatcmpl-" + str(resp.get("responseId") or ""), "object": "chat.completion",
                        "created": created, "model": str(resp.get("modelVersion") or model), "choices": choices}
    if usage is not None:
        body["usage"] = c.openai_usage(usage)
    return body, usage


def _candidate_parts(cand: JsonObject, n: int) -> tuple[str, str, list[JsonObject]]:
    content = cand.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    text: list[str] = []
    thought: list[str] = []
    calls: list[JsonObject] = []
    for part in c.objects(parts):
        if isinstance(part.get("text"), str):
            (thought if part.get("thought") else text).append(str(part["text"]))
        call = part.get("functionCall")
        if isinstance(call, dict):
            call_id = call.get("id") if isinstance(call.get("id"), str) else f"call_{n}_{len(calls)}"
            calls.append({"id": call_id, "type": "function",
                          "function": {"name": call.get("name"), "arguments": c.dumps_text(call.get("args") or {})}})
    return "".join(text), "".join(thought), calls


def _finish(reason: JsonValue, has_calls: bool) -> str | None:
    if reason is None or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    if has_calls and reason == "STOP":
        return "tool_calls"
    return FINISH_FROM_GEMINI.get(str(reason), "stop")


def completion_to_response(body: JsonObject, model: str) -> JsonObject:
    """A chat.completion as a GenerateContentResponse for the /v1beta front door."""
    candidates: list[JsonValue] = []
    choices = body.get("choices")
    for n, choice in enumerate(choices if isinstance(choices, list) else []):
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        parts = _response_parts(message if isinstance(message, dict) else {}, whole=True)
        candidates.append({"content": {"role": "model", "parts": list[JsonValue](parts)},
                           "finishReason": FINISH_TO_GEMINI.get(str(choice.get("finish_reason")), "STOP"),
                           "index": choice.get("index", n)})
    usage = c.parse_usage(body.get("usage")) or Usage()
    return {"candidates": candidates, "usageMetadata": usage_to(usage), "modelVersion": model,
            "responseId": str(body.get("id") or "").removeprefix("chatcmpl-")}


def _response_parts(message: JsonObject, *, whole: bool) -> list[JsonObject]:
    parts: list[JsonObject] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        parts.append({"text": reasoning, "thought": True})
    text = c.text_of(message.get("content")) if whole else message.get("content")
    if isinstance(text, str) and text:
        parts.append({"text": text})
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(call, dict):
            try:
                args = c.arguments(fn.get("arguments"))
            except BadRequest:
                args = {}
            function_call: JsonObject = {"name": fn.get("name"), "args": args}
            if isinstance(call.get("id"), str):
                function_call["id"] = call["id"]
            parts.append({"functionCall": function_call})
    return parts


# ---------------------------------------------------------------- streams

@dataclass(slots=True)
class ResponsesToChunks:
    """streamGenerateContent responses → chat.completion.chunk objects (the Gemini channel type)."""

    model: str
    created: int
    id: str
    include_usage: bool
    usage: Usage | None = None
    finished: bool = False
    failure: str | None = None
    text: list[str] = field(default_factory=list)
    _started: set[int] = field(default_factory=set)
    _tools: dict[int, int] = field(default_factory=dict)

    def on_response(self, resp: JsonObject) -> list[JsonObject]:
        error = resp.get("error")
        if isinstance(error, dict):
            self.failure = str(error.get("message") or error.get("status") or "stream error")
            return []
        out: list[JsonObject] = []
        usage = usage_from(resp.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
        candidates = resp.get("candidates")
        ended = False
        for n, cand in enumerate(candidates if isinstance(candidates, list) else []):
            if not isinstance(cand, dict):
                continue
            index = c.count_or_zero(cand.get("index", n))
            if index not in self._started:
                self._started.add(index)
                out.append(self._chunk(index, {"role": "assistant", "content": ""}))
            text, thought, calls = _candidate_parts(cand, index)
            if thought:
                self.text.append(thought)
                out.append(self._chunk(index, {"reasoning_content": thought}))
            if text:
                self.text.append(text)
                out.append(self._chunk(index, {"content": text}))
            for call in calls:
                position = self._tools.get(index, 0)
                self._tools[index] = position + 1
                fn = call["function"]
                assert isinstance(fn, dict)
                self.text.append(str(fn["name"]) + str(fn["arguments"]))
                out.append(self._chunk(index, c.tool_call_delta(position, id_=str(call["id"]), name=str(fn["name"]),
                                                                arguments=str(fn["arguments"]))))
            finish = _finish(cand.get("finishReason"), bool(self._tools.get(index)))
            if finish is not None:
                ended = True
                out.append(self._chunk(index, {}, finish))
        if not candidates and isinstance(resp.get("promptFeedback"), dict):
            ended = True
            out.append(self._chunk(0, {}, "content_filter"))
        if ended and usage is not None:
            self.finished = True
            if self.include_usage:
                out.append(c.chunk_object(id_=self.id, model=self.model, created=self.created, delta=None,
                                          usage=usage))
        return out

    def _chunk(self, index: int, delta: JsonObject, finish: str | None = None) -> JsonObject:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}


@dataclass(slots=True)
class ChunksToResponses:
    """chat.completion.chunk objects → streamGenerateContent responses (the /v1beta front door)."""

    model: str
    response_id: str
    usage: Usage = field(default_factory=Usage)
    _calls: dict[int, dict[int, JsonObject]] = field(default_factory=dict)
    _finish: dict[int, str] = field(default_factory=dict)

    def on_chunk(self, chunk: JsonObject) -> list[JsonObject]:
        usage = c.parse_usage(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        candidates: list[JsonValue] = []
        choices = chunk.get("choices")
        for choice in c.objects(choices):
            index = c.count_or_zero(choice.get("index"))
            delta = c.object_field(choice, "delta")
            self._collect_calls(index, delta)
            parts = _response_parts({k: v for k, v in delta.items() if k != "tool_calls"}, whole=False)
            if choice.get("finish_reason"):
                self._finish[index] = FINISH_TO_GEMINI.get(str(choice["finish_reason"]), "STOP")
            if parts:
                candidates.append({"content": {"role": "model", "parts": list[JsonValue](parts)}, "index": index})
        return [self._response(candidates)] if candidates else []

    def finish(self) -> list[JsonObject]:
        indexes = sorted(set(self._finish) | set(self._calls)) or [0]
        candidates: list[JsonValue] = []
        for index in indexes:
            calls = [call for _, call in sorted(self._calls.get(index, {}).items())]
            parts = _response_parts({"tool_calls": list[JsonValue](calls)}, whole=False) if calls else []
            candidates.append({"content": {"role": "model", "parts": list[JsonValue](parts or [{"text": ""}])},
                               "finishReason": self._finish.get(index, "STOP"), "index": index})
        final = self._response(candidates)
        final["usageMetadata"] = usage_to(self.usage)
        return [final]

    def _collect_calls(self, index: int, delta: JsonObject) -> None:
        calls = delta.get("tool_calls")
        for call in c.objects(calls):
            slot = self._calls.setdefault(index, {}).setdefault(
                c.count_or_zero(call.get("index")), {"id": None, "function": {"name": "", "arguments": ""}})
            fn = c.object_field(call, "function")
            held = slot["function"]
            assert isinstance(held, dict)
            if call.get("id") is not None:
                slot["id"] = call["id"]
            if fn.get("name"):
                held["name"] = fn["name"]
            held["arguments"] = str(held["arguments"]) + str(fn.get("arguments") or "")

    def _response(self, candidates: list[JsonValue]) -> JsonObject:
        return {"candidates": candidates, "modelVersion": self.model, "responseId": self.response_id}
