"""Preparation steps: async work between parsing a request and routing it (file analysis is one), run in order."""

from __future__ import annotations

from typing import Protocol

from relaygate.relay.exchange import Exchange
from relaygate.relay.operation import Parsed


class Step(Protocol):
    """A step sees every parsed request and changes the ones it is for (their body, their model) before the
    relay routes, prices and reserves them; it raises a RelayError to refuse one."""

    async def prepare(self, ex: Exchange, parsed: Parsed) -> None: ...
