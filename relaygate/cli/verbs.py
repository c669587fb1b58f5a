"""What each CLI verb does: the same Operator calls the admin API makes, acting as `cli (<login>)`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from relaygate.admin import console_schemas as cs
from relaygate.admin import file_schemas as fs
from relaygate.admin import schemas as s
from relaygate.admin.service import Operator
from relaygate.config import Settings
from relaygate.relay.upstream import AiohttpTransport


def fields(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The named options that were given (None means not given)."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


_CHANNEL_FIELDS = ("name", "base_url", "credentials", "models", "model_mapping", "groups", "priority", "weight",
                   "timeout", "test_model")
_KEY_FIELDS = ("name", "quota", "unlimited", "allowed_models", "allowed_ips", "rpm", "tpm", "expires_at", "group",
               "enabled", "mj_mode")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The channel options given as flags (--api-version, …), for the channel type's own model to check."""
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}


def _new_channel(args: argparse.Namespace) -> s.ChannelIn:
    return s.ChannelIn(type=args.type, options=_options(args), **fields(args, *_CHANNEL_FIELDS))


def _channel_patch(args: argparse.Namespace) -> s.ChannelPatch:
    values = fields(args, *_CHANNEL_FIELDS)
    options = _options(args)
    if options:
        values["options"] = options
    return s.ChannelPatch.model_validate(values)


def _price(args: argparse.Namespace) -> s.PriceIn:
    values = fields(args, "input_per_1m", "output_per_1m", "completion_ratio", "per_call", "cache_read_per_1m",
                    "cache_write_per_1m", "image_input_per_1m", "per_1m_characters", "per_second", "per_minute")
    if getattr(args, "per_image", None):
        values["per_image"] = dict(args.per_image)
    return s.PriceIn.model_validate(values)


def _key_patch(args: argparse.Namespace) -> s.KeyPatch:
    values = fields(args, *_KEY_FIELDS)
    if "quota" in values:
        values.setdefault("unlimited", False)
    return s.KeyPatch(**values)


def _password(args: argparse.Namespace) -> str:
    given = args.password if args.password is not None else sys.stdin.readline().rstrip("\n")
    return cs.PasswordSet(password=given).password


async def _test(op: Operator, channel_id: int) -> s.ChannelTestResult:
    upstream = AiohttpTransport(connect_timeout=10)
    await upstream.start()
    try:
        return await op.test_channel(channel_id, upstream)
    finally:
        await upstream.close()


def table(op: Operator, a: argparse.Namespace) -> dict[tuple[str, str], Callable[[], Coroutine[Any, Any, Any]]]:
    """(area, verb) → the call; built per run, so every lambda sees this run's arguments."""
    return {
        ("channel", "add"): lambda: op.create_channel(_new_channel(a)),
        ("channel", "update"): lambda: op.update_channel(a.id, _channel_patch(a)),
        ("channel", "list"): op.channels,
        ("channel", "show"): lambda: op.channel(a.id),
        ("channel", "test"): lambda: _test(op, a.id),
        ("channel", "disable"): lambda: op.update_channel(a.id, s.ChannelPatch(status="disabled")),
        ("channel", "enable"): lambda: op.update_channel(a.id, s.ChannelPatch(status="enabled")),
        ("channel", "delete"): lambda: op.delete_channel(a.id),
        ("key", "create"): lambda: op.create_key(s.KeyIn(**fields(
            a, "user_id", "kind", "name", "quota", "allowed_models", "allowed_ips", "rpm", "tpm", "expires_at",
            "group", "mj_mode"))),
        ("key", "update"): lambda: op.update_key(a.id, _key_patch(a)),
        ("key", "list"): lambda: op.keys(a.user_id, a.kind),
        ("key", "show"): lambda: op.key(a.id),
        ("key", "revoke"): lambda: op.revoke_key(a.id),
        ("key", "rotate"): lambda: op.rotate_key(a.id),
        ("user", "create"): lambda: op.create_user(s.UserIn(**fields(a, "name", "group", "balance", "role",
                                                                     "password"))),
        ("user", "password"): lambda: op.set_password(a.id, _password(a)),
        ("user", "update"): lambda: op.update_user(a.id, s.UserPatch(**fields(a, "name", "group", "role",
                                                                               "enabled"))),
        ("user", "list"): op.users,
        ("user", "show"): lambda: op.user(a.id),
        ("user", "delete"): lambda: op.delete_user(a.id),
        ("user", "topup"): lambda: op.top_up(a.id, s.TopUp(amount=a.amount, note=a.note)),
        ("user", "set-balance"): lambda: op.set_balance(a.id, s.BalanceSet(balance=a.balance, note=a.note)),
        ("redemption", "create"): lambda: op.create_codes(cs.CodesIn(**fields(a, "count", "amount", "expires_at",
                                                                              "name"))),
        ("redemption", "list"): op.codes,
        ("redemption", "delete"): lambda: op.delete_code(a.id),
        ("group", "set"): lambda: op.set_group(s.GroupIn(name=a.name, multiplier=a.multiplier,
                                                         description=a.description)),
        ("group", "list"): op.groups,
        ("group", "delete"): lambda: op.delete_group(a.name),
        ("price", "set"): lambda: op.set_price(a.model, _price(a)),
        ("price", "list"): op.prices,
        ("price", "delete"): lambda: op.delete_price(a.model),
        ("all-tools", "set"): lambda: op.set_all_tools(a.model, fs.AllToolsIn(**fields(
            a, "base_model", "vision", "context_tokens", "enabled"))),
        ("all-tools", "list"): op.all_tools,
        ("all-tools", "remove"): lambda: op.delete_all_tools(a.model),
        ("fetch-allow", "add"): lambda: op.add_fetch_allow(fs.FetchAllowIn(entry=a.entry, note=a.note)),
        ("fetch-allow", "list"): lambda: op.fetch_allow(Settings().fetch_allow),
        ("fetch-allow", "remove"): lambda: op.delete_fetch_allow(a.id),
        ("logs", ""): lambda: op.logs(s.LogQuery(**fields(a, "key_id", "user_id", "model", "request_id", "since",
                                                           "limit"))),
        ("audit", ""): lambda: op.audit_log(s.AuditQuery(**fields(a, "target", "action", "since", "limit"))),
    }
