"""Recently read documents, by URL and by content hash, for a set time and within a memory bound."""

from __future__ import annotations

import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from relaygate.fetch.document import Document


@dataclass(slots=True)
class _Entry:
    document: Document
    size: int
    expires: float


def document_size(document: Document) -> int:
    """An estimate of the memory a document holds: its strings as Python stores them."""
    return 512 + sum(sys.getsizeof(part.text) + sys.getsizeof(part.label) + 128 for part in document.parts)


class DocumentCache:
    """Least recently used documents first out; an entry older than `ttl` seconds is never served."""

    def __init__(self, ttl: float, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._clock = clock
        self._by_hash: OrderedDict[str, _Entry] = OrderedDict()
        self._urls: dict[str, tuple[str, float]] = {}
        self._bytes = 0

    @property
    def size(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._by_hash)

    def by_hash(self, sha256: str) -> Document | None:
        entry = self._by_hash.get(sha256)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self._drop(sha256)
            return None
        self._by_hash.move_to_end(sha256)
        return entry.document

    def by_url(self, url: str) -> Document | None:
        found = self._urls.get(url)
        if found is None:
            return None
        sha256, expires = found
        if expires <= self._clock():
            del self._urls[url]
            return None
        document = self.by_hash(sha256)
        if document is None:
            del self._urls[url]
        return document

    def put(self, document: Document, url: str | None = None) -> None:
        """Keep the document (and remember that `url` served it); one larger than the whole cache is not kept."""
        size = document_size(document)
        if size > self.max_bytes or self.ttl <= 0:
            return
        expires = self._clock() + self.ttl
        known = self._by_hash.pop(document.sha256, None)
        if known is not None:
            self._bytes -= known.size
        self._by_hash[document.sha256] = _Entry(document, size, expires)
        self._bytes += size
        if url is not None:
            self._urls[url] = (document.sha256, expires)
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._by_hash))
            self._drop(oldest)

    def clear(self) -> None:
        self._by_hash.clear()
        self._urls.clear()
        self._bytes = 0

    def _drop(self, sha256: str) -> None:
        entry = self._by_hash.pop(sha256)
        self._bytes -= entry.size
        for url in [u for u, (h, _) in self._urls.items() if h == sha256]:
            del self._urls[url]
