"""Typed inputs and outputs of the console's own routes: log-in, passwords, self-service keys, redemption codes,
dashboards and the OpenAI-style billing answers. Unknown input fields are refused, as everywhere in /api."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from relaygate.admin.fields import Amount, Cidrs, Label, Models, Name, Password, PerMinute, Quota, UnixTime
from relaygate.admin.schemas import Strict, UserOut

QUOTA_PER_USD = 500_000
CODE_PATTERN = r"^[A-Za-z0-9_-]{12,128}$"


class LoginIn(Strict):
    username: Name
    password: str = Field(min_length=1, max_length=256)


class RegisterIn(Strict):
    username: Name
    password: Password


class SessionOut(BaseModel):
    """Who is logged in (user null before log-in) and what the console needs to know about the server."""

    user: UserOut | None
    csrf_token: str | None = Field(default=None, description="send as X-CSRF-Token with every change")
    registration: bool = Field(description="whether people may create their own account")
    time_zone: str = Field(description="the zone days are counted in")
    quota_per_usd: int = QUOTA_PER_USD


class PasswordSet(Strict):
    """An admin sets (or resets) a user's password; the user's sessions end."""

    password: Password


class PasswordChange(Strict):
    """Users change their own password, knowing the current one; their other sessions end."""

    current_password: str = Field(min_length=1, max_length=256)
    new_password: Password


class SelfKeyIn(Strict):
    """A key users issue themselves: a client key of their own, never another group."""

    name: Label = ""
    quota: Quota | None = Field(default=None, description="quota units; null = unlimited (the balance still bounds)")
    expires_at: UnixTime | None = Field(default=None, description="unix time; null = never")
    allowed_models: Models | None = None
    allowed_ips: Cidrs | None = None
    rpm: PerMinute | None = None
    tpm: PerMinute | None = None


class SelfKeyPatch(Strict):
    name: Label | None = None
    quota: Quota | None = None
    unlimited: bool | None = None
    expires_at: UnixTime | None = None
    allowed_models: Models | None = None
    allowed_ips: Cidrs | None = None
    rpm: PerMinute | None = None
    tpm: PerMinute | None = None
    enabled: bool | None = None


class CodesIn(Strict):
    count: int = Field(ge=1, le=1000, description="how many codes")
    amount: Amount = Field(description="quota units each code adds (500,000 = 1 USD)")
    expires_at: UnixTime | None = Field(default=None, description="unix time; null = never")
    name: Label = Field(default="", description="a label for the batch")


class CodeOut(BaseModel):
    id: int
    hint: str = Field(description="the code's first and last characters; the code itself is shown once")
    name: str
    amount: int
    created_at: float
    expires_at: float | None
    redeemed_at: float | None
    redeemed_by: int | None
    status: Literal["unused", "redeemed", "expired"]


class CodesCreated(BaseModel):
    codes: list[str] = Field(description="shown once; only their hashes are kept")
    created: list[CodeOut]


class RedeemIn(Strict):
    code: str = Field(min_length=1, max_length=256)


class RedeemOut(BaseModel):
    amount: int = Field(description="quota units added")
    amount_usd: float
    balance: int
    balance_usd: float


class DashboardQuery(Strict):
    range: Literal["24h", "7d", "30d", "90d"] = "7d"
    granularity: Literal["hour", "day"] | None = Field(default=None, description="default: hour for 24h, else day")


class Figures(BaseModel):
    requests: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    tokens: int
    cost: int = Field(description="quota units")
    cost_usd: float


class Point(Figures):
    start: float = Field(description="unix time the hour or day begins")


class ModelUsage(Figures):
    model: str


class ChannelUsage(Figures):
    channel_id: int | None
    name: str


class DashboardOut(BaseModel):
    time_zone: str
    today_start: float
    today: Figures
    models_today: list[ModelUsage]
    range: str
    granularity: Literal["hour", "day"]
    series: list[Point]
    models: list[ModelUsage] = Field(description="the range's usage per model, most spent first")
    channels: list[ChannelUsage] = Field(description="the range's usage per channel (admin only)")
    balance: int | None = Field(default=None, description="the caller's balance (self-service dashboard)")
    balance_usd: float | None = None
    used_quota: int | None = None
    quota_per_usd: int = QUOTA_PER_USD


class OptionField(BaseModel):
    name: str
    kind: Literal["list", "integer", "number", "text", "boolean"]
    description: str


class ChannelTypeOut(BaseModel):
    """A channel type and the options its form shows, from the provider registry."""

    type: str
    serves: list[str]
    options: list[OptionField]


def usd(quota: int) -> float:
    return round(quota / QUOTA_PER_USD, 6)
