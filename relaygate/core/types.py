"""Internal value types shared by every layer: JSON aliases, dialects, usage in every unit."""

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


CHAT = "chat"
COMPLETIONS = "completions"
EMBEDDINGS = "embeddings"
RESPONSES = "responses"
RESPONSE_RETRIEVE = "responses.retrieve"
RESPONSE_DELETE = "responses.delete"
RESPONSE_CANCEL = "responses.cancel"
RESPONSE_INPUT_ITEMS = "responses.input_items"
RESPONSE_INPUT_TOKENS = "responses.input_tokens"
SPEECH = "speech"
TRANSCRIPTIONS = "transcriptions"
TRANSLATIONS = "translations"
IMAGE_GENERATIONS = "image_generations"
IMAGE_EDITS = "image_edits"
IMAGE_VARIATIONS = "image_variations"
MIDJOURNEY = "midjourney"
"""Names of the operations every layer may speak of (an operation module declares its own; a provider lists
the names it serves)."""
STORED_RESPONSES = frozenset({RESPONSE_RETRIEVE, RESPONSE_DELETE, RESPONSE_CANCEL, RESPONSE_INPUT_ITEMS,
                              RESPONSE_INPUT_TOKENS})
"""The Responses API's routes about responses an upstream keeps (retrieve, delete, cancel, input items) or could
continue (input tokens): served by the upstreams that keep them."""


@dataclass(slots=True)
class Usage:
    """What an answer consumed, in every unit a price can carry, as the upstream reported it or as measured."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    """Part of prompt_tokens read from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Part of prompt_tokens written to the provider's prompt cache."""
    image_tokens: int = 0
    """Part of prompt_tokens that were images (gpt-image input images have a price of their own)."""
    characters: int = 0
    """Input characters (code points) of a per-character operation (text to speech)."""
    seconds: float = 0.0
    """Seconds of audio of a per-second operation (transcription)."""
    images: int = 0
    """Images produced by a per-image operation."""
    image_variant: str = ""
    """Which per-image price applies: `size/quality` (e.g. `1024x1024/hd`), `size`, or "" for the default."""
    calls: int = 1
    counted_locally: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
