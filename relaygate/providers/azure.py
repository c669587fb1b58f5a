"""Azure OpenAI: OpenAI's wire format at deployment URLs, an `api-key` header and an api-version."""

from __future__ import annotations

from urllib.parse import quote

from relaygate.core.records import ChannelRecord
from relaygate.providers.base import CallSpec
from relaygate.providers.openai import OpenAIProvider

API_VERSION = "2024-10-21"


class AzureProvider(OpenAIProvider):
    """The model name (after mapping) is the deployment name."""

    name = "azure"

    def target(self, channel: ChannelRecord, credential: str, call: CallSpec) -> tuple[str, dict[str, str]]:
        version = channel.options.api_version or API_VERSION
        root = channel.base_url.rstrip("/")
        deployment = quote(call.upstream_model, safe="")
        url = f"{root}/openai/deployments/{deployment}{call.endpoint.value}?api-version={quote(version, safe='')}"
        return url, {"api-key": credential, "Content-Type": "application/json"}
