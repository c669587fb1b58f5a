"""Chat completions → OpenAI Responses API answers: the Response object a request starts, a whole chat.completion as
the finished Response, and a stream converter from chat.completion.chunk objects to Responses events (numbered, in
OpenAI's order). Item ids derive from the response id. Pure functions of their inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

from relaygate.core.types import JsonObject, JsonValue, Usage
from relaygate.protocols import content as c
from relaygate.protocols.responses import usage_to

INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
"""Chat finish reasons that leave a Response incomplete, with the reason its incomplete_details gives."""
_FORMATS = ("text", "json_object", "json_schema")


def response_object(body: JsonObject, *, response_id: str, created_at: int) -> JsonObject:
    """The Response `body` starts (in progress, no output): its settings echoed as OpenAI echoes them, defaults
    filled in; only function tools are listed, the ones a translated request carries."""
    reasoning = c.object_field(body, "reasoning")
    text = c.object_field(body, "text")
    fmt = c.object_field(text, "format")
    tools = [t for t in c.objects(body.get("tools")) if t.get("type") == "function" and isinstance(t.get("name"), str)]
    choice = body.get("tool_choice")
    return {
        "id": response_id, "object": "response", "created_at": created_at, "status": "in_progress",
        "background": False, "completed_at": None, "error": None, "incomplete_details": None,
        "instructions": _text_or_none(body.get("instructions")),
        "max_output_tokens": _number_or(body.get("max_output_tokens"), None, integer=True),
        "max_tool_calls": _number_or(body.get("max_tool_calls"), None, integer=True),
        "model": str(body.get("model") or ""), "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": _text_or_none(body.get("previous_response_id")),
        "prompt_cache_key": _text_or_none(body.get("prompt_cache_key")),
        "reasoning": {"effort": _text_or_none(reasoning.get("effort")),
                      "summary": _text_or_none(reasoning.get("summary"))},
        "safety_identifier": _text_or_none(body.get("safety_identifier")), "service_tier": "default",
        "store": body.get("store") is not False,
        "temperature": _number_or(body.get("temperature"), 1.0), "top_p": _number_or(body.get("top_p"), 1.0),
        "text": {"format": fmt if fmt.get("type") in _FORMATS else {"type": "text"},
                 "verbosity": _text_or_none(text.get("verbosity")) or "medium"},
        "tool_choice": choice if isinstance(choice, str | dict) and choice else "auto",
        "tools": list[JsonValue](tools), "top_logprobs": _number_or(body.get("top_logprobs"), 0, integer=True),
        "truncation": "disabled", "usage": None, "user": _text_or_none(body.get("user")),
        "metadata": c.object_field(body, "metadata"),
    }


def _text_or_none(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def _number_or(value: JsonValue, default: float | None, *, integer: bool = False) -> JsonValue:
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        return default
    return value


def summary_wanted(start: JsonObject) -> bool:
    """Whether the client asked for reasoning summaries (reasoning.summary); without, reasoning items are empty."""
    return c.object_field(start, "reasoning").get("summary") is not None


def item_id(start: JsonObject, prefix: str, index: int) -> str:
    """The id of output item `index` of the Response begun as `start` (msg_…, fc_…, rs_…, and call_… for call ids)."""
    return f"{prefix}_{str(start.get('id') or '').removeprefix('resp_')}_{index}"


def completion_to_response(completion: JsonObject, start: JsonObject, *, completed_at: int,
                           usage: Usage | None = None) -> JsonObject:
    """A chat.completion (first choice) as the finished Response begun as `start`; `usage` (counted by the relay)
    stands in when the completion reports none."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = c.object_field(choice, "message")
    finish = str(choice.get("finish_reason") or "stop")
    output: list[JsonValue] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        output.append(reasoning_item(item_id(start, "rs", 0), reasoning if summary_wanted(start) else None))
    parts: list[JsonValue] = []
    text = c.text_of(message.get("content"))
    if text:
        parts.append(text_part(text))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append({"type": "refusal", "refusal": refusal})
    if parts:
        status = "incomplete" if finish in INCOMPLETE_REASONS else "completed"
        output.append(message_item(item_id(start, "msg", len(output)), parts, status))
    for call in c.objects(message.get("tool_calls")):
        fn = c.object_field(call, "function")
        n = len(output)
        output.append(call_item(item_id(start, "fc", n), call_id=str(call.get("id") or item_id(start, "call", n)),
                                name=str(fn.get("name") or ""), arguments=str(fn.get("arguments") or "")))
    return finished(start, output, finish=finish, usage=c.parse_usage(completion.get("usage")) or usage or Usage(),
                    completed_at=completed_at)


