"""Immutable views of the operator's configuration that the hot path reads from memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from typing import Any

Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An API key as the relay needs it: who owns it and what it may do."""

    id: int
    user_id: int
    kind: str
    name: str
    hint: str
    group: str
    unlimited: bool
    expires_at: float | None
    allowed_models: frozenset[str] | None
    allowed_networks: tuple[Network, ...] | None
    rpm: int | None
    tpm: int | None
    enabled: bool
    user_enabled: bool
    user_role: str

    def usable_at(self, now: float) -> bool:
        return self.enabled and self.user_enabled and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """Per-channel settings some upstream types read (Azure's api version, Claude's defaults, o1 rules)."""

    api_version: str | None = None
    """Azure OpenAI `api-version`; Anthropic `anthropic-version` (defaults differ per type)."""
    default_max_tokens: int | None = None
    """max_tokens sent to upstreams that require it when the client set none (Anthropic)."""
    reasoning_models: tuple[str, ...] = ()
    """Extra model patterns treated as reasoning models (o1*, o3*, o4* always are)."""
    system_as_user_models: tuple[str, ...] = ()
    """Reasoning models that refuse system and developer roles: the system text joins the first user turn."""
    no_stream_models: tuple[str, ...] = ()
    """Models that cannot stream upstream: a stream request is answered as a stream of the finished answer."""

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> ChannelOptions:
        if not value:
            return cls()
        return cls(
            api_version=value.get("api_version"),
            default_max_tokens=value.get("default_max_tokens"),
            reasoning_models=tuple(value.get("reasoning_models") or ()),
            system_as_user_models=tuple(value.get("system_as_user_models") or ()),
            no_stream_models=tuple(value.get("no_stream_models") or ()),
        )


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """An upstream account: where to send a model's requests and how."""

    id: int
    name: str
    type: str
    base_url: str
    credentials: tuple[str, ...]
    models: tuple[str, ...]
    model_mapping: dict[str, str] = field(hash=False)
    groups: tuple[str, ...]
    priority: int
    weight: int
    timeout: float | None
    status: str
    test_model: str | None
    options: ChannelOptions = field(default_factory=lambda: ChannelOptions(), hash=False)

    @property
    def enabled(self) -> bool:
        return self.status == "enabled"

    def upstream_model(self, model: str) -> str:
        return self.model_mapping.get(model, model)


@dataclass(frozen=True, slots=True)
class PriceRecord:
    """A model's price in USD: per 1M input/output tokens and/or a fixed price per call."""

    model: str
    input_per_1m: float
    output_per_1m: float
    per_call: float | None = None
    cache_read_per_1m: float | None = None
    """Prompt tokens read from the provider's cache; None = the input price."""
    cache_write_per_1m: float | None = None
    """Prompt tokens written to the provider's cache (Anthropic); None = the input price."""


@dataclass(frozen=True, slots=True)
class GroupRecord:
    name: str
    multiplier: float
