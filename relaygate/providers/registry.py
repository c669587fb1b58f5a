"""Channel type name → provider: the only list of upstream types (admin schemas, the CLI and the OpenAPI document
derive theirs from it). A new upstream type is one module and one line here."""

from __future__ import annotations

import dataclasses

from relaygate.core.records import ChannelRecord
from relaygate.providers.anthropic import AnthropicProvider
from relaygate.providers.azure import AzureProvider
from relaygate.providers.base import Provider, ProviderOptions, read_options
from relaygate.providers.gemini import GeminiProvider
from relaygate.providers.midjourney import MidjourneyProvider
from relaygate.providers.openai import OpenAIProvider
from relaygate.providers.openrouter import OpenRouterProvider

PROVIDERS: dict[str, Provider] = {
    "openai": OpenAIProvider(),
    "azure": AzureProvider(),
    "anthropic": AnthropicProvider(),
    "gemini": GeminiProvider(),
    "openrouter": OpenRouterProvider(),
    "midjourney": MidjourneyProvider(),
}


def provider_for(channel_type: str) -> Provider:
    return PROVIDERS[channel_type]


def options_model(channel_type: str) -> type[ProviderOptions]:
    return PROVIDERS[channel_type].options


def with_options(channel: ChannelRecord) -> ChannelRecord:
    """The channel with its stored options read into its type's options model (once, when the catalog loads)."""
    provider = PROVIDERS.get(channel.type)
    if provider is None:
        return channel
    return dataclasses.replace(channel, options=read_options(provider.options, channel.options))
