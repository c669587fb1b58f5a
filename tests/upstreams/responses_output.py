"""What the fake OpenAI upstream answers on the Responses API: the Response object a request earns (echoing its
settings as OpenAI does), its usage, the items input_items lists, and the event sequence a stream of it carries."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from tests.upstreams.openai_wire import DEFAULT_REPLY, JSON_REPLY, TOOL_ARGUMENTS, split_pieces

REASONING_SUMMARY = "**Answering briefly** The user asked for a short answer, so one line will do."
FAILURE_MESSAGE = "The server had an error while processing your request. Sorry about that!"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


@dataclass(frozen=True)
class Model:
    """What the fake knows of the model a request names."""

    reasoning: bool
    reasoning_tokens: int
    reply: str | None


def skeleton(body: dict[str, Any], response_id: str, *, reasoning_model: bool) -> dict[str, Any]:
    """The Response before any output: the request's settings echoed with OpenAI's defaults filled in."""
    reasoning = body.get("reasoning") or {}
    text = body.get("text") or {}
    return {
        "id": response_id, "object": "response", "created_at": int(time.time()), "status": "in_progress",
        "background": bool(body.get("background")), "completed_at": None, "error": None, "incomplete_details": None,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"), "model": body["model"], "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": body.get("previous_response_id"), "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort") or ("medium" if reasoning_model else None),
                      "summary": reasoning.get("summary")},
        "safety_identifier": body.get("safety_identifier"), "service_tier": body.get("service_tier") or "default",
        "store": body.get("store") is not False,
        "temperature": 1.0 if body.get("temperature") is None else body["temperature"],
        "text": {"format": text.get("format") or {"type": "text"}, "verbosity": text.get("verbosity") or "medium"},
        "tool_choice": body.get("tool_choice") or "auto", "tools": list(body.get("tools") or []),
        "top_logprobs": body.get("top_logprobs") or 0, "top_p": 1.0 if body.get("top_p") is None else body["top_p"],
        "truncation": body.get("truncation") or "disabled", "usage": None, "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def words(text: str) -> int:
    return len(text.split())


def item_tokens(items: list[dict[str, Any]]) -> int:
    """Input tokens, counted as the fake counts them: words of every text, call and result, 3 more per message."""
    total = 0
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            total += 3 + words(message_text(item))
        elif kind == "function_call":
            total += words(item["name"]) + words(item["arguments"])
        elif kind == "function_call_output":
            total += words(output_text(item["output"]))
        elif kind == "reasoning":
            total += sum(words(s["text"]) for s in item.get("summary") or [])
    return total


def message_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return " ".join(str(p.get("text") or p.get("refusal") or "") for p in content or [])


def output_text(output: Any) -> str:
    return output if isinstance(output, str) else " ".join(str(p.get("text") or "") for p in output or [])


def answer(body: dict[str, Any], context: list[dict[str, Any]], response: dict[str, Any], model: Model, *,
           cached: int) -> dict[str, Any]:
    """The finished Response: a function call when the turn asks for one, else text; cut at max_output_tokens."""
    limit = body.get("max_output_tokens")
    budget = limit if isinstance(limit, int) else 10**9
    output: list[dict[str, Any]] = []
    reasoning = min(model.reasoning_tokens, budget) if model.reasoning else 0
    if model.reasoning:
        item: dict[str, Any] = {"id": new_id("rs"), "type": "reasoning", "summary": []}
        if response["reasoning"]["summary"] is not None:
            item["summary"] = [{"type": "summary_text", "text": REASONING_SUMMARY}]
        if "reasoning.encrypted_content" in (body.get("include") or []):
            item["encrypted_content"] = "gAAAAB" + secrets.token_hex(32)
        output.append(item)
    call = _call_name(body, context)
    produced, cut = 0, reasoning >= budget
    if call is not None and not cut:
        output.append({"id": new_id("fc"), "type": "function_call", "status": "completed", "arguments": TOOL_ARGUMENTS,
                       "call_id": new_id("call"), "name": call})
        produced = words(TOOL_ARGUMENTS)
    elif not cut:
        text = _reply(body, context, model.reply).split(" ")
        room = budget - reasoning
        cut = room < len(text)
        kept = " ".join(text[:room])
        produced = len(text[:room])
        output.append({"id": new_id("msg"), "type": "message", "status": "incomplete" if cut else "completed",
                       "role": "assistant", "content": [{"type": "output_text", "text": kept, "annotations": [],
                                                         "logprobs": []}]})
    prompt = item_tokens(context) + words(str(body.get("instructions") or ""))
    out = produced + reasoning
    return {**response, "status": "incomplete" if cut else "completed", "output": output,
            "completed_at": None if cut else int(time.time()),
            "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
            "usage": {"input_tokens": prompt,
                      "input_tokens_details": {"cached_tokens": min(cached, prompt), "cache_write_tokens": 0},
                      "output_tokens": out, "output_tokens_details": {"reasoning_tokens": reasoning},
                      "total_tokens": prompt + out}}


def _call_name(body: dict[str, Any], context: list[dict[str, Any]]) -> str | None:
    names = [t["name"] for t in body.get("tools") or [] if t.get("type") == "function"]
    choice = body.get("tool_choice")
    last = context[-1] if context else {}
    if not names or choice == "none" or last.get("type", "message") != "message" or last.get("role") != "user":
        return None
    if isinstance(choice, dict) and choice.get("type") == "function":
        return str(choice["name"])
    return names[0]


def _reply(body: dict[str, Any], context: list[dict[str, Any]], reply: str | None) -> str:
    fmt = ((body.get("text") or {}).get("format") or {}).get("type")
    if fmt in ("json_schema", "json_object"):
        return JSON_REPLY
    if reply is not None:
        return reply
    results: list[str] = []
    for item in reversed(context):  # the tool results that end the conversation, echoed back
        if item.get("type") != "function_call_output":
            break
        results.insert(0, output_text(item["output"]))
    return "The tool said: " + "; ".join(results) if results else DEFAULT_REPLY


def listed_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's input as GET /v1/responses/{id}/input_items lists it: every item with an id and a status."""
    raw = body.get("input")
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else list(raw or [])
    out = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            content = item["content"]
            parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else content
            if item["role"] == "assistant":
                parts = [p if p["type"] != "input_text" else {"type": "output_text", "text": p["text"],
                                                               "annotations": []} for p in parts]
            out.append({"id": item.get("id") or new_id("msg"), "type": "message", "role": item["role"],
                        "content": parts, "status": "completed"})
        else:
            prefix = {"function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}.get(kind, "item")
            out.append({**item, "id": item.get("id") or new_id(prefix), **(
                {"status": "completed"} if kind in ("function_call", "function_call_output") else {})})
    return out


@dataclass(frozen=True)
class StreamShape:
    """How a stream is cut into events: text pieces per delta run, and whether deltas carry obfuscation."""

    pieces: int
    obfuscation: bool


def stream_events(final: dict[str, Any], shape: StreamShape, *, queued: bool = False) -> list[dict[str, Any]]:
    """Every event a stream of `final` carries, in OpenAI's order, numbered from 0."""
    start = {**final, "status": "queued" if queued else "in_progress", "output": [], "usage": None,
             "completed_at": None, "incomplete_details": None}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": start}]
    if queued:
        events.append({"type": "response.queued", "response": start})
    events.append({"type": "response.in_progress", "response": {**start, "status": "in_progress"}})
    for index, item in enumerate(final["output"]):
        events += _item_events(index, item, shape)
    kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
    events.append({"type": kind, "response": final})
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


def _item_events(index: int, item: dict[str, Any], shape: StreamShape) -> list[dict[str, Any]]:
    where = {"item_id": item["id"], "output_index": index}
    events: list[dict[str, Any]] = []
    kind = item["type"]
    if kind == "message":
        events.append({"type": "response.output_item.added", "output_index": index,
                       "item": {**item, "status": "in_progress", "content": []}})
        for c, part in enumerate(item["content"]):
            at = {**where, "content_index": c}
            events.append({"type": "response.content_part.added", **at, "part": {**part, "text": ""}})
            for piece in split_pieces(part["text"], shape.pieces):
                delta = {"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []}
                events.append({**delta, "obfuscation": secrets.token_urlsafe(6)} if shape.obfuscation else delta)
            events.append({"type": "response.output_text.done", **at, "text": part["text"], "logprobs": []})
            events.append({"type": "response.content_part.done", **at, "part": part})
    elif kind == "function_call":
        events.append({"type": "response.output_item.added", "output_index": index,
                       "item": {**item, "status": "in_progress", "arguments": ""}})
        args = item["arguments"]
        for piece in (args[: len(args) // 2], args[len(args) // 2:]):
            delta = {"type": "response.function_call_arguments.delta", **where, "delta": piece}
            events.append({**delta, "obfuscation": secrets.token_urlsafe(6)} if shape.obfuscation else delta)
        events.append({"type": "response.function_call_arguments.done", **where, "name": item["name"],
                       "arguments": args})
    else:
        events.append({"type": "response.output_item.added", "output_index": index, "item": {**item, "summary": []}})
        for s, part in enumerate(item.get("summary") or []):
            at = {**where, "summary_index": s}
            events.append({"type": "response.reasoning_summary_part.added", **at,
                           "part": {"type": "summary_text", "text": ""}})
            for piece in split_pieces(part["text"], shape.pieces):
                events.append({"type": "response.reasoning_summary_text.delta", **at, "delta": piece})
            events.append({"type": "response.reasoning_summary_text.done", **at, "text": part["text"]})
            events.append({"type": "response.reasoning_summary_part.done", **at, "part": part})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def failed(final: dict[str, Any]) -> dict[str, Any]:
    """The Response a stream broken by the model ends with (`response.failed`)."""
    return {**final, "status": "failed", "output": [], "usage": None, "completed_at": None,
            "incomplete_details": None, "error": {"code": "server_error", "message": FAILURE_MESSAGE}}
