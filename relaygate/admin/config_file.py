"""Declarative set-up: channels, users, keys, groups, prices, all-tools models and the fetcher's allow-list from a
YAML file, applied idempotently."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from relaygate.admin import schemas as s
from relaygate.admin.service import Operator
from relaygate.relay.auth import hash_key
from relaygate.store import admin_sql


class _UserDecl(s.UserIn):
    pass


class _KeyDecl(s.KeyLimits):
    key: str = Field(min_length=8, max_length=256)
    user: str


class _ChannelDecl(s.ChannelIn):
    pass


class DeclaredConfig(BaseModel):
    """The YAML file's shape; `${VAR}` in any string is replaced from the environment."""

    model_config = ConfigDict(extra="forbid")
    groups: list[s.GroupIn] = Field(default_factory=list)
    users: list[_UserDecl] = Field(default_factory=list)
    channels: list[_ChannelDecl] = Field(default_factory=list)
    keys: list[_KeyDecl] = Field(default_factory=list)
    prices: dict[str, s.PriceIn] = Field(default_factory=dict)
    all_tools: dict[str, s.AllToolsIn] = Field(default_factory=dict)
    """Models marked all-tools (file analysis), by name."""
    fetch_allow: list[s.FetchAllowIn | str] = Field(default_factory=list)
    """Allow-list entries kept in the store, as strings or {entry, note}."""


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return os.path.expandvars(value)
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def load_config_file(path: Path) -> DeclaredConfig:
    raw = yaml.safe_load(path.read_text()) or {}
    return DeclaredConfig.model_validate(_expand(raw))


async def apply_config(operator: Operator, config: DeclaredConfig) -> None:
    """Create what is missing, update what exists by name; never deletes."""
    db = operator.db
    for group in config.groups:
        await operator.set_group(group)
    for user in config.users:
        row = await db.run(functools.partial(admin_sql.find_user, name=user.name))
        if row is None:
            await operator.create_user(user)
        else:
            await operator.update_user(row["id"], s.UserPatch(role=user.role, group=user.group))
    for channel in config.channels:
        row = await db.run(functools.partial(admin_sql.find_channel, name=channel.name))
        if row is None:
            await operator.create_channel(channel)
        else:
            patch = s.ChannelPatch(**channel.model_dump(exclude={"type"}))
            await operator.update_channel(row["id"], patch)
    for model, price in config.prices.items():
        await operator.set_price(model, price)
    for model, mark in config.all_tools.items():
        await operator.set_all_tools(model, mark)
    for allowed in config.fetch_allow:
        entry = allowed if isinstance(allowed, s.FetchAllowIn) else s.FetchAllowIn(entry=allowed)
        await operator.add_fetch_allow(entry)
    for key in config.keys:
        owner = await db.run(functools.partial(admin_sql.find_user, name=key.user))
        if owner is None:
            raise ValueError(f"key '{key.name}' names an unknown user '{key.user}'")
        existing = await db.run(functools.partial(admin_sql.key_by_hash, key_hash=hash_key(key.key)))
        if existing is None:
            await operator.create_key(s.KeyIn(user_id=owner["id"], **key.model_dump(exclude={"user"})))
