"""Finding the files a chat request names, for the all-tools models: URLs leading a user message's text ("<url1>
<url2> <question>", any scheme, so the fetcher can refuse what it does not fetch), http(s) URLs anywhere else in
it (outside `code`), `image_url` parts and OpenAI `file` parts carrying base64 `file_data`. Pure functions."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from relaygate.core.errors import BadRequest, FileTooLarge
from relaygate.core.types import JsonObject, JsonValue
from relaygate.fetch.document import Upload
from relaygate.protocols import content as c

_WIDE_PUNCTUATION = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20"
"""CJK and full-width punctuation (，。、：？…): never part of a URL as typed, so it ends one."""
_LEADING_URL = re.compile(rf"[\s{_WIDE_PUNCTUATION}]*([A-Za-z][A-Za-z0-9+.-]*://[^\s{_WIDE_PUNCTUATION}]+)")
_SEPARATOR = re.compile(rf"^[\s{_WIDE_PUNCTUATION}]*")
_INLINE_URL = re.compile(rf"https?://[^\s<>\"'`{_WIDE_PUNCTUATION}]+", re.IGNORECASE)
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)
_TRAILING = ".,;:!?'\"}>"
_CLOSERS = {")": "(", "]": "["}
"""Closing brackets that end a URL only when unbalanced: `…/Foo_(bar)` and `http://[::1]` keep theirs."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """One file a request names: by URL (a download: a document or an image), as an upload (a `file` part), or
    as an `image_url` part (vision input as the client gave it)."""

    key: str
    """What makes two mentions the same file: the URL, or the upload's content hash."""
    url: str | None = None
    upload: Upload | None = None
    image_part: JsonObject | None = None


@dataclass(slots=True)
class AttachedMessage:
    """A user message that names files: where it is, its question verbatim, and the files in the order named."""

    index: int
    question: str
    keys: list[str] = field(default_factory=list)
    kept_parts: list[JsonObject] = field(default_factory=list)
    """Parts that are neither text nor a file (input_audio, …), kept as they are."""


@dataclass(slots=True)
class Found:
    messages: list[AttachedMessage] = field(default_factory=list)
    files: dict[str, Attachment] = field(default_factory=dict)
    """Every distinct file, in the order first named."""

    def add(self, message: AttachedMessage, attachment: Attachment) -> None:
        self.files.setdefault(attachment.key, attachment)
        if attachment.key not in message.keys:
            message.keys.append(attachment.key)


def _clean(url: str) -> str:
    """The URL without the punctuation typed after it."""
    while url:
        last = url[-1]
        opener = _CLOSERS.get(last)
        if opener is not None and url.count(opener) >= url.count(last):
            break
        if opener is None and last not in _TRAILING:
            break
        url = url[:-1]
    return url


def leading_urls(text: str) -> tuple[list[str], str]:
    """The URLs a text starts with, and the question after them (verbatim, but for the space or punctuation that
    separates it from the last URL)."""
    urls: list[str] = []
    rest = text
    while (match := _LEADING_URL.match(rest)) is not None:
        urls.append(_clean(match.group(1)))
        rest = rest[match.end():]
    if not urls:
        return urls, text
    return urls, _SEPARATOR.sub("", rest, count=1)


def inline_urls(text: str) -> list[str]:
    """http(s) URLs anywhere in a text, except inside Markdown code (`…` or ``` blocks), which stays text."""
    visible = _CODE.sub(" ", text)
    return [_clean(m.group()) for m in _INLINE_URL.finditer(visible)]


def _upload(part: JsonObject, max_bytes: int) -> Upload:
    file = c.object_field(part, "file")
    if file.get("file_id") is not None and file.get("file_data") is None:
        raise BadRequest("A file part must carry the file itself in file.file_data (base64); a file_id names a file "
                         "stored at OpenAI, which relaygate cannot read.", param="messages")
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        raise BadRequest("A file part needs file.file_data: the file's bytes in base64 (or a data: URL).",
                         param="messages")
    payload = data.split(",", 1)[1] if data.startswith("data:") and "," in data else data
    if len(payload) // 4 * 3 > max_bytes:
        raise FileTooLarge(f"a file part is over the {max_bytes:,}-byte limit", code="file_too_large")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("A file part's file_data is not valid base64.", param="messages") from None
    name = file.get("filename")
    return Upload(name=name[:200] if isinstance(name, str) and name else "upload", data=raw)


def _message(found: Found, index: int, content: JsonValue, max_upload_bytes: int) -> None:
    parts = c.parts(content)
    texts = [str(p.get("text") or "") for p in parts if p.get("type") == "text"]
    urls, question = leading_urls("\n".join(texts))
    message = AttachedMessage(index, question)
    for url in [*urls, *inline_urls(question)]:
        found.add(message, Attachment(key=url, url=url))
    for part in parts:
        kind = part.get("type")
        if kind == "image_url":
            found.add(message, Attachment(key="image:" + c.image_url(part), image_part=part))
        elif kind == "file":
            upload = _upload(part, max_upload_bytes)
            found.add(message, Attachment(key="upload:" + upload.sha256, upload=upload))
        elif kind != "text":
            message.kept_parts.append(part)
    if message.keys:
        found.messages.append(message)


def find_attachments(messages: list[JsonValue], *, max_upload_bytes: int) -> Found:
    """Every file the user messages of a chat request name (earlier turns too: a follow-up question still needs
    the file it follows up on)."""
    found = Found()
    for index, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            _message(found, index, message.get("content"), max_upload_bytes)
    return found
