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
