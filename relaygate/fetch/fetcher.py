"""The one guarded fetcher: every hop's address vetted, then connected to by that address, under caps."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from relaygate.core.errors import FetchFailed, FetchRefused
from relaygate.fetch.addresses import IPAddress
from relaygate.fetch.allow import AllowEntry
from relaygate.fetch.body import read_body
from relaygate.fetch.policy import FetchPolicy, Target, admitted_addresses, check_url
from relaygate.fetch.resolver import Resolver, SystemResolver

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ADDRESSES_TRIED = 3


@dataclass(frozen=True, slots=True)
class Fetched:
    """A downloaded file: its bytes and what the server said about them (informative only)."""

    url: str
    """The final URL, after redirects."""
    name: str
    """The file name from Content-Disposition, else the URL path's last segment, else the host."""
    content_type: str
    charset: str | None
    """The charset the server declared, used only as a hint when the bytes are not UTF-8."""
    data: bytes
    sha256: str
    redirects: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.data)


class _NoResolver(AbstractResolver):
    """aiohttp only ever sees vetted IP literals; a name reaching it would be a bug, so it resolves nothing."""

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        raise OSError(f"relaygate.fetch resolves names itself; aiohttp was asked for {host!r}")

    async def close(self) -> None:
        return None


def _timeout(message: str) -> FetchRefused:
    return FetchRefused(message, code="fetch_timeout")


def _file_name(response: aiohttp.ClientResponse, target: Target) -> str:
    disposition = response.content_disposition
    name = (disposition.filename if disposition is not None else None) or target.url.name or target.hostname
    return "".join(ch for ch in name if ch.isprintable())[:200] or target.hostname


class GuardedFetcher:
    """Downloads http(s) URLs for relaygate: no private addresses, no DNS rebinding, no unbounded bodies.

    Create it in the app lifespan and `await close()` it at shutdown; it owns one aiohttp session.
    """

    def __init__(self, policy: FetchPolicy, resolver: Resolver | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.policy = policy
        self._configured = policy
        self._resolver: Resolver = resolver or SystemResolver()
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=_NoResolver(), use_dns_cache=False, force_close=True,
                                             ssl=self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False, trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.policy.connect_timeout),
            )
        return self._session

    def exempt(self, entries: Sequence[AllowEntry]) -> bool:
        """Allow-list entries beyond the policy's own (the operator's, kept in the store), replacing the ones given
        before; True when that changed the list. A download under way keeps its current hop's rules."""
        allow = self._configured.allow + tuple(entries)
        if allow == self.policy.allow:
            return False
        self.policy = dataclasses.replace(self._configured, allow=allow)
        return True

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str) -> Fetched:
        """Download `url`, following up to `max_redirects` redirects, each hop checked like the first."""
        try:
            async with asyncio.timeout(self.policy.total_timeout):
                return await self._follow(check_url(url))
        except TimeoutError:
            raise _timeout(f"the download did not finish within {self.policy.total_timeout:g} s") from None

    async def post(self, url: str, body: bytes, content_type: str) -> int:
        """POST `body` to `url` (a webhook) under the same rules as a download — every address vetted, the one
        checked connected to — with no redirect followed; returns the status the server answered."""
        try:
            async with asyncio.timeout(self.policy.total_timeout):
                target = check_url(url)
                response = await self._request(target, await self._vet(target), method="POST", body=body,
                                               content_type=content_type)
                response.release()
                return response.status
        except TimeoutError:
            raise _timeout(f"the server did not answer within {self.policy.total_timeout:g} s") from None

    async def _follow(self, target: Target) -> Fetched:
        redirects: list[str] = []
        while True:
            try:
                addresses = await self._vet(target)
            except FetchRefused as refused:
                if redirects:
                    raise FetchRefused(f"a redirect led to a refused address: {refused.message}",
                                       code=refused.code) from None
                raise
            response = await self._request(target, addresses)
            try:
                if response.status in _REDIRECTS:
                    target = self._redirect(target, response, len(redirects))
                    redirects.append(str(target.url))
                    continue
                if not 200 <= response.status < 300:
                    raise FetchFailed(f"the file server answered {response.status} {response.reason or ''}".strip())
                data = await read_body(response, self.policy.max_bytes)
                return Fetched(url=str(target.url), name=_file_name(response, target),
                               content_type=response.content_type, charset=response.charset, data=data,
                               sha256=hashlib.sha256(data).hexdigest(), redirects=tuple(redirects))
            finally:
                response.release()

    def _redirect(self, target: Target, response: aiohttp.ClientResponse, followed: int) -> Target:
        location = response.headers.get("Location")
        if not location:
            raise FetchFailed(f"the file server answered {response.status} without a Location")
        if followed >= self.policy.max_redirects:
            raise FetchRefused(f"more than {self.policy.max_redirects} redirects", code="too_many_redirects")
        try:
            next_url = target.url.join(URL(location))
        except ValueError:
            raise FetchRefused("a redirect pointed to an invalid URL", code="url_not_allowed") from None
        try:
            return check_url(next_url)
        except FetchRefused as refused:
            raise FetchRefused(f"a redirect led to a refused URL: {refused.message}", code=refused.code) from None

    async def _vet(self, target: Target) -> list[IPAddress]:
        if target.address is not None:
            return admitted_addresses(target, [target.address], self.policy)
        try:
            async with asyncio.timeout(self.policy.connect_timeout):
                resolved = await self._resolver.resolve(target.hostname, target.port)
        except TimeoutError:
            raise FetchFailed(f"the host name {target.hostname} did not resolve in time") from None
        except OSError:
            raise FetchFailed(f"the host name {target.hostname} could not be resolved") from None
        return admitted_addresses(target, resolved, self.policy)

    async def _request(self, target: Target, addresses: list[IPAddress], *, method: str = "GET",
                       body: bytes | None = None, content_type: str | None = None) -> aiohttp.ClientResponse:
        """Send the request (a GET unless told) to the first vetted address that accepts a connection."""
        headers = {"Host": target.host_header, "User-Agent": self.policy.user_agent, "Accept": "*/*",
                   "Accept-Encoding": "identity"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        extra: dict[str, Any] = {}
        if target.url.scheme == "https" and target.address is None:
            extra["server_hostname"] = target.hostname
        failure = "the file server refused the connection"
        for address in addresses[:_ADDRESSES_TRIED]:
            try:
                async with asyncio.timeout(self.policy.first_byte_timeout):
                    return await self._client().request(method, target.url.with_host(str(address)), data=body,
                                                        headers=headers, allow_redirects=False, **extra)
            except aiohttp.ClientSSLError:
                raise FetchFailed(f"TLS with {target.hostname} failed (certificate or handshake)") from None
            except aiohttp.ServerTimeoutError:
                failure = f"could not connect to {target.hostname} within {self.policy.connect_timeout:g} s"
                continue
            except aiohttp.ClientConnectorError:
                continue
            except TimeoutError:
                raise _timeout(f"the file server did not answer within {self.policy.first_byte_timeout:g} s") from None
            except aiohttp.ClientError as exc:
                log.info("fetch from %s failed: %s", target.hostname, type(exc).__name__)
                raise FetchFailed("the file server closed the connection without an answer") from None
        raise FetchFailed(failure)
