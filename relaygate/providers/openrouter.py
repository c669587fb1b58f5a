"""OpenRouter: OpenAI's wire format at `https://openrouter.ai/api/v1`, with its optional attribution headers.

https://openrouter.ai/docs/api-reference/overview — `HTTP-Referer` and `X-Title` name the calling app.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field

from relaygate.core.records import ChannelRecord
from relaygate.core.types import CHAT, COMPLETIONS, RESPONSES
from relaygate.providers.base import CallSpec, ProviderOptions, options_of
from relaygate.providers.openai import OpenAIOptions, OpenAIProvider


class OpenRouterOptions(OpenAIOptions):
    site_url: str | None = Field(default=None, max_length=512, description="sent as HTTP-Referer (app attribution)")
    app_name: str | None = Field(default=None, max_length=128, description="sent as X-Title (app attribution)")


def api_root(base_url: str) -> str:
    """`https://openrouter.ai` means `https://openrouter.ai/api/v1`; a base URL with its own path is used as
    given."""
    return base_url + "/api/v1" if urlsplit(base_url).path in ("", "/") else base_url


class OpenRouterProvider(OpenAIProvider):
    name = "openrouter"
    # Its Responses API is stateless (https://openrouter.ai/docs/api/reference/responses/overview): no stored
    # responses to retrieve, delete or continue.
    serves: ClassVar[frozenset[str]] = frozenset({CHAT, COMPLETIONS, RESPONSES})
    options: ClassVar[type[ProviderOptions]] = OpenRouterOptions

    def target(self, channel: ChannelRecord, credential: str, call: CallSpec) -> tuple[str, dict[str, str]]:
        opts = options_of(channel, OpenRouterOptions)
        headers = {"Authorization": "Bearer " + credential}
        if opts.site_url:
            headers["HTTP-Referer"] = opts.site_url
        if opts.app_name:
            headers["X-Title"] = opts.app_name
        return api_root(channel.base_url) + call.path, headers
