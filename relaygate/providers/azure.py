"""Azure OpenAI: OpenAI's wire format at deployment URLs, an `api-key` header and an api-version."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

from pydantic import Field

from relaygate.core.records import ChannelRecord
from relaygate.providers.base import CallSpec, ProviderOptions, options_of
from relaygate.providers.openai import OpenAIOptions, OpenAIProvider
from relaygate.providers.openai_responses import RESPONSE_OPERATIONS

API_VERSION = "2024-10-21"
RESPONSES_API_VERSION = "2025-04-01-preview"
"""The api-version of Responses API calls when the channel's own is older than Azure serves them on."""
RESPONSES_SINCE = "2025-03-01"
"""https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses — the first api-version of Azure's
Responses API (2025-03-01-preview)."""


class AzureOptions(OpenAIOptions):
    api_version: str | None = Field(default=None, max_length=64, description=f"api-version (default {API_VERSION}; "
                                    f"Responses API calls use {RESPONSES_API_VERSION} when this is older)")


class AzureProvider(OpenAIProvider):
    """The model name (after mapping) is the deployment name: in the URL, or in the body of a Responses API call
    (Azure serves that API at /openai/responses, for every deployment of the resource)."""

    name = "azure"
    options: ClassVar[type[ProviderOptions]] = AzureOptions

    def target(self, channel: ChannelRecord, credential: str, call: CallSpec) -> tuple[str, dict[str, str]]:
        version = options_of(channel, AzureOptions).api_version or API_VERSION
        root = channel.base_url.rstrip("/")
        if call.operation in RESPONSE_OPERATIONS:
            if version[:10] < RESPONSES_SINCE:
                version = RESPONSES_API_VERSION
            joint = "&" if "?" in call.path else "?"
            return f"{root}/openai{call.path}{joint}api-version={quote(version, safe='')}", {"api-key": credential}
        deployment = quote(call.upstream_model, safe="")
        url = f"{root}/openai/deployments/{deployment}{call.path}?api-version={quote(version, safe='')}"
        return url, {"api-key": credential}

    def models_target(self, channel: ChannelRecord, credential: str) -> tuple[str, dict[str, str]]:
        version = options_of(channel, AzureOptions).api_version or API_VERSION
        return f"{channel.base_url.rstrip('/')}/openai/models?api-version={quote(version, safe='')}", {
            "api-key": credential}