def finished(start: JsonObject, output: list[JsonValue], *, finish: str, usage: Usage,
             completed_at: int) -> JsonObject:
    """The Response `start` ends as: completed, or incomplete (with the reason) when the answer was cut."""
    reason = INCOMPLETE_REASONS.get(finish)
    return {**start, "status": "completed" if reason is None else "incomplete", "output": output,
            "completed_at": completed_at if reason is None else None,
            "incomplete_details": None if reason is None else {"reason": reason}, "usage": usage_to(usage)}


def text_part(text: str) -> JsonObject:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, parts: list[JsonValue], status: str) -> JsonObject:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": parts}


def reasoning_item(item_id: str, summary: str | None) -> JsonObject:
    return {"id": item_id, "type": "reasoning",
            "summary": [] if summary is None else [{"type": "summary_text", "text": summary}]}


def call_item(item_id: str, *, call_id: str, name: str, arguments: str, status: str = "completed") -> JsonObject:
    return {"id": item_id, "type": "function_call", "status": status, "arguments": arguments, "call_id": call_id,
            "name": name}


# ---------------------------------------------------------------- streams

@dataclass(slots=True)
class _Item:
    """An output item being streamed: what it has gathered so far."""

    index: int
    kind: str
    item_id: str
    text: list[str] = field(default_factory=list)
    parts: list[JsonValue] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    status: str = "in_progress"


