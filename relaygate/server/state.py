"""The per-process services the routes use, built in the app start-up and passed by the app."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from relaygate.admin.logins import Logins
from relaygate.admin.service import Operator
from relaygate.billing.ledger import Ledger
from relaygate.config import Settings
from relaygate.relay.catalog import CatalogCache
from relaygate.relay.metrics import RelayMetrics
from relaygate.relay.pipeline import Relay
from relaygate.relay.upstream import Transport
from relaygate.store.database import Database
from relaygate.tasks.runtime import MidjourneyTasks


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    catalogs: CatalogCache
    ledger: Ledger
    upstream: Transport
    relay: Relay
    operator: Operator
    metrics: RelayMetrics
    logins: Logins
    midjourney: MidjourneyTasks | None = None
    draining: bool = False
    first_admin_key: str | None = field(default=None, repr=False)


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]
