"""The fetcher's rules: which URLs are fetched, which addresses they may reach, and every cap."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from yarl import URL

from relaygate import __version__
from relaygate.core.errors import FetchRefused
from relaygate.fetch.addresses import InvalidHost, IPAddress, is_public, never_allowed, parse_host_address
from relaygate.fetch.allow import AllowEntry, parse_allow_list

MAX_URL_LENGTH = 8192


class FetchSettings(Protocol):
    """The fields of relaygate.config.Settings the fetcher reads (kept structural: fetch imports no config)."""

    @property
    def fetch_allow(self) -> str: ...
    @property
    def fetch_max_bytes(self) -> int: ...
    @property
    def fetch_connect_timeout(self) -> float: ...
    @property
    def fetch_first_byte_timeout(self) -> float: ...
    @property
    def fetch_total_timeout(self) -> float: ...
    @property
    def fetch_max_redirects(self) -> int: ...


def _user_agent() -> str:
    return f"relaygate/{__version__}"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Caps and exemptions for one fetcher; the defaults are the safe ones."""

    allow: tuple[AllowEntry, ...] = ()
    max_bytes: int = 20 * 1024 * 1024
    connect_timeout: float = 5.0
    first_byte_timeout: float = 10.0
    total_timeout: float = 30.0
    max_redirects: int = 5
    user_agent: str = field(default_factory=_user_agent)

    @classmethod
    def from_settings(cls, settings: FetchSettings) -> FetchPolicy:
        return cls(
            allow=parse_allow_list(settings.fetch_allow),
            max_bytes=settings.fetch_max_bytes,
            connect_timeout=settings.fetch_connect_timeout,
            first_byte_timeout=settings.fetch_first_byte_timeout,
            total_timeout=settings.fetch_total_timeout,
            max_redirects=settings.fetch_max_redirects,
        )

    def admits(self, hostname: str, address: IPAddress, port: int) -> bool:
        """Whether a connection to this address and port is allowed: public, or exempted by the allow-list."""
        if never_allowed(address):
            return False
        if is_public(address):
            return True
        return any(entry.admits(hostname, address, port) for entry in self.allow)


@dataclass(frozen=True, slots=True)
class Target:
    """A URL that passed the syntactic rules, with the host and port it names."""

    url: URL
    hostname: str
    """The host as sent in the Host header and used for TLS: lower-case, IDNA-encoded, no brackets."""
    port: int
    address: IPAddress | None
    """Set when the URL names an address rather than a host name (in any spelling of it)."""

    @property
    def host_header(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        default = 443 if self.url.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _refuse(message: str) -> FetchRefused:
    return FetchRefused(message, code="url_not_allowed")


def check_url(url: str | URL) -> Target:
    """Apply the rules a URL must pass before any name is resolved: http(s), no credentials, a valid host."""
    text = str(url)
    if len(text) > MAX_URL_LENGTH:
        raise _refuse(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = url if isinstance(url, URL) else URL(text)
        netloc = urlsplit(text).netloc
    except ValueError:
        raise _refuse("the URL is not valid") from None
    if parsed.scheme not in ("http", "https"):
        raise _refuse("only http and https URLs can be fetched")
    if "@" in netloc or parsed.user is not None or parsed.password is not None:
        raise _refuse("URLs carrying credentials (user:password@) are not fetched")
    hostname = (parsed.raw_host or "").lower()
    port = parsed.port
    if not hostname or port is None or port == 0:
        raise _refuse("the URL has no host to fetch from")
    try:
        address = parse_host_address(hostname)
    except InvalidHost:
        raise _refuse(f"{hostname} is not a valid address") from None
    if address is not None:
        hostname = str(address)
    return Target(url=parsed.with_fragment(None), hostname=hostname, port=port, address=address)


def admitted_addresses(target: Target, addresses: list[IPAddress], policy: FetchPolicy) -> list[IPAddress]:
    """The resolved addresses the policy lets the fetcher connect to; refused when there are none."""
    admitted = [a for a in addresses if policy.admits(target.hostname, a, target.port)]
    if admitted:
        return admitted
    if target.address is not None:
        raise _refuse(f"{target.hostname} is a private, loopback, link-local or reserved address")
    raise _refuse(f"{target.hostname} resolves only to private, loopback, link-local or reserved addresses")


def url_label(url: str) -> str:
    """A URL as prompts and errors name it: scheme, host, port and path (no credentials, no query), at most 200
    characters; an IPv6 host keeps its brackets."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an invalid URL"
    if not parts.scheme or not host:
        return url.split("?", 1)[0][:200]
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"[:200]
