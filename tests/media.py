"""What the audio and image tests share: a tenant whose channels serve the media models, its balance and log rows,
and quota arithmetic as the price table's (500,000 quota = 1 USD, rounded up)."""

from __future__ import annotations

import math
from typing import Any

from tests.conftest import Relaygate, Tenant, make_tenant

QUOTA_PER_USD = 500_000
BALANCE = 10**9
MEDIA_MODELS = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe",
                "dall-e-2", "dall-e-3", "gpt-image-1", "gpt-4o-mini"]


def media_tenant(rg: Relaygate, upstreams: list[str], **kw: Any) -> Tenant:
    return make_tenant(rg, upstreams, models=kw.pop("models", MEDIA_MODELS), balance=kw.pop("balance", BALANCE), **kw)


def quota(usd: float) -> int:
    """What `usd` costs in quota units, rounded up as the relay rounds a charge."""
    return max(0, math.ceil(usd * QUOTA_PER_USD - 1e-9))


def spent(rg: Relaygate, t: Tenant) -> int:
    return BALANCE - int(rg.ok("GET", f"/api/users/{t.user_id}")["balance"])


def rows(rg: Relaygate, t: Tenant) -> list[dict[str, Any]]:
    """The tenant's log rows, oldest first."""
    return list(reversed(rg.ok("GET", f"/api/logs?key_id={t.key_id}&limit=100")))


def last_row(rg: Relaygate, t: Tenant) -> dict[str, Any]:
    """The tenant's latest log row, once it is stored (a row can be a moment behind an aborted answer)."""
    rg.wait_for(lambda: bool(rows(rg, t)))
    return rows(rg, t)[-1]
