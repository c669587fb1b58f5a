"""Signed image links: `/mj/image/{task id}?expires=…&sig=…`, an HMAC of the task id and the expiry under a secret
every replica shares. The link works without credentials (an `<img src>`) until it expires, and no other task's
link can be made from it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from enum import Enum
from urllib.parse import quote


class LinkCheck(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


class ImageLinks:
    """Makes and checks the links; `ttl` seconds of validity, counted from a boundary of `ttl`/10 (at most an
    hour) so a task polled again and again keeps one link a client or browser can cache."""

    def __init__(self, secret: str, ttl: float) -> None:
        self._key = hashlib.sha256(b"relaygate mj image links\x00" + secret.encode()).digest()
        self.ttl = ttl
        self._step = max(1, min(3600, int(ttl // 10)))

    def signature(self, task_id: str, expires: int) -> str:
        mac = hmac.new(self._key, f"{task_id}\x00{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def expiry(self, now: float) -> int:
        return int(math.ceil((now + self.ttl) / self._step) * self._step)

    def url(self, base: str, task_id: str, now: float) -> str:
        """The link under `base` (relaygate's address as the client reaches it)."""
        expires = self.expiry(now)
        return f"{base}/mj/image/{quote(task_id, safe='')}?expires={expires}&sig={self.signature(task_id, expires)}"

    def check(self, task_id: str, expires: str | None, sig: str | None, now: float) -> LinkCheck:
        if not expires or not sig or not expires.isdigit() or len(expires) > 12:
            return LinkCheck.INVALID
        expected = self.signature(task_id, int(expires)).encode()
        if not hmac.compare_digest(expected, sig.encode("utf-8", "surrogateescape")):
            return LinkCheck.INVALID
        return LinkCheck.VALID if int(expires) >= now else LinkCheck.EXPIRED
