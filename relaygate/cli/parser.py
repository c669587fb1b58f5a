"""The `relaygate` command line: serve, migrate, and a verb for everything the admin API does."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relaygate.core.bounds import INT32_MAX
from relaygate.providers.registry import PROVIDERS


def csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def mapping(value: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in csv(value)]
    if any(len(p) != 2 for p in pairs):
        raise argparse.ArgumentTypeError("expected client=upstream pairs separated by commas")
    return {k.strip(): v.strip() for k, v in pairs}


def ident(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= INT32_MAX:
        raise argparse.ArgumentTypeError(f"an id is an integer from 1 to {INT32_MAX}")
    return number


def variant_price(value: str) -> tuple[str, float]:
    variant, sep, price = value.rpartition("=")
    try:
        if not sep or not variant:
            raise ValueError
        return variant.strip(), float(price)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not SIZE[/QUALITY]=USD (e.g. 1024x1024/hd=0.08)") from None


def _option_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for every field of every channel type's options model (--api-version, --default-max-tokens, …);
    the chosen type's own model decides which of them it accepts."""
    seen: set[str] = set()
    for provider in PROVIDERS.values():
        for name, info in provider.options.model_fields.items():
            if name not in seen:
                seen.add(name)
                helptext = f"channel option: {info.description}" if info.description else "channel option"
                parser.add_argument("--" + name.replace("_", "-"), dest="opt_" + name, type=_flag_type(info.annotation),
                                    help=helptext)


def _flag_type(annotation: Any) -> Callable[[str], Any]:
    text = str(annotation)
    if "tuple" in text or "list" in text:
        return csv
    if "int" in text:
        return int
    if "float" in text:
        return float
    return str


def _ids(sub: argparse._SubParsersAction[argparse.ArgumentParser], *verbs: str) -> None:
    for verb in verbs:
        sub.add_parser(verb).add_argument("id", type=ident)


