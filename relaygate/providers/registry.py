"""Channel type name → provider; a new upstream type is one module and one line here."""

from __future__ import annotations

from relaygate.providers.base import Provider
from relaygate.providers.openai import OpenAIProvider

PROVIDERS: dict[str, Provider] = {
    "openai": OpenAIProvider(),
}


def provider_for(channel_type: str) -> Provider:
    return PROVIDERS[channel_type]
