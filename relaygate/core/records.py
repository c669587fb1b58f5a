"""Immutable views of the operator's configuration that the hot path reads from memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network

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


@dataclass(frozen=True, slots=True)
class GroupRecord:
    name: str
    multiplier: float
