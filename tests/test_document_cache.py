"""The document cache: by URL and by content hash, for its TTL, within its memory bound."""

from __future__ import annotations

import hashlib

from relaygate.fetch import Document, DocumentCache, FileKind, Part
from relaygate.fetch.cache import document_size


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def doc(text: str, name: str = "a.txt") -> Document:
    sha = hashlib.sha256(text.encode()).hexdigest()
    return Document(name=name, kind=FileKind.TEXT, size=len(text), sha256=sha, parts=(Part("lines", "1–1", text),))


def test_a_document_is_found_by_url_and_by_hash_until_its_ttl_ends() -> None:
    clock = Clock()
    cache = DocumentCache(ttl=60, max_bytes=1 << 20, clock=clock)
    first = doc("hello")
    cache.put(first, "http://files.test/a.txt")
    assert cache.by_url("http://files.test/a.txt") is first and cache.by_hash(first.sha256) is first
    assert cache.by_url("http://files.test/other.txt") is None
    clock.now += 59.9
    assert cache.by_url("http://files.test/a.txt") is first
    clock.now += 0.2
    assert cache.by_url("http://files.test/a.txt") is None and cache.by_hash(first.sha256) is None
    assert len(cache) == 0 and cache.size == 0


def test_the_least_recently_used_document_leaves_first_when_memory_runs_out() -> None:
    one, two, three = doc("1" * 1000), doc("2" * 1000), doc("3" * 1000)
    cache = DocumentCache(ttl=60, max_bytes=document_size(one) * 2 + 10)
    cache.put(one, "u1")
    cache.put(two, "u2")
    assert cache.by_hash(one.sha256) is one  # one is now the most recently used
    cache.put(three, "u3")
    assert cache.by_url("u2") is None and cache.by_url("u1") is one and cache.by_url("u3") is three
    assert cache.size <= cache.max_bytes and len(cache) == 2


def test_a_document_larger_than_the_cache_is_not_kept_and_a_zero_ttl_keeps_nothing() -> None:
    big = doc("x" * 10_000)
    cache = DocumentCache(ttl=60, max_bytes=1000)
    cache.put(big, "u")
    assert cache.by_url("u") is None and len(cache) == 0
    off = DocumentCache(ttl=0, max_bytes=1 << 20)
    off.put(doc("small"), "u")
    assert off.by_url("u") is None


def test_the_same_content_under_a_new_url_replaces_the_entry_and_keeps_both_urls() -> None:
    cache = DocumentCache(ttl=60, max_bytes=1 << 20)
    cache.put(doc("same"), "first")
    cache.put(doc("same"), "second")
    assert len(cache) == 1
    assert cache.by_url("second") is not None and cache.by_url("first") is not None
    assert cache.size == document_size(doc("same"))
