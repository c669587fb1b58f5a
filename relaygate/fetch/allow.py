"""The operator's allow-list: `host:port` and CIDR entries exempt from the private-address block."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from relaygate.fetch.addresses import IPAddress, embedded_ipv4


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One entry: a network (any port unless `port` is set) or a host name with a port."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    hostname: str | None = None
    port: int | None = None

    def admits(self, hostname: str, address: IPAddress, port: int) -> bool:
        """Whether a connection to `address:port`, reached through `hostname`, is exempt."""
        if self.port is not None and self.port != port:
            return False
        if self.hostname is not None:
            return self.hostname == hostname.rstrip(".").lower()
        assert self.network is not None
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and (inner := embedded_ipv4(address)) is not None:
            candidates.append(inner)
        return any(candidate in self.network for candidate in candidates)

    def __str__(self) -> str:
        where = self.hostname if self.hostname is not None else str(self.network)
        if self.port is None:
            return where
        if self.network is not None and self.network.num_addresses == 1:
            host = str(self.network.network_address)
            where = f"[{host}]" if self.network.version == 6 else host
        return f"{where}:{self.port}"


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"allow-list entry {entry!r}: {text!r} is not a port")
    return int(text)


def parse_allow_entry(entry: str) -> AllowEntry:
    """Parse `10.0.0.0/8`, `127.0.0.1:8080`, `[::1]:8080`, `192.168.1.5` or `files.intranet:443`.

    A host name must carry a port: a bare name would exempt whatever that name ever resolves to.
    """
    text = entry.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"allow-list entry {entry!r}: expected [IPv6]:port")
        port = _port(rest[1:], entry) if rest else None
        return AllowEntry(network=ipaddress.ip_network(host, strict=True), port=port)
    try:
        return AllowEntry(network=ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"allow-list entry {entry!r}: expected a CIDR, an IP or host:port")
    port = _port(port_text, entry)
    try:
        return AllowEntry(network=ipaddress.ip_network(host, strict=True), port=port)
    except ValueError:
        pass
    if "/" in host or not all(part.isalnum() or part == "-" for part in host.replace(".", "-").split("-")):
        raise ValueError(f"allow-list entry {entry!r}: {host!r} is neither an address nor a host name")
    return AllowEntry(hostname=host.rstrip(".").lower(), port=port)


def parse_allow_list(text: str) -> tuple[AllowEntry, ...]:
    """Parse the comma-separated `RELAYGATE_FETCH_ALLOW` value; empty means no exemptions."""
    return tuple(parse_allow_entry(item) for item in text.split(",") if item.strip())
