"""Channel type name → provider; a new upstream type is one module and one line here."""

from __future__ import annotations

from relaygate.providers.anthropic import AnthropicProvider
from relaygate.providers.azure import AzureProvider
from relaygate.providers.base import Provider
from relaygate.providers.gemini import GeminiProvider
from relaygate.providers.openai import OpenAIProvider

PROVIDERS: dict[str, Provider] = {
    "openai": OpenAIProvider(),
    "azure": AzureProvider(),
    "anthropic": AnthropicProvider(),
    "gemini": GeminiProvider(),
}


def provider_for(channel_type: str) -> Provider:
    return PROVIDERS[channel_type]
