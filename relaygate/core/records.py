"""Immutable views of the operator's configuration that the hot path reads from memory."""

from __future__ import annotations

from collections.abc import Mapping
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
    mj_mode: str | None = None
    """The MidJourney mode (fast, relax, turbo) for submissions whose path names none; None means fast."""

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
    options: object = field(default=None, hash=False)
    """The channel type's own options: its provider's options model once the catalog has read them (see
    providers.registry.with_options), the stored JSON object before."""

    @property
    def enabled(self) -> bool:
        return self.status == "enabled"

    def upstream_model(self, model: str) -> str:
        return self.model_mapping.get(model, model)


@dataclass(frozen=True, slots=True)
class PriceRecord:
    """A model's price in USD, in every unit: per 1M input/output tokens, per call, per 1M characters, per
    second of audio, per image (by `size/quality` variant). Unset units cost nothing."""

    model: str
    input_per_1m: float = 0.0
    output_per_1m: float = 0.0
    per_call: float | None = None
    cache_read_per_1m: float | None = None
    """Prompt tokens read from the provider's cache; None = the input price."""
    cache_write_per_1m: float | None = None
    """Prompt tokens written to the provider's cache (Anthropic); None = the input price."""
    image_input_per_1m: float | None = None
    """Prompt tokens that are images (gpt-image); None = the input price."""
    per_1m_characters: float | None = None
    per_second: float | None = None
    per_image: Mapping[str, float] = field(default_factory=dict, hash=False)
    """USD per image by variant: `1024x1024/hd`, `1024x1024`, or `*` for any other."""

    def image_price(self, variant: str) -> float:
        """The per-image price of `size/quality`: that variant, else its size alone, else `*`, else 0."""
        prices = self.per_image
        if not prices:
            return 0.0
        found = prices.get(variant)
        if found is None and "/" in variant:
            found = prices.get(variant.split("/", 1)[0])
        return found if found is not None else prices.get("*", 0.0)


@dataclass(slots=True)
class LogRow:
    """One request's log row; the store derives its columns from these fields (the charged cost is added by
    the ledger inside the transaction that charges it)."""

    created_at: float
    request_id: str
    key_id: int | None
    user_id: int | None
    channel_id: int | None
    endpoint: str
    model: str
    upstream_model: str
    is_stream: bool
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    characters: int
    audio_seconds: float
    images: int
    latency_ms: float
    first_chunk_ms: float | None
    status: int
    error_code: str | None


@dataclass(frozen=True, slots=True)
class GroupRecord:
    name: str
    multiplier: float


@dataclass(frozen=True, slots=True)
class AllToolsRecord:
    """An operator's mark on a model: it reads the files and images its messages name, then answers with
    `base_model` (vision and context window given, or None for what relaygate knows of the base model)."""

    model: str
    base_model: str
    vision: bool | None = None
    context_tokens: int | None = None
    enabled: bool = True
