"""File analysis for the all-tools models (gpt-4-all, gpt-4o-all and the operator's marks): the files a chat
request names are read through the guarded fetcher, fitted into the base model's context and put into the prompt,
and the request goes on to the base model. Every other request passes untouched: nothing is fetched for it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Sequence
from typing import Protocol

from relaygate.billing.tokens import IMAGE_TOKENS, TokenCounter
from relaygate.core.errors import BadRequest, FetchFailed, FetchRefused, NotFound, RelayError, ServiceUnavailable
from relaygate.core.types import CHAT, JsonObject, JsonValue
from relaygate.fetch.context import Fitting, fit_context
from relaygate.fetch.document import Document, Image, Upload
from relaygate.fetch.policy import url_label
from relaygate.protocols import content as c
from relaygate.relay.all_tools import AllToolsModel
from relaygate.relay.catalog import Catalog, CatalogCache
from relaygate.relay.exchange import Exchange
from relaygate.relay.inbound import ParsedRequest
from relaygate.relay.operation import Parsed
from relaygate.relay.steps.attachments import Attachment, Found, find_attachments, leading_urls
from relaygate.relay.steps.file_prompt import FileView, PartImage, Reading, message_content

SAFETY = 1.1
"""Upstream tokenizers count differently from cl100k_base: the documents get the context's room divided by this."""
FILE_OVERHEAD_TOKENS = 120
"""What one file's heading, notes and closing line take in the prompt, about."""
THREAD_CHARS = 200_000
"""Documents longer than this (characters in all) are fitted on a worker thread, off the event loop."""


class AttachmentReader(Protocol):
    """What the step reads files with (relaygate.fetch.DocumentReader)."""

    async def read(self, url: str) -> Document | Image: ...

    async def read_file(self, upload: Upload) -> Document | Image: ...


def _describe(attachment: Attachment) -> str:
    if attachment.url is not None:
        return url_label(attachment.url)
    if attachment.upload is not None:
        return f"a file part ({attachment.upload.name})"
    return "an image_url part"


def _named(err: RelayError, number: int, label: str) -> RelayError:
    """A file's refusal, saying which file it was (same status and code)."""
    if isinstance(err, FetchRefused | FetchFailed | ServiceUnavailable):
        return type(err)(f"File {number} ({label}) was not read: {err.message}.", code=err.code, param="messages")
    return err


async def _first_failure(reads: Sequence[Awaitable[Reading]]) -> list[Reading]:
    """Every read's result in order; on the first failure the others are cancelled and that failure raised."""
    tasks = [asyncio.ensure_future(read) for read in reads]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
    return [task.result() for task in tasks]


def _no_vision(model: AllToolsModel) -> BadRequest:
    return BadRequest(f"The model '{model.model}' answers with '{model.base_model}', which does not take images; "
                      "send the image to a vision model (such as gpt-4o-all).", code="image_input_not_supported",
                      param="messages")


