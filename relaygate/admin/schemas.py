"""Typed inputs and outputs of operator actions; unknown fields are refused (no mass assignment).

Every number and string is bounded (admin/fields.py) to what both databases hold, so no input can reach the
store as a value it would refuse, overflow or turn into a float.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from relaygate.admin.fields import (
    Amount,
    Cidrs,
    Description,
    GroupName,
    Groups,
    Id,
    Label,
    Mapping,
    ModelName,
    Models,
    Name,
    Note,
    Password,
    PerMinute,
    Positive32,
    Quota,
    Ratio,
    Seconds,
    Secret,
    Signed32,
    UnixTime,
    Url,
    Usd,
)
from relaygate.core.bounds import MAX_USD
from relaygate.providers.registry import PROVIDERS, options_model

ChannelStatus = Literal["enabled", "disabled", "auto_disabled"]
MidjourneyMode = Literal["fast", "relax", "turbo"]
KeyKind = Literal["client", "admin"]


class Strict(BaseModel):
    """Unknown fields refused, and no coercion: `true` is no balance and "5" no weight."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _known_type(value: str) -> str:
    if value not in PROVIDERS:
        raise ValueError(f"unknown channel type '{value}'; the types are {', '.join(PROVIDERS)}")
    return value


ChannelType = Annotated[str, AfterValidator(_known_type), Field(json_schema_extra={"enum": list(PROVIDERS)})]
"""A channel type: one of the provider registry's names."""


def check_options(channel_type: str, options: dict[str, Any]) -> dict[str, Any]:
    """A channel's options checked against its type's own options model; only the fields set are kept."""
    model = options_model(channel_type)
    return model.model_validate(options).model_dump(mode="json", exclude_unset=True)


def _options_schema(*, nullable: bool = False) -> dict[str, Any]:
    kinds: list[dict[str, Any]] = [p.options.model_json_schema() for p in PROVIDERS.values()]
    return {"description": "the channel type's own options: " + "; ".join(
        f"{name}: {', '.join(p.options.model_fields) or 'none'}" for name, p in PROVIDERS.items()),
        "anyOf": [*kinds, {"type": "null"}] if nullable else kinds}