@dataclass(slots=True)
class ChunksToEvents:
    """chat.completion.chunk objects → Responses stream events (/v1/responses on a channel that speaks chat).

    Feed on_chunk() every chunk, then finish() at the stream's end, or fail() when the upstream broke it; `response`
    is then the Response the stream ended with (to keep for previous_response_id)."""

    start: JsonObject
    usage: Usage | None = None
    response: JsonObject | None = None
    _seq: int = 0
    _items: list[_Item] = field(default_factory=list)
    _open: _Item | None = None
    _part: str | None = None
    _calls: dict[int, _Item] = field(default_factory=dict)
    _finish: str = "stop"

    def on_chunk(self, chunk: JsonObject) -> list[JsonObject]:
        events = self._begin()
        usage = c.parse_usage(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        for choice in c.objects(chunk.get("choices")):
            if choice.get("index", 0) != 0:
                continue
            delta = c.object_field(choice, "delta")
            reasoning = delta.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                events += self._reasoning(reasoning)
            for kind in ("content", "refusal"):
                piece = delta.get(kind)
                if isinstance(piece, str) and piece:
                    events += self._text(kind, piece)
            for call in c.objects(delta.get("tool_calls")):
                events += self._call(call)
            if choice.get("finish_reason"):
                self._finish = str(choice["finish_reason"])
        return events

    def finish(self, *, completed_at: int, usage: Usage | None = None) -> list[JsonObject]:
        """The events that end a whole stream; `usage` (counted by the relay) stands in when the upstream sent none."""
        status = "incomplete" if self._finish in INCOMPLETE_REASONS else "completed"
        events = self._begin()
        self._open = None
        for item in self._items:
            if item.status == "in_progress":
                events += self._close(item, status)
        self.response = finished(self.start, [self._final(i) for i in self._items], finish=self._finish,
                                 usage=self.usage or usage or Usage(), completed_at=completed_at)
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return [*events, self._event(kind, response=self.response)]

    def fail(self, message: str, *, code: str = "server_error") -> list[JsonObject]:
        """The event that ends a stream the upstream broke: response.failed, with what was produced so far.
        `code` is one of the codes a Response error takes (server_error, rate_limit_exceeded, …)."""
        events = self._begin()
        for item in self._items:
            if item.status == "in_progress":
                item.status = "incomplete"
        output: list[JsonValue] = [self._final(i) for i in self._items]
        self.response = {**self.start, "status": "failed", "output": output,
                         "error": {"code": code, "message": message}}
        return [*events, self._event("response.failed", response=self.response)]

    def _event(self, kind: str, **fields: JsonValue) -> JsonObject:
        event: JsonObject = {"type": kind, **fields, "sequence_number": self._seq}
        self._seq += 1
        return event

    def _begin(self) -> list[JsonObject]:
        if self._seq:
            return []
        return [self._event("response.created", response=self.start),
                self._event("response.in_progress", response=self.start)]

    def _add(self, kind: str, prefix: str, *, call_id: str | None = None, name: str = "") -> tuple[_Item, JsonObject]:
        index = len(self._items)
        item = _Item(index=index, kind=kind, item_id=item_id(self.start, prefix, index), name=name,
                     call_id=call_id or item_id(self.start, "call", index))
        self._items.append(item)
        return item, self._event("response.output_item.added", output_index=index, item=self._final(item))

    def _at(self, item: _Item) -> JsonObject:
        return {"item_id": item.item_id, "output_index": item.index}

    def _reasoning(self, piece: str) -> list[JsonObject]:
        events: list[JsonObject] = []
        summary = summary_wanted(self.start)
        if self._open is None or self._open.kind != "reasoning":
            events += self._close_open()
            self._open, added = self._add("reasoning", "rs")
            events.append(added)
            if summary:
                events.append(self._event("response.reasoning_summary_part.added", **self._at(self._open),
                                          summary_index=0, part={"type": "summary_text", "text": ""}))
        self._open.text.append(piece)
        if summary:
            events.append(self._event("response.reasoning_summary_text.delta", **self._at(self._open),
                                      summary_index=0, delta=piece))
        return events

    def _text(self, kind: str, piece: str) -> list[JsonObject]:
        events: list[JsonObject] = []
        if self._open is None or self._open.kind != "message":
            events += self._close_open()
            self._open, added = self._add("message", "msg")
            events.append(added)
        item = self._open
        part = "output_text" if kind == "content" else "refusal"
        if self._part != part:
            events += self._close_part(item)
            self._part = part
            empty: JsonObject = text_part("") if part == "output_text" else {"type": "refusal", "refusal": ""}
            events.append(self._event("response.content_part.added", **self._at(item),
                                      content_index=len(item.parts), part=empty))
        item.text.append(piece)
        at = {**self._at(item), "content_index": len(item.parts)}
        if part == "output_text":
            return [*events, self._event("response.output_text.delta", **at, delta=piece, logprobs=[])]
        return [*events, self._event("response.refusal.delta", **at, delta=piece)]

    def _call(self, call: JsonObject) -> list[JsonObject]:
        events: list[JsonObject] = []
        index = c.count_or_zero(call.get("index"))
        fn = c.object_field(call, "function")
        item = self._calls.get(index)
        if item is None or (call.get("id") is not None and call.get("id") != item.call_id):
            events += self._close_open()
            call_id = call.get("id")
            item, added = self._add("function_call", "fc", call_id=call_id if isinstance(call_id, str) else None,
                                    name=str(fn.get("name") or ""))
            self._calls[index] = item
            events.append(added)
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            item.text.append(args)
            events.append(self._event("response.function_call_arguments.delta", **self._at(item), delta=args))
        return events

    def _close_part(self, item: _Item) -> list[JsonObject]:
        if self._part is None:
            return []
        text, at = "".join(item.text), {**self._at(item), "content_index": len(item.parts)}
        item.text.clear()
        if self._part == "output_text":
            part = text_part(text)
            events = [self._event("response.output_text.done", **at, text=text, logprobs=[])]
        else:
            part = {"type": "refusal", "refusal": text}
            events = [self._event("response.refusal.done", **at, refusal=text)]
        item.parts.append(part)
        self._part = None
        return [*events, self._event("response.content_part.done", **at, part=part)]

    def _close_open(self) -> list[JsonObject]:
        """Close the text or reasoning item being streamed: another kind of output follows it."""
        item, self._open = self._open, None
        return self._close(item, "completed") if item is not None else []

    def _close(self, item: _Item, status: str) -> list[JsonObject]:
        events: list[JsonObject] = []
        if item.kind == "message":
            events += self._close_part(item)
        elif item.kind == "reasoning" and summary_wanted(self.start):
            text = "".join(item.text)
            part: JsonObject = {"type": "summary_text", "text": text}
            events += [self._event("response.reasoning_summary_text.done", **self._at(item), summary_index=0,
                                   text=text),
                       self._event("response.reasoning_summary_part.done", **self._at(item), summary_index=0,
                                   part=part)]
        elif item.kind == "function_call":
            events.append(self._event("response.function_call_arguments.done", **self._at(item),
                                      arguments="".join(item.text)))
        item.status = "completed" if item.kind == "function_call" else status
        return [*events, self._event("response.output_item.done", output_index=item.index, item=self._final(item))]

    def _final(self, item: _Item) -> JsonObject:
        """The item as it stands: empty when just added, else with all it gathered (a part still open included)."""
        fresh = item.status == "in_progress"
        if item.kind == "message":
            parts = list(item.parts)
            if item.text and not fresh:
                text = "".join(item.text)
                parts.append(text_part(text) if self._part == "output_text" else {"type": "refusal", "refusal": text})
            return message_item(item.item_id, parts if not fresh else [], item.status)
        if item.kind == "function_call":
            return call_item(item.item_id, call_id=item.call_id, name=item.name,
                             arguments="" if fresh else "".join(item.text), status=item.status)
        summary = "".join(item.text) if summary_wanted(self.start) and not fresh else None
        return reasoning_item(item.item_id, summary)
