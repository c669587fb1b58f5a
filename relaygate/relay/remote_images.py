"""Image URLs an upstream cannot download itself (Gemini's fileData takes only Google-hosted files; Claude's URL
source only https), fetched through the guarded fetcher and sent inline: a data URL of exactly the bytes fetched."""

from __future__ import annotations

from typing import Protocol

from relaygate.core.errors import FetchFailed, FetchRefused, RelayError
from relaygate.core.types import JsonObject, JsonValue
from relaygate.fetch.document import Image
from relaygate.fetch.policy import url_label
from relaygate.protocols import content as c


class ImageFetcher(Protocol):
    """What fetches images by URL (relaygate.fetch.DocumentReader)."""

    async def fetch_image(self, url: str) -> Image: ...


def _fetched_here(url: str, upstream_fetches: tuple[str, ...]) -> bool:
    return url.startswith(("http://", "https://")) and not url.startswith(upstream_fetches)


def remote_images(body: JsonObject, upstream_fetches: tuple[str, ...]) -> list[str]:
    """The http(s) image URLs in the body's messages that the upstream will not download itself."""
    if "http://" in upstream_fetches and "https://" in upstream_fetches:
        return []
    messages = body.get("messages")
    found: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = c.image_url(part)
                if _fetched_here(url, upstream_fetches) and url not in found:
                    found.append(url)
    return found


def _inlined(content: JsonValue, data_urls: dict[str, str]) -> JsonValue:
    if not isinstance(content, list):
        return content
    out: list[JsonValue] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url" and c.image_url(part) in data_urls:
            image = part.get("image_url")
            fields = dict(image) if isinstance(image, dict) else {}
            out.append({**part, "image_url": {**fields, "url": data_urls[c.image_url(part)]}})
        else:
            out.append(part)
    return out


async def inline_images(body: JsonObject, upstream_fetches: tuple[str, ...], fetcher: ImageFetcher,
                        known: dict[str, str], *, param: str = "messages") -> JsonObject:
    """The chat body with every image the upstream cannot download replaced by the bytes relaygate fetched
    (`known` holds what earlier attempts fetched already, and is added to); the body itself when there are none.
    `param` is the request field a refusal names (the client's own: `input` for a translated Responses request)."""
    urls = remote_images(body, upstream_fetches)
    if not urls:
        return body
    for number, url in enumerate(urls, start=1):
        if url in known:
            continue
        try:
            known[url] = (await fetcher.fetch_image(url)).data_url()
        except RelayError as err:
            if isinstance(err, FetchRefused | FetchFailed):
                raise type(err)(f"Image {number} of the request ({url_label(url)}) could not be "
                                f"fetched for the upstream, which takes images only as bytes: {err.message}.",
                                code=err.code, param=param) from None
            raise
    messages = body.get("messages")
    assert isinstance(messages, list)
    rewritten: list[JsonValue] = [
        {**m, "content": _inlined(m.get("content"), known)} if isinstance(m, dict) else m for m in messages]
    return {**body, "messages": rewritten}
