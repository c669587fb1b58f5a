"""What the MidJourney tests share: a relaygate tuned to poll fast, tenants with a midjourney channel on the fake
midjourney-proxy, plain-HTTP calls as midjourney-proxy clients make them, and a notifyHook receiver."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
from aiohttp import web

from tests.conftest import MJ_UPSTREAM_SECRET, Relaygate
from tests.upstreams.midjourney_mock import MockMidjourney
from tests.upstreams.server import MockServer

FAST_POLLING = {
    "RELAYGATE_MJ_POLL_INTERVAL": "0.05",
    "RELAYGATE_MJ_POLL_MAX_INTERVAL": "0.2",
    "RELAYGATE_MJ_HOOK_RETRY_SECONDS": "0.1",
    "RELAYGATE_LEASE_TTL": "2",
}
PRICES = {"imagine": 0.02, "upscale": 0.01}
"""USD per call in fast mode set by the tests (relax is half, turbo twice)."""
MODE_SHARE = {"fast": 1.0, "relax": 0.5, "turbo": 2.0}


def quota(usd: float) -> int:
    return round(usd * 500_000)


def mj_relaygate(workdir: Path, mj: MockMidjourney, **env: str) -> Relaygate:
    return Relaygate(workdir, env={**FAST_POLLING, **env}).start()


@dataclass
class MjTenant:
    rg: Relaygate
    group: str
    user_id: int
    key_id: int
    key: str
    channel_id: int
    balance: int

    @property
    def headers(self) -> dict[str, str]:
        """midjourney-proxy clients send the key as mj-api-secret."""
        return {"mj-api-secret": self.key}

    def submit(self, route: str, body: dict[str, Any], prefix: str = "") -> httpx.Response:
        return self.rg.http.post(f"{prefix}/mj/{route}", json=body, headers=self.headers)

    def ok(self, route: str, body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        """A submission the upstream took: its answer (code 1, 21 or 22) with relaygate's task id."""
        resp = self.submit(route, body, prefix)
        assert resp.status_code == 200, resp.text
        answer: dict[str, Any] = resp.json()
        assert set(answer) == {"code", "description", "result", "properties"}
        assert answer["code"] in (1, 21, 22), answer
        return answer

    def fetch(self, task_id: str) -> httpx.Response:
        return self.rg.http.get(f"/mj/task/{task_id}/fetch", headers=self.headers)

    def task(self, task_id: str) -> dict[str, Any]:
        resp = self.fetch(task_id)
        assert resp.status_code == 200, resp.text
        found: dict[str, Any] = resp.json()
        return found

    def wait(self, task_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            task = self.task(task_id)
            if until(task):
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} stayed {task['status']} {task['progress']}")
            time.sleep(0.03)

    def finished(self, task_id: str, timeout: float = 10) -> dict[str, Any]:
        return self.wait(task_id, lambda t: t["status"] in ("SUCCESS", "FAILURE", "CANCEL"), timeout)

    def logs(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.rg.ok("GET", f"/api/logs?key_id={self.key_id}&limit=500")
        return rows

    def spent(self) -> tuple[int, int]:
        """(what the user's balance lost, what the key's quota lost)."""
        user = self.rg.ok("GET", f"/api/users/{self.user_id}")
        key = self.rg.ok("GET", f"/api/keys/{self.key_id}")
        return self.balance - int(user["balance"]), self.balance - int(key["remain_quota"])


def mj_tenant(rg: Relaygate, mj: MockMidjourney, *, balance: int = 10**9, key_fields: dict[str, Any] | None = None,
              options: dict[str, Any] | None = None, prices: bool = True) -> MjTenant:
    """A group with its own user, key (quota = balance) and midjourney channel on the fake."""
    group = "mj" + secrets.token_hex(4)
    rg.ok("PUT", "/api/groups", {"name": group, "multiplier": 1.0})
    user = rg.ok("POST", "/api/users", {"name": "u-" + group, "group": group, "balance": balance})
    channel = rg.ok("POST", "/api/channels", {
        "name": f"{group}-mj", "type": "midjourney", "base_url": mj.base_url, "credentials": [MJ_UPSTREAM_SECRET],
        "models": ["midjourney"], "groups": [group], "options": options or {}})
    if prices:
        for action, usd in PRICES.items():
            for mode, share in MODE_SHARE.items():
                rg.ok("PUT", f"/api/prices/mj-{action}-{mode}", {"per_call": usd * share})
    key = rg.ok("POST", "/api/keys", {"user_id": user["id"], "quota": balance, **(key_fields or {})})
    tenant = MjTenant(rg, group, user["id"], key["id"], key["key"], channel["id"], balance)
    rg.wait_for(lambda: tenant.fetch("0").status_code == 404)  # the key is known (an unknown key is 401)
    return tenant


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    json: Any
    at: float = field(default_factory=time.monotonic)


class HookReceiver(MockServer):
    """A client's notifyHook endpoint: records every POST; `fail_next(n)` answers the next n with 500, `delay`
    holds each answer that long."""

    NAME = "HookReceiver"

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Received] = []
        self._failures = 0
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self._failures = 0
        self.delay = 0.0

    def fail_next_calls(self, n: int) -> None:
        with self._lock:
            self._failures = n

    def tasks(self, task_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r.json for r in self.received if isinstance(r.json, dict) and r.json.get("id") == task_id]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        with self._lock:
            self.received.append(Received(request.path, dict(request.headers), body))
            fail = self._failures > 0
            self._failures -= 1 if fail else 0
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=500 if fail else 200, text="ok")
