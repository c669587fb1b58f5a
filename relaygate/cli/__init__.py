"""The `relaygate` command: serve, migrate, and the operator's verbs on channels, keys, users, groups, prices,
logs and the audit log. Every mistake is one line on stderr naming the field, file or variable; exit status 2
for a mistake in what was given, 1 for a refusal or a failure, 0 for success."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError

from relaygate.admin.actor import Actor
from relaygate.admin.schemas import ChannelTestResult, first_error, where
from relaygate.admin.service import Operator
from relaygate.cli import parser, verbs
from relaygate.config import ConfigError, Settings
from relaygate.core.errors import RelayError
from relaygate.store.database import Database

_FLAGS = {"port": "--port", "host": "--host", "workers": "--workers", "config_file": "--config"}


def _print(result: Any) -> None:
    if isinstance(result, list):
        for item in result:
            _print(item)
        return
    data = result.model_dump(mode="json") if isinstance(result, BaseModel) else {"ok": True}
    sys.stdout.write(orjson.dumps(data).decode() + "\n")


def _fail(message: str, status: int) -> int:
    sys.stderr.write(f"relaygate: {message}\n")
    return status


def settings_error(exc: ValidationError, overrides: dict[str, Any]) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    name = str(err["loc"][0]) if err["loc"] else ""
    source = _FLAGS[name] if name in overrides else f"RELAYGATE_{name.upper()}"
    return f"{source}: {err['msg'].removeprefix('Value error, ')}"


def _store(settings: Settings, *, create: bool) -> Database:
    """The database the server uses; a missing SQLite file is refused (not created) unless `create`."""
    url = settings.resolved_database_url()
    if not settings.database_url and not create:
        path = (settings.data_dir / "relaygate.db").resolve()
        if not path.exists():
            raise ConfigError(
                f"no database at {path}: RELAYGATE_DATA_DIR (default ./data) is relative to the directory the "
                "command runs in; run it where `relaygate serve` runs, set RELAYGATE_DATA_DIR (or "
                "RELAYGATE_DATABASE_URL) as the server has it, or create a database with `relaygate migrate`")
    try:
        return Database(url, threads=1)
    except OSError as exc:
        raise settings.store_dir_error(exc) from None


def _admin(settings: Settings, args: Any) -> int:
    db = _store(settings, create=args.area == "migrate")
    try:
        try:
            db.migrate()
        except DBAPIError as exc:
            raise ConfigError(f"RELAYGATE_DATABASE_URL: {db.unusable(exc)}") from None
        if args.area == "migrate":
            sys.stdout.write(orjson.dumps({"revision": db.revision(), "database": db.shown_url}).decode() + "\n")
            return 0
        op = Operator(db, actor=Actor.cli())
        result: Any = asyncio.run(verbs.table(op, args)[(args.area, getattr(args, "verb", ""))]())
    finally:
        db.close()
    _print(result)
    return 1 if isinstance(result, ChannelTestResult) and not result.ok else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser.build().parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.area == "serve":
        overrides = {k: v for k, v in {"config_file": args.config, "host": args.host, "port": args.port,
                                       "workers": args.workers}.items() if v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        return _fail(settings_error(exc, overrides), 2)
    try:
        if args.area == "serve":
            from relaygate.server.runner import serve

            return serve(settings)
        return _admin(settings, args)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    except ValidationError as exc:
        err = first_error(exc)
        return _fail(f"{where(err['loc']) or 'value'}: {err['msg']}", 2)
    except RelayError as exc:
        return _fail(exc.message, 1)
    except KeyboardInterrupt:
        return 130
