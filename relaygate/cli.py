"""The `relaygate` command: serve, and the operator's verbs on channels, keys, users and prices."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from relaygate.admin import schemas as s
from relaygate.admin.service import Operator
from relaygate.config import Settings
from relaygate.core.errors import RelayError
from relaygate.providers.registry import PROVIDERS
from relaygate.relay.upstream import AiohttpTransport
from relaygate.store.database import Database


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _mapping(value: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in _csv(value))
    return {k.strip(): v.strip() for k, v in pairs}


def _variant_price(value: str) -> tuple[str, float]:
    variant, sep, price = value.rpartition("=")
    try:
        if not sep or not variant:
            raise ValueError
        return variant.strip(), float(price)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not SIZE[/QUALITY]=USD (e.g. 1024x1024/hd=0.08)") from None


def _option_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for every field of every channel type's options model (--api-version, --default-max-tokens, …);
    the chosen type's model decides which of them it accepts."""
    seen: set[str] = set()
    for provider in PROVIDERS.values():
        for name, info in provider.options.model_fields.items():
            if name in seen:
                continue
            seen.add(name)
            kind = _flag_type(info.annotation)
            helptext = f"channel option ({info.description})" if info.description else "channel option"
            parser.add_argument("--" + name.replace("_", "-"), dest="opt_" + name, type=kind, help=helptext)


def _flag_type(annotation: Any) -> Callable[[str], Any]:
    text = str(annotation)
    if "tuple" in text or "list" in text:
        return _csv
    if "int" in text:
        return int
    if "float" in text:
        return float
    return str


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}


def _print(result: Any) -> None:
    if isinstance(result, list):
        for item in result:
            _print(item)
        return
    data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    sys.stdout.write(orjson.dumps(data).decode() + "\n")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relaygate", description=__doc__)
    sub = p.add_subparsers(dest="area", required=True)

    serve = sub.add_parser("serve", help="run the relay")
    serve.add_argument("--config", type=Path, help="YAML file declaring channels, keys, users and prices")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="processes sharing the port")

    ch = sub.add_parser("channel", help="upstream channels").add_subparsers(dest="verb", required=True)
    add = ch.add_parser("add")
    add.add_argument("--name", required=True)
    add.add_argument("--type", default="openai", choices=list(PROVIDERS))
    _option_flags(add)
    add.add_argument("--base-url", required=True)
    add.add_argument("--key", action="append", required=True, dest="credentials", help="repeat to rotate keys")
    add.add_argument("--models", type=_csv, required=True, help="comma-separated; patterns like gpt-4-gizmo-*")
    add.add_argument("--mapping", type=_mapping, default={}, help="client=upstream,...")
    add.add_argument("--groups", type=_csv, default=["default"])
    add.add_argument("--priority", type=int, default=0)
    add.add_argument("--weight", type=int, default=1)
    add.add_argument("--timeout", type=float)
    ch.add_parser("list")
    for verb in ("test", "disable", "enable"):
        ch.add_parser(verb).add_argument("id", type=int)

    key = sub.add_parser("key", help="API keys").add_subparsers(dest="verb", required=True)
    create = key.add_parser("create")
    create.add_argument("--user", type=int, required=True, dest="user_id")
    create.add_argument("--name", default="")
    create.add_argument("--quota", type=int, help="quota units; omit for unlimited")
    create.add_argument("--models", type=_csv, dest="allowed_models")
    create.add_argument("--ips", type=_csv, dest="allowed_ips")
    create.add_argument("--rpm", type=int)
    create.add_argument("--tpm", type=int)
    create.add_argument("--expires-at", type=float)
    create.add_argument("--group")
    create.add_argument("--mj-mode", choices=("fast", "relax", "turbo"), dest="mj_mode",
                        help="MidJourney mode when the path names none")
    key.add_parser("list").add_argument("--user", type=int, dest="user_id")
    key.add_parser("revoke").add_argument("id", type=int)

    user = sub.add_parser("user", help="users and balances").add_subparsers(dest="verb", required=True)
    ucreate = user.add_parser("create")
    ucreate.add_argument("name")
    ucreate.add_argument("--group", default="default")
    ucreate.add_argument("--balance", type=int, default=0)
    user.add_parser("list")
    topup = user.add_parser("topup")
    topup.add_argument("id", type=int)
    topup.add_argument("amount", type=int)

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
    pset.add_argument("--per-image", action="append", type=_variant_price, dest="per_image",
                      help="SIZE[/QUALITY]=USD per image, or *=USD; repeat for each variant")
    price.add_parser("list")
    return p


def _fields(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


async def _run(op: Operator, args: argparse.Namespace) -> Any:
    verbs: dict[tuple[str, str], Callable[[], Awaitable[Any]]] = {
        ("channel", "add"): lambda: op.create_channel(s.ChannelIn(
            name=args.name, type=args.type, base_url=args.base_url, credentials=args.credentials,
            models=args.models, model_mapping=args.mapping, groups=args.groups, priority=args.priority,
            weight=args.weight, timeout=args.timeout, options=_options(args))),
        ("channel", "list"): op.channels,
        ("channel", "test"): lambda: _test(op, args.id),
        ("channel", "disable"): lambda: op.update_channel(args.id, s.ChannelPatch(status="disabled")),
        ("channel", "enable"): lambda: op.update_channel(args.id, s.ChannelPatch(status="enabled")),
        ("key", "create"): lambda: op.create_key(s.KeyIn(**_fields(
            args, "user_id", "name", "quota", "allowed_models", "allowed_ips", "rpm", "tpm", "expires_at", "group",
            "mj_mode"))),
        ("key", "list"): lambda: op.keys(args.user_id),
        ("key", "revoke"): lambda: op.revoke_key(args.id),
        ("user", "create"): lambda: op.create_user(s.UserIn(name=args.name, group=args.group, balance=args.balance)),
        ("user", "list"): op.users,
        ("user", "topup"): lambda: op.top_up(args.id, s.TopUp(amount=args.amount)),
        ("price", "set"): lambda: op.set_price(args.model, s.PriceIn.model_validate(_price_fields(args))),
        ("price", "list"): op.prices,
    }
    return await verbs[(args.area, args.verb)]()


def _price_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields = _fields(args, "input_per_1m", "output_per_1m", "completion_ratio", "per_call", "cache_read_per_1m",
                     "cache_write_per_1m", "image_input_per_1m", "per_1m_characters", "per_second", "per_minute")
    if args.per_image:
        fields["per_image"] = dict(args.per_image)
    return fields


async def _test(op: Operator, channel_id: int) -> s.ChannelTestResult:
    upstream = AiohttpTransport(connect_timeout=10)
    await upstream.start()
    try:
        return await op.test_channel(channel_id, upstream)
    finally:
        await upstream.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    if args.area == "serve":
        from relaygate.server.runner import serve

        overrides = {k: v for k, v in {"config_file": args.config, "host": args.host, "port": args.port,
                                       "workers": args.workers}.items() if v is not None}
        serve(settings.model_copy(update=overrides))
        return 0
    db = Database(settings.resolved_database_url(), threads=1)
    try:
        db.migrate()
        result = asyncio.run(_run(Operator(db), args))
    except ValidationError as exc:
        err = exc.errors()[0]
        sys.stderr.write(f"relaygate: {'.'.join(map(str, err['loc']))}: {err['msg']}\n")
        return 2
    except RelayError as exc:
        sys.stderr.write(f"relaygate: {exc.message}\n")
        return 1
    finally:
        db.close()
    if isinstance(result, s.ChannelTestResult) and not result.ok:
        _print(result)
        return 1
    _print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