def first_error(exc: ValidationError) -> ErrorDetails:
    """The error to name: an unknown field first, since a misspelt one is why its real name reads as missing."""
    errors = exc.errors(include_url=False, include_input=False)
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def where(loc: tuple[int | str, ...]) -> str:
    """A validation error's location as it reads in a body or file: channels[0].base_url."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class GroupIn(Strict):
    name: GroupName
    multiplier: Ratio = 1.0
    description: Description = ""


class GroupOut(BaseModel):
    name: str
    multiplier: float | None = Field(description="null: a stored value that is not a number (counts as 1)")
    description: str
    builtin: bool = Field(default=False, description="the `default` group every user starts in, not set yet")


class UserIn(Strict):
    name: Name
    role: Literal["user", "admin"] = "user"
    group: GroupName = "default"
    balance: Quota = 0
    password: Password | None = Field(default=None, description="to log in to the console (stored as argon2id)")


class UserPatch(Strict):
    name: Name | None = None
    role: Literal["user", "admin"] | None = None
    group: GroupName | None = None
    enabled: bool | None = None


class SelfPatch(Strict):
    """What users may change about themselves: only their display name."""

    name: Name


class TopUp(Strict):
    amount: Amount
    note: Note = ""


class BalanceSet(Strict):
    """Set a balance outright (a correction); reservations of requests in flight are refunded on top of it."""

    balance: Quota
    note: Note = ""


class UserOut(BaseModel):
    id: int
    name: str
    role: str
    group: str
    balance: int
    used_quota: int
    enabled: bool
    created_at: float
    has_password: bool = Field(default=False, description="whether the user can log in to the console")


class KeyLimits(Strict):
    name: Label = ""
    quota: Quota | None = Field(default=None, description="quota units; null = unlimited")
    expires_at: UnixTime | None = Field(default=None, description="unix time; null = never")
    allowed_models: Models | None = None
    allowed_ips: Cidrs | None = None
    rpm: PerMinute | None = None
    tpm: PerMinute | None = None
    group: GroupName | None = None
    mj_mode: MidjourneyMode | None = Field(default=None, description="MidJourney mode when the path names none "
                                           "(/mj/...); null = fast")


class KeyIn(KeyLimits):
    user_id: Id
    kind: KeyKind = Field(default="client", description="client: calls /v1; admin: calls /api (its user must "
                                                         "have the admin role)")
    key: str | None = Field(
        default=None, min_length=8, max_length=256, pattern=r"^[\x21-\x7e]+$",
        description="import an existing key value (migrations); default: a new sk- key",
    )


class KeyPatch(Strict):
    name: Label | None = None
    quota: Quota | None = None
    unlimited: bool | None = None
    expires_at: UnixTime | None = None
    allowed_models: Models | None = None
    allowed_ips: Cidrs | None = None
    rpm: PerMinute | None = None
    tpm: PerMinute | None = None
    group: GroupName | None = None
    enabled: bool | None = None
    mj_mode: MidjourneyMode | None = None


class KeyOut(BaseModel):
    id: int
    user_id: int
    kind: str
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
    name: Name
    type: ChannelType = "openai"
    base_url: Url
    credentials: list[Secret] = Field(min_length=1, max_length=1_000)
    models: Models = Field(min_length=1)
    model_mapping: Mapping = Field(default_factory=dict)
    groups: Groups = Field(default_factory=lambda: ["default"])
    priority: Signed32 = 0
    weight: Positive32 = 1
    timeout: Seconds | None = None
    test_model: ModelName | None = None
    options: dict[str, Any] = Field(default_factory=dict, json_schema_extra=_options_schema())

    @model_validator(mode="after")
    def _options_of_type(self) -> ChannelIn:
        self.options = check_options(self.type, self.options)
        return self


class ChannelPatch(Strict):
    name: Name | None = None
    base_url: Url | None = None
    credentials: list[Secret] | None = Field(default=None, min_length=1, max_length=1_000)
    models: Models | None = Field(default=None, min_length=1)
    model_mapping: Mapping | None = None
    groups: Groups | None = None
    priority: Signed32 | None = None
    weight: Positive32 | None = None
    timeout: Seconds | None = None
    test_model: ModelName | None = None
    options: dict[str, Any] | None = Field(default=None, json_schema_extra=_options_schema(nullable=True))
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


class PriceIn(Strict):
    input_per_1m: Usd = Field(default=0.0, description="USD per 1M prompt tokens")
    output_per_1m: Usd | None = Field(default=None, description="USD per 1M completion tokens")
    completion_ratio: Ratio = Field(default=1.0, description="output price = input × ratio when unset")
    per_call: Usd | None = Field(default=None, description="USD per call")
    cache_read_per_1m: Usd | None = Field(default=None,
                                          description="USD per 1M prompt tokens read from cache; null = input")
    cache_write_per_1m: Usd | None = Field(default=None,
                                           description="USD per 1M prompt tokens written to cache; null = input")
    image_input_per_1m: Usd | None = Field(default=None, description="USD per 1M prompt tokens that are images "
                                                                     "(gpt-image); null = input")
    per_1m_characters: Usd | None = Field(default=None, description="USD per 1M input characters (text to speech)")
    per_second: Usd | None = Field(default=None, description="USD per second of audio (transcription); "
                                                             "per_minute is accepted as input")
    per_image: dict[str, Usd] | None = Field(
        default=None, description='USD per image by `size/quality`, `size` or `*` (e.g. {"1024x1024/hd": 0.08})')

    @model_validator(mode="before")
    @classmethod
    def _per_minute(cls, data: Any) -> Any:
        """`per_minute` is accepted as input and stored per second."""
        if isinstance(data, dict) and "per_minute" in data:
            data = dict(data)
            minute = data.pop("per_minute")
            if data.get("per_second") is None and isinstance(minute, int | float) and not isinstance(minute, bool) \
                    and 0 <= minute <= MAX_USD:
                data["per_second"] = minute / 60
            elif minute is not None:
                raise ValueError("per_minute: a number of USD per minute of audio, at most 1,000,000, and no "
                                 "per_second beside it")
        return data

    @field_validator("per_image")
    @classmethod
    def _variants(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for variant in value or {}:
            if not variant or len(variant) > 64:
                raise ValueError("an image variant is `size/quality`, `size` or `*` (at most 64 characters)")
        if value is not None and len(value) > 100:
            raise ValueError("at most 100 image variants")
        return value

    @model_validator(mode="after")
    def _output_bounded(self) -> PriceIn:
        if self.output_per_1m is None and self.input_per_1m * self.completion_ratio > MAX_USD:
            raise ValueError(f"input_per_1m × completion_ratio must be at most {MAX_USD:,.0f} USD per 1M tokens")
        return self


class PriceOut(BaseModel):
    """A model's effective price; a stored value that is not a usable number reads back as null."""

    model: str
    input_per_1m: float | None
    output_per_1m: float | None
    completion_ratio: float | None
    per_call: float | None
    cache_read_per_1m: float | None
    cache_write_per_1m: float | None
    image_input_per_1m: float | None = None
    per_1m_characters: float | None = None
    per_second: float | None = None
    per_image: dict[str, float] | None = None
    source: Literal["operator", "default"] = Field(
        default="operator", description="operator: set through /api, the CLI or the YAML file; default: built in")


class LogQuery(Strict):
    key_id: Id | None = None
    user_id: Id | None = None
    model: ModelName | None = None
    request_id: Label | None = None
    status: str | None = Field(default=None, pattern=r"^(ok|error|[1-5][0-9][0-9])$",
                               description="ok (< 400), error (>= 400) or one HTTP status")
    since: UnixTime | None = None
    until: UnixTime | None = None
    before: Id | None = Field(default=None, description="only rows older than this log id (the next page)")
    limit: int = Field(default=100, ge=1, le=1000)


class AuditQuery(Strict):
    target: Description | None = None
    action: Label | None = None
    actor_user_id: Id | None = None
    since: UnixTime | None = None
    limit: int = Field(default=100, ge=1, le=1000)


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
    characters: int = 0
    audio_seconds: float = 0.0
    images: int = 0
    cost: int
    latency_ms: float
    first_chunk_ms: float | None
    status: int
    error_code: str | None


class AuditOut(BaseModel):
    id: int
    created_at: float
    actor: str = Field(description="who: 'key 3 (user 1 admin)', 'cli (root)', 'config file …', 'start-up'")
    actor_key_id: int | None
    actor_user_id: int | None
    request_id: str | None
    action: str = Field(description="what: user.create, key.rotate, price.set, …")
    target: str = Field(description="on what: 'user 5', 'channel 2', 'price gpt-4o', …")
    changes: dict[str, object] = Field(description="field → new value, or {from, to}; secrets never")
