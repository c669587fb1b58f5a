"""One call from a URL or an upload to a Document (or an Image): fetch, extract, cache, one load per URL at a time."""

from __future__ import annotations

import asyncio
import dataclasses

from relaygate.core.errors import UnsupportedFile
from relaygate.fetch.cache import DocumentCache
from relaygate.fetch.document import Document, Image, Upload
from relaygate.fetch.extractor import Extractor
from relaygate.fetch.fetcher import Fetched, GuardedFetcher
from relaygate.fetch.sniff import image_mime

__all__ = ["DocumentReader", "Image"]


def _not_a_document(image: Image) -> UnsupportedFile:
    return UnsupportedFile(f"the file is an image ({image.mime}), not a document", code="unsupported_file_type")


class DocumentReader:
    """The fetcher, the extractor and the cache together; create one in the app lifespan."""

    def __init__(self, fetcher: GuardedFetcher, extractor: Extractor, cache: DocumentCache) -> None:
        self.fetcher = fetcher
        self.extractor = extractor
        self.cache = cache
        self._loading: dict[str, asyncio.Task[Document | Image]] = {}

    async def read_url(self, url: str) -> Document:
        """The document at `url`, from the cache when it was read within the TTL; concurrent callers share one load."""
        found = await self.read(url)
        if isinstance(found, Image):
            raise _not_a_document(found)
        return found

    async def read(self, url: str) -> Document | Image:
        """What `url` holds: a document (cached as read_url caches it) or an image (PNG, JPEG, GIF, WebP: its bytes,
        not cached); concurrent callers share one load."""
        cached = self.cache.by_url(url)
        if cached is not None:
            return cached
        task = self._loading.get(url)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load(url))
            self._loading[url] = task
            task.add_done_callback(lambda _: self._loading.pop(url, None))
        # Shielded: one caller going away must not cancel the load the others wait for.
        return await asyncio.shield(task)

    async def read_upload(self, upload: Upload) -> Document:
        found = await self.read_file(upload)
        if isinstance(found, Image):
            raise _not_a_document(found)
        return found

    async def read_file(self, upload: Upload) -> Document | Image:
        """An uploaded file as a document (cached by content) or, when its bytes are an image, as that image."""
        mime = image_mime(upload.data)
        if mime is not None:
            return Image(url=upload.name, mime=mime, data=upload.data)
        cached = self.cache.by_hash(upload.sha256)
        if cached is not None:
            return dataclasses.replace(cached, name=upload.name)
        document = await self.extractor.extract(upload)
        self.cache.put(document)
        return document

    async def fetch_image(self, url: str) -> Image:
        """An image by URL (PNG, JPEG, GIF, WebP, told from the bytes); UnsupportedFile for anything else."""
        fetched = await self.fetcher.fetch(url)
        image = _image(fetched)
        if image is None:
            if not fetched.data:
                raise UnsupportedFile("the image is empty (0 bytes)", code="empty_file")
            raise UnsupportedFile("the URL does not hold a PNG, JPEG, GIF or WebP image", code="unsupported_file_type")
        return image

    async def close(self) -> None:
        for task in list(self._loading.values()):
            task.cancel()
        await asyncio.gather(*self._loading.values(), return_exceptions=True)
        await self.fetcher.close()
        await self.extractor.close()

    async def _load(self, url: str) -> Document | Image:
        fetched = await self.fetcher.fetch(url)
        image = _image(fetched)
        if image is not None:
            return image
        document = self._known(fetched) or await self.extractor.extract(fetched)
        self.cache.put(document, url)
        return document

    def _known(self, fetched: Fetched) -> Document | None:
        cached = self.cache.by_hash(fetched.sha256)
        return dataclasses.replace(cached, name=fetched.name) if cached is not None else None


def _image(fetched: Fetched) -> Image | None:
    mime = image_mime(fetched.data)
    return Image(url=fetched.url, mime=mime, data=fetched.data) if mime is not None else None
