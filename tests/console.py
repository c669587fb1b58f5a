"""A console user as the tests drive one over HTTP: their own cookie jar, logged in, the CSRF token sent."""

from __future__ import annotations

import secrets
from typing import Any

import httpx2 as httpx

from tests.conftest import Relaygate

PASSWORD = "correct horse battery"


class Console:
    """One browser's worth of state: a cookie jar and the session's CSRF token."""

    def __init__(self, rg: Relaygate) -> None:
        self.rg = rg
        self.http = httpx.Client(base_url=rg.url, timeout=30)
        self.csrf: str | None = None

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        resp = self.http.post("/api/auth/login", json={"username": username, "password": password})
        if resp.status_code == 200:
            self.csrf = resp.json()["csrf_token"]
        return resp

    def call(self, method: str, path: str, json: Any = None, *, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf and self.csrf else {}
        return self.http.request(method, path, json=json, headers=headers)

    def ok(self, method: str, path: str, json: Any = None) -> Any:
        resp = self.call(method, path, json)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def close(self) -> None:
        self.http.close()


def new_user(rg: Relaygate, *, role: str = "user", balance: int = 0, password: str | None = PASSWORD,
             group: str = "default") -> dict[str, Any]:
    name = f"{role}-{secrets.token_hex(4)}"
    user: dict[str, Any] = rg.ok("POST", "/api/users", {"name": name, "role": role, "balance": balance,
                                                       "password": password, "group": group})
    return user