def _channel(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ch = sub.add_parser("channel", help="upstream channels").add_subparsers(dest="verb", required=True)
    add = ch.add_parser("add")
    add.add_argument("--name", required=True)
    add.add_argument("--type", default="openai", choices=list(PROVIDERS))
    _option_flags(add)
    add.add_argument("--base-url", required=True)
    add.add_argument("--key", action="append", required=True, dest="credentials", help="repeat to rotate keys")
    add.add_argument("--models", type=csv, required=True, help="comma-separated; patterns like gpt-4-gizmo-*")
    add.add_argument("--mapping", type=mapping, default={}, dest="model_mapping", help="client=upstream,...")
    add.add_argument("--groups", type=csv, default=["default"])
    add.add_argument("--priority", type=int, default=0)
    add.add_argument("--weight", type=int, default=1)
    add.add_argument("--timeout", type=float)
    add.add_argument("--test-model")
    change = ch.add_parser("update", help="change the given fields only")
    change.add_argument("id", type=ident)
    change.add_argument("--name")
    change.add_argument("--base-url")
    change.add_argument("--key", action="append", dest="credentials", help="replaces every credential; repeat")
    change.add_argument("--models", type=csv)
    change.add_argument("--mapping", type=mapping, dest="model_mapping")
    change.add_argument("--groups", type=csv)
    change.add_argument("--priority", type=int)
    change.add_argument("--weight", type=int)
    change.add_argument("--timeout", type=float)
    change.add_argument("--test-model")
    _option_flags(change)
    ch.add_parser("list")
    _ids(ch, "show", "test", "disable", "enable", "delete")


def _key(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    key = sub.add_parser("key", help="API keys, client and admin").add_subparsers(dest="verb", required=True)
    create = key.add_parser("create")
    create.add_argument("--user", type=ident, required=True, dest="user_id")
    create.add_argument("--admin", action="store_const", const="admin", default="client", dest="kind",
                        help="an admin key (calls /api) for a user with the admin role")
    create.add_argument("--name", default="")
    create.add_argument("--quota", type=int, help="quota units; omit for unlimited")
    create.add_argument("--models", type=csv, dest="allowed_models")
    create.add_argument("--ips", type=csv, dest="allowed_ips")
    create.add_argument("--rpm", type=int)
    create.add_argument("--tpm", type=int)
    create.add_argument("--expires-at", type=float)
    create.add_argument("--mj-mode", choices=("fast", "relax", "turbo"), dest="mj_mode",
                        help="MidJourney mode when the path names none")
    create.add_argument("--group")
    change = key.add_parser("update", help="change the given fields only")
    change.add_argument("id", type=ident)
    change.add_argument("--name")
    change.add_argument("--quota", type=int, help="remaining quota units (the key becomes limited)")
    change.add_argument("--unlimited", action="store_const", const=True)
    change.add_argument("--models", type=csv, dest="allowed_models")
    change.add_argument("--ips", type=csv, dest="allowed_ips")
    change.add_argument("--rpm", type=int)
    change.add_argument("--tpm", type=int)
    change.add_argument("--expires-at", type=float)
    change.add_argument("--mj-mode", choices=("fast", "relax", "turbo"), dest="mj_mode",
                        help="MidJourney mode when the path names none")
    change.add_argument("--group")
    change.add_argument("--enable", action="store_const", const=True, dest="enabled")
    change.add_argument("--disable", action="store_const", const=False, dest="enabled")
    listing = key.add_parser("list")
    listing.add_argument("--user", type=ident, dest="user_id")
    listing.add_argument("--kind", choices=["client", "admin"])
    _ids(key, "show", "revoke", "rotate")


def _user(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="users and balances").add_subparsers(dest="verb", required=True)
    create = user.add_parser("create")
    create.add_argument("name")
    create.add_argument("--group", default="default")
    create.add_argument("--balance", type=int, default=0)
    create.add_argument("--admin", action="store_const", const="admin", default="user", dest="role")
    create.add_argument("--password", help="a console password (8 to 256 characters)")
    password = user.add_parser("password", help="set or reset a console password (read from standard input "
                                                "unless --password is given); the user's sessions end")
    password.add_argument("id", type=ident)
    password.add_argument("--password")
    change = user.add_parser("update", help="change the given fields only")
    change.add_argument("id", type=ident)
    change.add_argument("--name")
    change.add_argument("--group")
    change.add_argument("--role", choices=["user", "admin"])
    change.add_argument("--enable", action="store_const", const=True, dest="enabled")
    change.add_argument("--disable", action="store_const", const=False, dest="enabled")
    user.add_parser("list")
    _ids(user, "show", "delete")
    for verb, what, dest in (("topup", "quota units to add", "amount"), ("set-balance", "the new balance", "balance")):
        money = user.add_parser(verb)
        money.add_argument("id", type=ident)
        money.add_argument(dest, type=int, help=what)
        money.add_argument("--note", default="", help="why, for the audit log")


def _redemption(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    codes = sub.add_parser("redemption", help="redemption codes").add_subparsers(dest="verb", required=True)
    create = codes.add_parser("create", help="new codes, printed this once (only their hashes are kept)")
    create.add_argument("--count", type=int, required=True)
    create.add_argument("--amount", type=int, required=True, help="quota units each code adds (500,000 = 1 USD)")
    create.add_argument("--expires-at", type=float, help="unix time")
    create.add_argument("--name", help="a label for the batch")
    codes.add_parser("list")
    _ids(codes, "delete")


def _groups_and_prices(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("group", help="groups and their multipliers").add_subparsers(dest="verb", required=True)
    gset = group.add_parser("set")
    gset.add_argument("name")
    gset.add_argument("--multiplier", type=float, default=1.0)
    gset.add_argument("--description", default="")
    group.add_parser("list")
    group.add_parser("delete").add_argument("name")

    price = sub.add_parser("price", help="model prices").add_subparsers(dest="verb", required=True)
    pset = price.add_parser("set")
    pset.add_argument("model")
    pset.add_argument("--input", type=float, default=0.0, dest="input_per_1m", help="USD per 1M prompt tokens")
    pset.add_argument("--output", type=float, dest="output_per_1m", help="USD per 1M completion tokens")
    pset.add_argument("--ratio", type=float, default=1.0, dest="completion_ratio")
    pset.add_argument("--per-call", type=float, dest="per_call", help="USD per call")
    pset.add_argument("--cache-read", type=float, dest="cache_read_per_1m", help="USD per 1M cached prompt tokens")
    pset.add_argument("--cache-write", type=float, dest="cache_write_per_1m",
                      help="USD per 1M prompt tokens written to cache")
    pset.add_argument("--image-input", type=float, dest="image_input_per_1m",
                      help="USD per 1M prompt tokens that are images (gpt-image)")
    pset.add_argument("--per-1m-characters", type=float, dest="per_1m_characters",
                      help="USD per 1M input characters (text to speech)")
    pset.add_argument("--per-second", type=float, dest="per_second", help="USD per second of audio")
    pset.add_argument("--per-minute", type=float, dest="per_minute", help="USD per minute of audio (stored per second)")
    pset.add_argument("--per-image", action="append", type=variant_price, dest="per_image",
                      help="SIZE[/QUALITY]=USD per image, or *=USD; repeat for each variant")
    price.add_parser("list", help="every model's effective price (source: operator or default)")
    price.add_parser("delete").add_argument("model")


def _reading(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    logs = sub.add_parser("logs", help="request logs, newest first")
    logs.add_argument("--key", type=ident, dest="key_id")
    logs.add_argument("--user", type=ident, dest="user_id")
    logs.add_argument("--model")
    logs.add_argument("--request-id")
    logs.add_argument("--since", type=float, help="unix time")
    logs.add_argument("--limit", type=int, default=100)
    audit = sub.add_parser("audit", help="who changed what, newest first")
    audit.add_argument("--target", help="'user 5', 'channel 2', 'price gpt-4o', 'group vip'")
    audit.add_argument("--action", help="user.update, key.rotate, price.set, …")
    audit.add_argument("--since", type=float, help="unix time")
    audit.add_argument("--limit", type=int, default=100)


def _file_analysis(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tools = sub.add_parser("all-tools", help="models that read the files their messages name").add_subparsers(
        dest="verb", required=True)
    mark = tools.add_parser("set", help="mark a model all-tools (or change or turn off a mark)")
    mark.add_argument("model")
    mark.add_argument("--base", dest="base_model", help="the model that answers (a built-in's when omitted)")
    mark.add_argument("--vision", action=argparse.BooleanOptionalAction, help="whether the base model takes images")
    mark.add_argument("--context-tokens", type=int, help="the base model's context window")
    mark.add_argument("--disable", action="store_false", dest="enabled", help="turn the model's file reading off")
    tools.add_parser("list")
    tools.add_parser("remove").add_argument("model")
    allow = sub.add_parser("fetch-allow", help="intranet sources the fetcher may reach").add_subparsers(
        dest="verb", required=True)
    add = allow.add_parser("add", help="IP:port, [IPv6]:port, host:port, an IP or a CIDR")
    add.add_argument("entry")
    add.add_argument("--note", default="")
    allow.add_parser("list")
    allow.add_parser("remove").add_argument("id", type=ident)


def build() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relaygate", description="Serve the relay, or manage it: every verb works on the database the server "
        "uses (RELAYGATE_DATABASE_URL, or SQLite in RELAYGATE_DATA_DIR, default ./data) and prints JSON lines.")
    sub = p.add_subparsers(dest="area", required=True)
    serve = sub.add_parser("serve", help="run the relay")
    serve.add_argument("--config", type=Path, help="YAML file declaring channels, keys, users and prices")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="processes sharing the port")
    sub.add_parser("migrate", help="create the database, or bring it to the newest schema, and exit")
    _channel(sub)
    _key(sub)
    _user(sub)
    _redemption(sub)
    _groups_and_prices(sub)
    _reading(sub)
    _file_analysis(sub)
    return p
