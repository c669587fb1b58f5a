"""Bounded field types for operator input: every accepted value fits its column on SQLite and PostgreSQL."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Annotated

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError
from yarl import URL

from relaygate.core.bounds import INT32_MAX, MAX_MULTIPLIER, MAX_QUOTA, MAX_TIMEOUT, MAX_UNIX_TIME, MAX_USD
from relaygate.core.errors import BadRequest


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded for either database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _base_url(value: str) -> str:
    try:
        url = URL(value)
    except ValueError as exc:
        raise ValueError(f"is not a URL ({exc})") from None
    if not url.host or any(c.isspace() for c in url.host):
        raise ValueError("needs a host name, as in https://api.openai.com")
    if url.query_string or url.fragment:
        raise ValueError("takes no query or fragment (channel options hold settings)")
    return value


def _cidr(value: str) -> str:
    ip_network(value, strict=False)
    return value


Id = Annotated[int, Field(ge=1, le=INT32_MAX)]
Quota = Annotated[int, Field(ge=0, le=MAX_QUOTA, description="quota units (500,000 = 1 USD)")]
Amount = Annotated[int, Field(ge=1, le=MAX_QUOTA, description="quota units (500,000 = 1 USD)")]
PerMinute = Annotated[int, Field(ge=1, le=INT32_MAX)]
Signed32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
Positive32 = Annotated[int, Field(ge=1, le=INT32_MAX)]
Usd = Annotated[float, Field(ge=0, le=MAX_USD, allow_inf_nan=False)]
Ratio = Annotated[float, Field(ge=0, le=MAX_MULTIPLIER, allow_inf_nan=False)]
UnixTime = Annotated[float, Field(ge=0, le=MAX_UNIX_TIME, allow_inf_nan=False, description="unix time")]
Seconds = Annotated[float, Field(gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)]

Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_storable)]
Label = Annotated[str, Field(max_length=128), AfterValidator(_storable)]
Description = Annotated[str, Field(max_length=255), AfterValidator(_storable)]
GroupName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
ModelName = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_storable)]
Url = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^https?://"), AfterValidator(_storable),
                AfterValidator(_base_url)]
Secret = Annotated[str, Field(min_length=1, max_length=8192), AfterValidator(_storable)]
Version = Annotated[str, Field(max_length=64), AfterValidator(_storable)]
Cidr = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_storable), AfterValidator(_cidr)]
Note = Annotated[str, Field(max_length=255), AfterValidator(_storable)]
Password = Annotated[str, Field(min_length=8, max_length=256, description="8 to 256 characters"),
                     AfterValidator(_storable)]

Models = Annotated[list[ModelName], Field(max_length=10_000)]
Mapping = Annotated[dict[ModelName, ModelName], Field(max_length=10_000)]
Groups = Annotated[list[GroupName], Field(max_length=1_000)]
Cidrs = Annotated[list[Cidr], Field(max_length=1_000, description="CIDR ranges")]


_MODEL_NAME: TypeAdapter[str] = TypeAdapter(ModelName)


def model_name(value: str) -> str:
    """A model name given outside a body (a URL path, a CLI argument), checked as a body's would be."""
    try:
        return _MODEL_NAME.validate_python(value)
    except ValidationError as exc:
        raise BadRequest(f"model: {exc.errors(include_url=False, include_input=False)[0]['msg']}",
                         param="model") from None
