"""Serving a task's image through relaygate (`/mj/image/{id}`), so clients never see upstream hosts. An image on
its channel's own origin (the operator configured that host) is fetched through the upstream transport; any other
(Discord's CDN, an upstream's object storage) through the guarded fetcher and its rules."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

from relaygate.core.errors import FetchFailed, FetchRefused, NotFound, UpstreamFailed
from relaygate.fetch import GuardedFetcher, image_mime
from relaygate.providers.base import UpstreamRequest
from relaygate.relay.catalog import CatalogCache
from relaygate.relay.upstream import Transport, UpstreamBroken, UpstreamUnavailable
from relaygate.store import task_sql
from relaygate.store.database import Database


@dataclass(frozen=True, slots=True)
class TaskImage:
    data: bytes
    content_type: str
    final: bool
    """The task has finished: its image will not change."""


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    return (parts.scheme, (parts.hostname or "").lower(), port) if parts.hostname else None


def same_origin(url: str, base_url: str) -> bool:
    here = _origin(url)
    return here is not None and here == _origin(base_url)


class ImageProxy:
    def __init__(self, *, db: Database, catalogs: CatalogCache, transport: Transport, fetcher: GuardedFetcher,
                 max_bytes: int, timeout: float) -> None:
        self._db = db
        self._catalogs = catalogs
        self._transport = transport
        self._fetcher = fetcher
        self._max_bytes = max_bytes
        self._timeout = timeout

    async def image(self, task_id: str) -> TaskImage:
        row = await self._db.run(functools.partial(task_sql.task_by_id, task_id=task_id))
        if row is None or not row.image_url:
            raise NotFound(f"Task {task_id} has no image (yet).", code="image_not_found")
        channel = next((c for c in self._catalogs.catalog.channels if c.id == row.channel_id), None)
        if channel is not None and same_origin(row.image_url, channel.base_url):
            data = await self._trusted(row.image_url)
        else:
            try:
                data = (await self._fetcher.fetch(row.image_url)).data
            except (FetchRefused, FetchFailed) as exc:
                raise UpstreamFailed(f"The task's image could not be fetched: {exc.message}.", code=exc.code) from None
        mime = image_mime(data)
        if mime is None:
            raise UpstreamFailed("The upstream's image for this task is not a PNG, JPEG, GIF or WebP file.")
        return TaskImage(data, mime, row.finished)

    async def _trusted(self, url: str) -> bytes:
        try:
            resp = await self._transport.open(UpstreamRequest("GET", url, {}, None), self._timeout)
        except UpstreamUnavailable:
            raise UpstreamFailed("The upstream holding the task's image could not be reached.") from None
        try:
            if resp.status != 200:
                raise UpstreamFailed(f"The upstream holding the task's image answered HTTP {resp.status}.")
            chunks, size = [], 0
            while chunk := await resp.read_chunk():
                size += len(chunk)
                if size > self._max_bytes:
                    raise UpstreamFailed(f"The task's image is larger than {self._max_bytes} bytes.")
                chunks.append(chunk)
        except UpstreamBroken:
            raise UpstreamFailed("The upstream broke off while sending the task's image.") from None
        finally:
            resp.close()
        return b"".join(chunks)
