"""Typed inputs and outputs of operator actions; unknown fields are refused (no mass assignment)."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ChannelType = Literal["openai", "azure", "anthropic", "gemini"]
ChannelStatus = Literal["enabled", "disabled", "auto_disabled"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GroupIn(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    multiplier: float = Field(default=1.0, ge=0)
    description: str = Field(default="", max_length=255)


class GroupOut(GroupIn):
    model_config = ConfigDict(extra="ignore")


class UserIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    role: Literal["user", "admin"] = "user"
    group: str = Field(default="default", max_length=64)
    balance: int = Field(default=0, ge=0, description="quota units (500,000 = 1 USD)")


class UserPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    role: Literal["user", "admin"] | None = None
    group: str | None = Field(default=None, max_length=64)
    enabled: bool | None = None


class SelfPatch(Strict):
    """What users may change about themselves: only their display name."""

    name: str = Field(min_length=1, max_length=128)


class TopUp(Strict):
    amount: int = Field(gt=0, description="quota units to add")


class UserOut(BaseModel):
    id: int
    name: str
    role: str
    group: str
    balance: int
    used_quota: int
    enabled: bool
    created_at: float


class KeyLimits(Strict):
    name: str = Field(default="", max_length=128)
    quota: int | None = Field(default=None, ge=0, description="quota units; null = unlimited")
    expires_at: float | None = Field(default=None, description="unix time; null = never")
    allowed_models: list[str] | None = None
    allowed_ips: list[str] | None = Field(default=None, description="CIDR ranges")
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    group: str | None = Field(default=None, max_length=64)

    @field_validator("allowed_ips")
    @classmethod
    def _cidrs(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for cidr in value:
                ip_network(cidr, strict=False)
        return value


class KeyIn(KeyLimits):
    user_id: int
    key: str | None = Field(
        default=None, min_length=8, max_length=256,
        description="import an existing key value (migrations); default: a new sk- key",
    )


class KeyPatch(Strict):
    name: str | None = Field(default=None, max_length=128)
    quota: int | None = Field(default=None, ge=0)
    unlimited: bool | None = None
    expires_at: float | None = None
    allowed_models: list[str] | None = None
    allowed_ips: list[str] | None = None
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    group: str | None = None
    enabled: bool | None = None

    _cidrs = field_validator("allowed_ips")(KeyLimits._cidrs.__func__)  # type: ignore[attr-defined]


class KeyOut(BaseModel):
    id: int
    user_id: int
    name: str
    hint: str = Field(description="first and last characters; the key itself is never shown again")
    unlimited: bool
    remain_quota: int
    used_quota: int
    expires_at: float | None
    allowed_models: list[str] | None
    allowed_ips: list[str] | None
    rpm: int | None
    tpm: int | None
    group: str | None
    enabled: bool
    created_at: float


class KeyCreated(KeyOut):
    key: str = Field(description="shown once")


class ChannelOptionsIn(Strict):
    """Settings some channel types read; every field optional."""

    api_version: str | None = Field(default=None, max_length=64,
                                    description="azure: api-version; anthropic: anthropic-version")
    default_max_tokens: int | None = Field(default=None, ge=1,
                                           description="max_tokens for upstreams that require one (anthropic)")
    reasoning_models: list[str] = Field(default_factory=list,
                                        description="extra reasoning-model patterns (o1*, o3*, o4* always are)")
    system_as_user_models: list[str] = Field(
        default_factory=list, description="reasoning models that refuse system/developer roles")
    no_stream_models: list[str] = Field(
        default_factory=list, description="models that cannot stream upstream; streams are simulated")


class ChannelIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    type: ChannelType = "openai"
    base_url: str = Field(min_length=1, max_length=512, pattern=r"^https?://")
    credentials: list[str] = Field(min_length=1)
    models: list[str] = Field(min_length=1)
    model_mapping: dict[str, str] = Field(default_factory=dict)
    groups: list[str] = Field(default_factory=lambda: ["default"])
    priority: int = 0
    weight: int = Field(default=1, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    test_model: str | None = None
    options: ChannelOptionsIn = Field(default_factory=ChannelOptionsIn)


class ChannelPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    credentials: list[str] | None = Field(default=None, min_length=1)
    models: list[str] | None = Field(default=None, min_length=1)
    model_mapping: dict[str, str] | None = None
    groups: list[str] | None = None
    priority: int | None = None
    weight: int | None = Field(default=None, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    test_model: str | None = None
    options: ChannelOptionsIn | None = None
    status: Literal["enabled", "disabled"] | None = None


class ChannelOut(BaseModel):
    id: int
    name: str
    type: str
    base_url: str
    credential_count: int
    models: list[str]
    model_mapping: dict[str, str]
    groups: list[str]
    priority: int
    weight: int
    timeout: float | None
    status: str
    status_reason: str
    test_model: str | None
    options: ChannelOptionsIn
    created_at: float


class ChannelTestResult(BaseModel):
    ok: bool
    status: int | None
    latency_ms: float
    message: str


class PriceIn(Strict):
    input_per_1m: float = Field(default=0.0, ge=0, description="USD per 1M prompt tokens")
    output_per_1m: float | None = Field(default=None, ge=0, description="USD per 1M completion tokens")
    completion_ratio: float = Field(default=1.0, ge=0, description="output price = input × ratio when unset")
    per_call: float | None = Field(default=None, ge=0, description="USD per call")
    cache_read_per_1m: float | None = Field(default=None, ge=0,
                                            description="USD per 1M prompt tokens read from cache; null = input")
    cache_write_per_1m: float | None = Field(default=None, ge=0,
                                             description="USD per 1M prompt tokens written to cache; null = input")


class PriceOut(PriceIn):
    model_config = ConfigDict(extra="ignore")
    model: str


class LogOut(BaseModel):
    id: int
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
    cost: int
    latency_ms: float
    first_chunk_ms: float | None
    status: int
    error_code: str | None
