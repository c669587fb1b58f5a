"""Declarative set-up: channels, users, keys, groups and prices from a YAML file, applied idempotently.

Every mistake in the file is a ConfigError naming the file and the field: `relaygate.yaml: channels[0].base_url:
String should match pattern '^https?://'`. `${VAR}` in a string is read from the environment; an unset one is
such an error too, never sent upstream as the literal text.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relaygate.admin import file_schemas as fs
from relaygate.admin import schemas as s
from relaygate.admin.actor import Actor
from relaygate.admin.fields import ModelName, Name
from relaygate.admin.schemas import where
from relaygate.admin.service import Operator
from relaygate.config import ConfigError
from relaygate.core.errors import Conflict, NotFound, RelayError
from relaygate.relay.auth import hash_key
from relaygate.store import accounts_sql, admin_sql

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _KeyDecl(s.KeyLimits):
    key: str = Field(min_length=8, max_length=256, pattern=r"^[\x21-\x7e]+$")
    user: Name


class DeclaredConfig(BaseModel):
    """The YAML file's shape; `${VAR}` in any string is replaced from the environment."""

    model_config = ConfigDict(extra="forbid")
    groups: list[s.GroupIn] = Field(default_factory=list)
    users: list[s.UserIn] = Field(default_factory=list)
    channels: list[s.ChannelIn] = Field(default_factory=list)
    keys: list[_KeyDecl] = Field(default_factory=list)
    prices: dict[ModelName, s.PriceIn] = Field(default_factory=dict)
    all_tools: dict[ModelName, fs.AllToolsIn] = Field(default_factory=dict)
    """Models marked all-tools (file analysis), by name."""
    fetch_allow: list[fs.FetchAllowIn | str] = Field(default_factory=list)
    """Allow-list entries kept in the store, as strings or {entry, note}."""


def _expand(value: Any, env: Mapping[str, str], loc: tuple[int | str, ...]) -> Any:
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"{where(loc) or 'value'}: ${{{name}}} is not set in the environment")
            return env[name]
        return _VARIABLE.sub(replace, value)
    if isinstance(value, list):
        return [_expand(v, env, (*loc, i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _expand(v, env, (*loc, str(k))) for k, v in value.items()}
    return value


def load_config_file(path: Path, env: Mapping[str, str] | None = None) -> DeclaredConfig:
    """The file, read and checked whole before anything is applied."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line: YAML's text wraps
        raise ConfigError(f"{path}: {at}not valid YAML ({problem})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of groups, users, channels, keys and prices, "
                          f"not a {type(raw).__name__}")
    try:
        config = DeclaredConfig.model_validate(_expand(raw, os.environ if env is None else env, ()))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except ValidationError as exc:
        err = s.first_error(exc)
        raise ConfigError(f"{path}: {where(err['loc']) or 'top level'}: {err['msg']}") from None
    _declared_once(config, path)
    return config


def _declared_once(config: DeclaredConfig, path: Path) -> None:
    """A second entry of one name would silently overwrite the first (a copy-paste slip): named instead."""
    for section, names in (("groups", [g.name for g in config.groups]), ("users", [u.name for u in config.users]),
                           ("channels", [c.name for c in config.channels]), ("keys", [k.key for k in config.keys])):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                what = "a key value declared above" if section == "keys" else f"'{name}', declared above"
                raise ConfigError(f"{path}: {section}[{i}]: {what}; each is declared once")
            seen.add(name)


async def apply_config(operator: Operator, config: DeclaredConfig, path: Path) -> None:
    """Create what is missing, update what exists by name; never deletes. Changes are audited as the file's."""
    op = operator.by(Actor.config_file(path))
    steps: list[tuple[str, Callable[[], Awaitable[object]]]] = []
    steps += [(f"groups[{i}]", functools.partial(op.set_group, g)) for i, g in enumerate(config.groups)]
    steps += [(f"users[{i}]", functools.partial(_user, op, u)) for i, u in enumerate(config.users)]
    steps += [(f"channels[{i}]", functools.partial(_channel, op, ch)) for i, ch in enumerate(config.channels)]
    steps += [(f"prices.{m}", functools.partial(op.set_price, m, p)) for m, p in config.prices.items()]
    steps += [(f"all_tools.{m}", functools.partial(op.set_all_tools, m, t)) for m, t in config.all_tools.items()]
    steps += [(f"fetch_allow[{i}]", functools.partial(op.add_fetch_allow, e if isinstance(e, fs.FetchAllowIn)
                                                      else fs.FetchAllowIn(entry=e)))
              for i, e in enumerate(config.fetch_allow)]
    steps += [(f"keys[{i}]", functools.partial(_key, op, k)) for i, k in enumerate(config.keys)]
    for at, step in steps:
        try:
            await step()
        except RelayError as exc:
            raise ConfigError(f"{path}: {at}: {exc.message}") from None


async def _user(op: Operator, user: s.UserIn) -> None:
    row = await op.db.run(functools.partial(accounts_sql.find_user, name=user.name))
    if row is None:
        await op.create_user(user)
    else:
        await op.update_user(row["id"], s.UserPatch(role=user.role, group=user.group))


async def _channel(op: Operator, channel: s.ChannelIn) -> None:
    row = await op.db.run(functools.partial(admin_sql.find_channel, name=channel.name))
    if row is None:
        await op.create_channel(channel)
    else:
        await op.update_channel(row["id"], s.ChannelPatch(**channel.model_dump(exclude={"type"})))


async def _key(op: Operator, key: _KeyDecl) -> None:
    owner = await op.db.run(functools.partial(accounts_sql.find_user, name=key.user))
    if owner is None:
        raise NotFound(f"user: no user named '{key.user}' (declare it under users:)")
    existing = await op.db.run(functools.partial(accounts_sql.key_by_hash, key_hash=hash_key(key.key)))
    if existing is None:
        await op.create_key(s.KeyIn(user_id=owner["id"], **key.model_dump(exclude={"user"})))
    elif existing["kind"] != "client" or existing["user_id"] != owner["id"]:
        # never hand a key another user (or the admin) holds to this one, nor leave the line silently unapplied
        raise Conflict(f"key: that value is already {existing['kind']} key {existing['id']}'s, of user "
                       f"{existing['user_id']}; declare another value")