class FileAnalysis:
    """The preparation step; build one in the app lifespan with the DocumentReader."""

    def __init__(self, reader: AttachmentReader, catalogs: CatalogCache, tokens: TokenCounter, *, max_files: int,
                 max_upload_bytes: int) -> None:
        self._reader = reader
        self._catalogs = catalogs
        self._tokens = tokens
        self._max_files = max_files
        self._max_upload_bytes = max_upload_bytes

    async def prepare(self, ex: Exchange, parsed: Parsed) -> None:
        if ex.operation != CHAT or not isinstance(parsed, ParsedRequest):
            return
        catalog = self._catalogs.catalog
        model = catalog.all_tools.get(parsed.model)
        if model is None:
            return
        self._check_served(catalog, ex, model)
        messages = parsed.body["messages"]
        assert isinstance(messages, list)  # the chat operation checked it
        found = find_attachments(messages, max_upload_bytes=self._max_upload_bytes)
        if len(found.files) > self._max_files:
            raise BadRequest(f"This request names {len(found.files)} files; an all-tools model reads at most "
                             f"{self._max_files} per request.", code="too_many_files", param="messages")
        if found.files:
            views = await self._read(found, model)
            fitting = await self._fit(views, _ranking_question(messages, found), parsed, model)
            parsed.body = {**parsed.body, "messages": self._rewritten(messages, found, views, fitting)}
            parsed.native = None  # the body changed: the client's own one cannot be passed through any more
        parsed.body["model"] = model.base_model
        parsed.price_name = parsed.model if catalog.prices.has_price(parsed.model) else model.base_model
        parsed.model = model.base_model

    def _check_served(self, catalog: Catalog, ex: Exchange, model: AllToolsModel) -> None:
        assert ex.key is not None
        if not catalog.channels_for(model.base_model, ex.key.group, CHAT):
            raise NotFound(f"The model '{model.model}' answers with '{model.base_model}', which no channel serves "
                           "to you; ask the operator to add it.", code="model_not_found", param="model")

    async def _read(self, found: Found, model: AllToolsModel) -> list[FileView]:
        files = list(found.files.values())
        if not model.vision and any(f.image_part is not None for f in files):
            raise _no_vision(model)
        readings = await _first_failure([self._read_one(n, f) for n, f in enumerate(files, start=1)])
        if not model.vision and any(isinstance(r, Image) for r in readings):
            raise _no_vision(model)
        return [FileView(n, _describe(f), r) for n, (f, r) in enumerate(zip(files, readings, strict=True), start=1)]

    async def _read_one(self, number: int, attachment: Attachment) -> Reading:
        try:
            if attachment.url is not None:
                return await self._reader.read(attachment.url)
            if attachment.upload is not None:
                return await self._reader.read_file(attachment.upload)
        except RelayError as err:
            raise _named(err, number, _describe(attachment)) from None
        assert attachment.image_part is not None
        return PartImage(attachment.image_part)

    async def _fit(self, views: list[FileView], question: str, parsed: ParsedRequest,
                   model: AllToolsModel) -> Fitting | None:
        documents = [v.reading for v in views if isinstance(v.reading, Document)]
        if not any(d.has_text for d in documents):
            return None
        answer = parsed.max_output or min(4096, model.context_tokens // 4)
        images = sum(isinstance(v.reading, Image) for v in views)  # named in the text: not in the body yet
        overhead = self._tokens.chat_prompt(parsed.body) + FILE_OVERHEAD_TOKENS * len(views) + IMAGE_TOKENS * images
        budget = int((model.context_tokens - answer * parsed.choices - overhead) / SAFETY)
        if budget < 64:
            raise BadRequest(f"The question and max_tokens leave no room for the files in {model.base_model}'s "
                             f"{model.context_tokens:,}-token context; ask for fewer tokens or send less text.",
                             code="context_length_exceeded", param="max_tokens")
        if sum(len(p.text) for d in documents for p in d.parts) > THREAD_CHARS:
            return await asyncio.to_thread(fit_context, documents, question, budget, self._tokens.count)
        return fit_context(documents, question, budget, self._tokens.count)

    def _rewritten(self, messages: list[JsonValue], found: Found, views: list[FileView],
                   fitting: Fitting | None) -> list[JsonValue]:
        fitted = iter(fitting.documents if fitting is not None else ())  # one per document, in the same order
        placed = [dataclasses.replace(v, fitted=next(fitted, None) if isinstance(v.reading, Document) else None)
                  for v in views]
        number = {key: n for n, key in enumerate(found.files, start=1)}
        rewritten = list(messages)
        shown: set[int] = set()
        for message in found.messages:
            original = messages[message.index]
            assert isinstance(original, dict)
            content = message_content(message, [placed[number[k] - 1] for k in message.keys], shown)
            updated: JsonObject = {**original, "content": content}
            rewritten[message.index] = updated
        return rewritten


def _ranking_question(messages: list[JsonValue], found: Found) -> str:
    """What passages are ranked against: the latest user message's question, or, when it has none, every question
    asked with the files."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            latest = leading_urls(c.text_of(message.get("content")))[1].strip()
            if latest:
                return latest
            break
    return " ".join(m.question for m in found.messages)
