"""What the operator sets for file analysis: the all-tools models and the guarded fetcher's allow-list."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from relaygate.admin.fields import Description, ModelName
from relaygate.admin.schemas import Strict
from relaygate.fetch.allow import parse_allow_entry


class AllToolsIn(Strict):
    """Marks a model all-tools: its requests read the files they name, then go to `base_model`."""

    base_model: ModelName | None = Field(default=None,
                                         description="the model that answers (routed and, unless the all-tools model "
                                                     "has a price of its own, priced as such); a built-in's when "
                                                     "omitted")
    vision: bool | None = Field(default=None, description="whether the base model takes images; null = what "
                                                          "relaygate knows of it")
    context_tokens: int | None = Field(default=None, ge=1024, le=10_000_000,
                                       description="the base model's context window (what the files are fitted "
                                                   "into); null = what relaygate knows of it")
    enabled: bool = Field(default=True, description="false turns the model's file reading off (a built-in one too): "
                                                    "its requests then go upstream as they are")


class AllToolsOut(BaseModel):
    model: str
    base_model: str
    vision: bool = Field(description="in effect: as marked, else as known of the base model")
    context_tokens: int = Field(description="in effect: as marked, else as known of the base model")
    enabled: bool
    builtin: bool = Field(description="relaygate's own (gpt-4-all, gpt-4o-all), not changed by the operator")


class FetchAllowIn(Strict):
    entry: str = Field(min_length=1, max_length=255,
                       description="IP:port, [IPv6]:port, host.name:port, an IP or a CIDR, as RELAYGATE_FETCH_ALLOW")
    note: Description = ""

    @field_validator("entry")
    @classmethod
    def _entry(cls, value: str) -> str:
        parse_allow_entry(value)
        return value.strip()


class FetchAllowOut(BaseModel):
    id: int | None = Field(description="null for an entry from RELAYGATE_FETCH_ALLOW (change it there)")
    entry: str
    note: str
    source: Literal["store", "environment"]
