"""Typed inputs and outputs of operator actions; unknown fields are refused (no mass assignment)."""

from __future__ import annotations

import math
from ipaddress import ip_network
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from relaygate.providers.registry import PROVIDERS, options_model

ChannelStatus = Literal["enabled", "disabled", "auto_disabled"]
MidjourneyMode = Literal["fast", "relax", "turbo"]


def _known_type(value: str) -> str:
    if value not in PROVIDERS:
        raise ValueError(f"unknown channel type '{value}'; the types are {', '.join(PROVIDERS)}")
    return value


ChannelType = Annotated[str, AfterValidator(_known_type), Field(json_schema_extra={"enum": list(PROVIDERS)})]
"""A channel type: one of the provider registry's names."""


def check_options(channel_type: str, options: dict[str, Any]) -> dict[str, Any]:
    """A channel's options checked against its type's own options model; only the fields set are kept."""
    return options_model(channel_type).model_validate(options).model_dump(mode="json", exclude_unset=True)


def _options_schema() -> dict[str, Any]:
    return {"description": "the channel type's options: " + "; ".join(
        f"{name}: {', '.join(p.options.model_fields) or 'none'}" for name, p in PROVIDERS.items()),
        "anyOf": [p.options.model_json_schema() for p in PROVIDERS.values()]}


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
    mj_mode: MidjourneyMode | None = Field(default=None, description="MidJourney mode when the path names none "
                                           "(/mj/...); null = fast")

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
    mj_mode: MidjourneyMode | None = None

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
    mj_mode: str | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="shown once")


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
    options: dict[str, Any] = Field(default_factory=dict, json_schema_extra=_options_schema())

    @model_validator(mode="after")
    def _options_of_type(self) -> ChannelIn:
        self.options = check_options(self.type, self.options)
        return self


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
    options: dict[str, Any] | None = Field(default=None, json_schema_extra=_options_schema())
    """Checked against the channel's type by the operator verb (the patch does not name the type)."""
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
    options: dict[str, Any]
    created_at: float


class ChannelTestResult(BaseModel):
    ok: bool
    status: int | None
    latency_ms: float
    message: str


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


USD = Annotated[float, Field(ge=0, le=1e6), AfterValidator(_finite)]
"""A price in USD: finite, not negative, at most a million (per 1M units, per call, per second or per image)."""


class PriceIn(Strict):
    input_per_1m: USD = Field(default=0.0, description="USD per 1M prompt tokens")
    output_per_1m: USD | None = Field(default=None, description="USD per 1M completion tokens")
    completion_ratio: float = Field(default=1.0, ge=0, le=1e4, description="output price = input × ratio when unset")
    per_call: USD | None = Field(default=None, description="USD per call")
    cache_read_per_1m: USD | None = Field(default=None, description="USD per 1M prompt tokens read from cache; "
                                                                    "null = input")
    cache_write_per_1m: USD | None = Field(default=None, description="USD per 1M prompt tokens written to cache; "
                                                                     "null = input")
    image_input_per_1m: USD | None = Field(default=None, description="USD per 1M prompt tokens that are images "
                                                                     "(gpt-image); null = input")
    per_1m_characters: USD | None = Field(default=None, description="USD per 1M input characters (text to speech)")
    per_second: USD | None = Field(default=None, description="USD per second of audio (transcription)")
    per_image: dict[str, USD] | None = Field(
        default=None, description="USD per image by `size/quality`, `size` or `*` (e.g. {\"1024x1024/hd\": 0.08})")

    @model_validator(mode="before")
    @classmethod
    def _per_minute(cls, data: Any) -> Any:
        """`per_minute` is accepted as input and stored per second."""
        if isinstance(data, dict) and "per_minute" in data:
            data = dict(data)
            minute = data.pop("per_minute")
            if data.get("per_second") is None and isinstance(minute, int | float) and not isinstance(minute, bool):
                data["per_second"] = minute / 60
            elif minute is not None:
                raise ValueError("per_minute: a number of USD per minute of audio (and no per_second beside it)")
        return data

    @field_validator("per_image")
    @classmethod
    def _variants(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for variant in value or {}:
            if not variant or len(variant) > 64:
                raise ValueError("an image variant is `size/quality`, `size` or `*` (at most 64 characters)")
        return value


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
