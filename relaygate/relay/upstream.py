"""The one way to call an upstream: a pooled keep-alive HTTP client per process."""

from __future__ import annotations

import asyncio

import aiohttp

from relaygate.providers.base import UpstreamRequest

RETRYABLE_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)


class Upstream:
    """Owns the aiohttp session; created in the app start-up and closed at shutdown."""

    def __init__(self, *, connect_timeout: float) -> None:
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60, ttl_dns_cache=60)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
            trust_env=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def open(self, req: UpstreamRequest, read_timeout: float) -> aiohttp.ClientResponse:
        """Send the request and return once the status line and headers have arrived."""
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=None, connect=self._connect_timeout, sock_read=read_timeout)
        return await self._session.request(
            req.method, req.url, data=req.body, headers=req.headers, timeout=timeout, allow_redirects=False
        )
