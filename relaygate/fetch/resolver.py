"""Name resolution behind one small interface, so tests (and operators' overrides) can pin names."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping, Sequence
from typing import Protocol

from relaygate.fetch.addresses import IPAddress


class Resolver(Protocol):
    """Turns a host name into the addresses it names; raises OSError when it names none."""

    async def resolve(self, hostname: str, port: int) -> list[IPAddress]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo), run off the event loop by asyncio."""

    async def resolve(self, hostname: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(hostname, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        return addresses


class StaticResolver:
    """Fixed answers for some names, the fallback resolver (if any) for the rest."""

    def __init__(self, table: Mapping[str, Sequence[str]], fallback: Resolver | None = None) -> None:
        self._table = {name.lower().rstrip("."): [ipaddress.ip_address(a) for a in addresses]
                       for name, addresses in table.items()}
        self._fallback = fallback

    async def resolve(self, hostname: str, port: int) -> list[IPAddress]:
        found = self._table.get(hostname.lower().rstrip("."))
        if found is not None:
            return list(found)
        if self._fallback is not None:
            return await self._fallback.resolve(hostname, port)
        raise socket.gaierror(socket.EAI_NONAME, f"{hostname} is not in the static table")


def parse_host_table(text: str) -> dict[str, list[str]]:
    """Parse `RELAYGATE_FETCH_HOSTS`: comma-separated `name=address` entries, several addresses joined by `|`
    (`files.intranet=10.1.2.3|10.1.2.4`). The addresses are still vetted like any the system resolver gives."""
    table: dict[str, list[str]] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, addresses = item.partition("=")
        name = name.strip().lower().rstrip(".")
        if not sep or not name or any(ch in name for ch in "/:@ "):
            raise ValueError(f"fetch hosts entry {item.strip()!r}: expected name=address")
        found = [a.strip() for a in addresses.split("|") if a.strip()]
        if not found:
            raise ValueError(f"fetch hosts entry {item.strip()!r}: no address")
        for address in found:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"fetch hosts entry {item.strip()!r}: {address!r} is not an IP address") from None
        table[name] = found
    return table

