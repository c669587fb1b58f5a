"""Azure OpenAI: OpenAI's wire format at deployment URLs, an `api-key` header and an api-version."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

from pydantic import Field

from relaygate.core.records import ChannelRecord
from relaygate.providers.base import CallSpec, ProviderOptions, options_of
from relaygate.providers.openai import OpenAIOptions, OpenAIProvider

API_VERSION = "2024-10-21"


class AzureOptions(OpenAIOptions):
    api_version: str | None = Field(default=None, max_length=64, description=f"api-version (default {API_VERSION})")


class AzureProvider(OpenAIProvider):
    """The model name (after mapping) is the deployment name."""

    name = "azure"
    options: ClassVar[type[ProviderOptions]] = AzureOptions

    def target(self, channel: ChannelRecord, credential: str, call: CallSpec) -> tuple[str, dict[str, str]]:
        version = options_of(channel, AzureOptions).api_version or API_VERSION
        root = channel.base_url.rstrip("/")
        deployment = quote(call.upstream_model, safe="")
        url = f"{root}/openai/deployments/{deployment}{call.path}?api-version={quote(version, safe='')}"
        return url, {"api-key": credential}

    def models_target(self, channel: ChannelRecord, credential: str) -> tuple[str, dict[str, str]]:
        version = options_of(channel, AzureOptions).api_version or API_VERSION
        return f"{channel.base_url.rstrip('/')}/openai/models?api-version={quote(version, safe='')}", {
            "api-key": credential}
