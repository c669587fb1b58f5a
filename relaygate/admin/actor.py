"""Who makes a change, as the audit log names them: an admin key, the CLI, the YAML file or start-up."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path

from relaygate.core.records import KeyRecord


@dataclass(frozen=True, slots=True)
class Actor:
    label: str
    key_id: int | None = None
    user_id: int | None = None
    request_id: str | None = None

    @classmethod
    def of_key(cls, key: KeyRecord, request_id: str | None = None) -> Actor:
        return cls(f"{key.kind} key {key.id} ({key.hint}) of user {key.user_id}", key.id, key.user_id, request_id)

    @classmethod
    def cli(cls) -> Actor:
        try:
            who = getpass.getuser()
        except (OSError, KeyError):  # no login name and no passwd entry (some containers)
            who = "unknown user"
        return cls(f"cli ({who})")

    @classmethod
    def config_file(cls, path: Path) -> Actor:
        return cls(f"config file {path}")


START_UP = Actor("start-up")
"""The server itself: the first admin, and access restored with RELAYGATE_ADMIN_KEY."""
