"""OpenAI reasoning models (o1, o3, o4 and any the operator names): what they accept, fixed up in the body."""

from __future__ import annotations

import logging
from fnmatch import fnmatchcase
from typing import Protocol

from relaygate.core.types import JsonObject, JsonValue
from relaygate.protocols.content import text_of

log = logging.getLogger("relaygate.providers")

REASONING_PATTERNS = ("o1", "o1-*", "o3", "o3-*", "o4", "o4-*")
SYSTEM_AS_USER_PATTERNS = ("o1-mini", "o1-mini-*", "o1-preview", "o1-preview-*")
"""Early o1 models refuse both the system and the developer role."""
UNSUPPORTED = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
               "logit_bias")


class ReasoningRules(Protocol):
    """The channel options that name reasoning models beyond the built-in patterns."""

    @property
    def reasoning_models(self) -> tuple[str, ...]: ...

    @property
    def system_as_user_models(self) -> tuple[str, ...]: ...

    @property
    def no_stream_models(self) -> tuple[str, ...]: ...


def _matches(model: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(model, p) for p in patterns)


def is_reasoning(model: str, options: ReasoningRules) -> bool:
    return _matches(model, REASONING_PATTERNS) or _matches(model, options.reasoning_models)


def cannot_stream(model: str, options: ReasoningRules) -> bool:
    return _matches(model, options.no_stream_models)


def adapt(body: JsonObject, model: str, options: ReasoningRules, *, stream: bool) -> JsonObject:
    """The chat body a reasoning model accepts: max_completion_tokens, developer (or user) role, no sampling."""
    out = dict(body)
    if "max_tokens" in out:
        limit = out.pop("max_tokens")
        out.setdefault("max_completion_tokens", limit)
    dropped = [name for name in UNSUPPORTED if name in out and not (name == "temperature" and out[name] == 1)]
    for name in dropped:
        del out[name]
    if dropped:
        log.info("dropped parameters %s that reasoning model %s does not accept", ", ".join(dropped), model)
    messages = out.get("messages")
    if isinstance(messages, list):
        merge = _matches(model, SYSTEM_AS_USER_PATTERNS) or _matches(model, options.system_as_user_models)
        out["messages"] = _merge_system(messages) if merge else [_developer(m) for m in messages]
    if stream and cannot_stream(model, options):
        out.pop("stream", None)
        out.pop("stream_options", None)
    return out


def _developer(message: JsonValue) -> JsonValue:
    if isinstance(message, dict) and message.get("role") == "system":
        return {**message, "role": "developer"}
    return message


def _merge_system(messages: list[JsonValue]) -> list[JsonValue]:
    """System and developer text joins the first user message, for models that refuse both roles."""
    system = [text_of(m.get("content")) for m in messages
              if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    rest = [m for m in messages if not (isinstance(m, dict) and m.get("role") in ("system", "developer"))]
    instructions = "\n\n".join(t for t in system if t)
    if not instructions:
        return rest
    for i, message in enumerate(rest):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                rest[i] = {**message, "content": [{"type": "text", "text": instructions + "\n\n"}, *content]}
            else:
                rest[i] = {**message, "content": instructions + "\n\n" + text_of(content)}
            return rest
    return [{"role": "user", "content": instructions}, *rest]
