"""Which IP addresses the fetcher may connect to, and how a URL's host spells an address."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# Listed here rather than left to ipaddress.is_global, whose tables moved between Python releases;
# is_global is still consulted as a second opinion (it knows IANA's special-purpose registry).
_BLOCKED_V4 = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8",        # "this network"; 0.0.0.0 reaches the local host on Linux
    "10.0.0.0/8",       # RFC 1918
    "100.64.0.0/10",    # CGNAT (RFC 6598); 100.100.100.200 is Alibaba Cloud's metadata service
    "127.0.0.0/8",      # loopback
    "169.254.0.0/16",   # link-local; 169.254.169.254 is the AWS/GCP/Azure/OCI metadata service
    "172.16.0.0/12",    # RFC 1918
    "192.0.0.0/24",     # IETF protocol assignments
    "192.0.2.0/24",     # documentation
    "192.88.99.0/24",   # 6to4 relay anycast
    "192.168.0.0/16",   # RFC 1918
    "198.18.0.0/15",    # benchmarking
    "198.51.100.0/24",  # documentation
    "203.0.113.0/24",   # documentation
    "224.0.0.0/4",      # multicast
    "240.0.0.0/4",      # reserved, incl. 255.255.255.255 broadcast
))
_BLOCKED_V6 = tuple(ipaddress.IPv6Network(n) for n in (
    "::/128",           # unspecified
    "::1/128",          # loopback
    "64:ff9b:1::/48",   # local-use NAT64 (RFC 8215)
    "100::/64",         # discard-only
    "2001::/23",        # IETF protocol assignments, incl. Teredo 2001::/32
    "2001:db8::/32",    # documentation
    "fc00::/7",         # unique local; fd00:ec2::254 is the AWS metadata service over IPv6
    "fe80::/10",        # link-local
    "fec0::/10",        # deprecated site-local
    "ff00::/8",         # multicast
))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")

_NUMERIC_LABEL = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")


class InvalidHost(ValueError):
    """A host that looks like an IPv4 address but is not a valid one (e.g. `999.1.1.1`)."""


def parse_host_address(host: str) -> IPAddress | None:
    """The address a URL host spells, in any of the forms resolvers accept, or None for a name.

    Follows the WHATWG URL rule: a host whose last label is a number (decimal, 0x hex or 0-led octal)
    is an IPv4 address in inet_aton's syntax — `127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1` — or
    is invalid; it is never handed to DNS, which might read it the same way.
    """
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    name = bare.rstrip(".")
    labels = name.split(".")
    if not name or not _NUMERIC_LABEL.match(labels[-1]):
        return None
    if len(labels) > 4 or not all(_NUMERIC_LABEL.match(label) for label in labels):
        raise InvalidHost(f"{host!r} is not a valid IPv4 address")
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        raise InvalidHost(f"{host!r} is not a valid IPv4 address") from None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries: mapped, compatible, 6to4 or NAT64 (64:ff9b::/96)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def never_allowed(address: IPAddress) -> bool:
    """Addresses no allow-list entry can open: unspecified, multicast and broadcast are never a file server."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return never_allowed(inner)
    return address.is_unspecified or address.is_multicast or address == ipaddress.IPv4Address("255.255.255.255")


def is_public(address: IPAddress) -> bool:
    """True when the address is an ordinary public unicast address, in whatever IPv6 form it is written."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_public(inner)
        blocked: tuple[ipaddress.IPv4Network, ...] | tuple[ipaddress.IPv6Network, ...] = _BLOCKED_V6
    else:
        blocked = _BLOCKED_V4
    if any(address in network for network in blocked):
        return False
    return address.is_global and not address.is_multicast
