"""Internal value types shared by every layer: JSON aliases, endpoints, usage."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"


class Dialect(StrEnum):
    """A wire format a client speaks or an upstream answers in."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"


class Endpoint(StrEnum):
    """A relayed OpenAI endpoint; its value is the path under /v1."""

    CHAT = "/chat/completions"
    COMPLETIONS = "/completions"
    EMBEDDINGS = "/embeddings"

    @property
    def streams(self) -> bool:
        return self is not Endpoint.EMBEDDINGS


@dataclass(slots=True)
class Usage:
    """Tokens an answer consumed, as the upstream reported them or as counted locally."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    """Part of prompt_tokens read from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Part of prompt_tokens written to the provider's prompt cache."""
    counted_locally: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
