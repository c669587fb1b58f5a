"""The audio and image endpoints of the fake OpenAI upstream (MockOpenAI.media): what each received, recorded part
by part, and answers as OpenAI gives them — speech bytes paced over time, transcripts in every format, images."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import threading
import time
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from tests.upstreams import audio_wire, image_wire, media_bytes
from tests.upstreams.media_form import Form, FormPart, MediaRequest, parse_multipart
from tests.upstreams.openai_wire import WireError, invalid_type
from tests.upstreams.server import reset_connection

SPEECH = "/v1/audio/speech"
TRANSCRIPTIONS = "/v1/audio/transcriptions"
TRANSLATIONS = "/v1/audio/translations"
GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
VARIATIONS = "/v1/images/variations"
PATHS = (SPEECH, TRANSCRIPTIONS, TRANSLATIONS, GENERATIONS, EDITS, VARIATIONS)
JSON_PATHS = (SPEECH, GENERATIONS)
MODES = ("huge_image",)
"""`huge_image`: every b64_json image is a real PNG of about 15 MB (a ~20 MB answer for n=1)."""
TEXT_PLAIN = "text/plain; charset=utf-8"


class MediaUpstream:
    """Settings are attributes (reset() restores them); `requests` holds a MediaRequest for every call, refused ones
    included, in arrival order."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self.requests: list[MediaRequest] = []
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
        self.speech_seconds: float | None = None
        """Length of every generated speech, instead of 15 input characters a second."""
        self.chunk_bytes = 4096
        """Audio bytes a chunk of a speech answer (or a speech.audio.delta event) carries."""
        self.chunk_delay = 0.0
        """Seconds between two chunks of a streamed answer (speech bytes or events, transcript events)."""
        self.finished_at: list[float] = []
        """time.monotonic() when each streamed answer wrote its last chunk, before its end reaches the client."""
        self.transcript_text: str | None = None
        """The text every transcription and translation answers with, instead of one sized to the audio."""

    @property
    def last(self) -> MediaRequest:
        with self._lock:
            return self.requests[-1]

    async def answer(self, request: web.Request, path: str, deployment: str | None, serial: int,
                     mode: str) -> web.StreamResponse:
        if request.method != "POST":
            raise WireError(404, f"Invalid URL ({request.method} {path})", code="unknown_url")
        raw = await request.read()
        if path in JSON_PATHS:
            body = self._json_body(raw, request.content_type, path, deployment)
            if path == SPEECH:
                return await self._speech(request, body, serial, mode)
            ask = image_wire.validate_generation(body)
            return _json(image_wire.images_answer(ask, serial, huge=mode == "huge_image"), serial)
        form, index = await self._form(raw, request, path, deployment)
        if path in (TRANSCRIPTIONS, TRANSLATIONS):
            return await self._transcription(request, form, index, path == TRANSLATIONS, serial, mode)
        ask = image_wire.validate_edit(form) if path == EDITS else image_wire.validate_variation(form)
        return _json(image_wire.images_answer(ask, serial, huge=mode == "huge_image"), serial)

    def _record(self, record: MediaRequest) -> int:
        with self._lock:
            self.requests.append(record)
            return len(self.requests) - 1

    def _json_body(self, raw: bytes, content_type: str, path: str, deployment: str | None) -> dict[str, Any]:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self._record(MediaRequest(path, deployment, content_type, json=body))
        if content_type != "application/json":
            raise WireError(400, f"Invalid Content-Type header ({content_type or 'none'}), expected "
                                 "application/json.")
        if body is None:
            raise WireError(400, "We could not parse the JSON body of your request. (HINT: This likely means you "
                                 "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
                                 "but what was sent was not valid JSON.)")
        if not isinstance(body, dict):
            raise invalid_type("body", "an object", body)
        if deployment is not None:
            _match_deployment(body.get("model"), deployment)
            body = {**body, "model": body.get("model") or deployment}
        return body

    async def _form(self, raw: bytes, request: web.Request, path: str,
                    deployment: str | None) -> tuple[Form, int]:
        content_type = request.content_type
        if content_type != "multipart/form-data":
            self._record(MediaRequest(path, deployment, content_type))
            raise WireError(400, f"Invalid Content-Type header ({content_type or 'none'}), expected "
                                 "multipart/form-data.")
        try:
            parts = await parse_multipart(raw, request.headers["Content-Type"])
        except WireError:
            self._record(MediaRequest(path, deployment, content_type))
            raise
        index = self._record(MediaRequest(path, deployment, content_type, parts=parts))
        form = Form(parts)
        if deployment is not None:
            _match_deployment(form.text("model"), deployment)
            if form.text("model") is None:
                form = Form((*parts, FormPart("model", deployment.encode())))
        return form, index

    async def _speech(self, request: web.Request, body: dict[str, Any], serial: int,
                      mode: str) -> web.StreamResponse:
        audio_wire.validate_speech(body)
        seconds = self.speech_seconds or audio_wire.speech_seconds(body)
        fmt = body.get("response_format") or "mp3"
        audio = media_bytes.speech(fmt, seconds)
        size = self.chunk_bytes
        chunks = [audio[i:i + size] for i in range(0, len(audio), size)]
        if body.get("stream_format") == "sse":
            events: list[dict[str, Any]] = [{"type": "speech.audio.delta", "audio": base64.b64encode(c).decode()}
                                            for c in chunks]
            events.append({"type": "speech.audio.done", "usage": audio_wire.speech_usage(body, seconds)})
            return await self._paced(request, serial, "text/event-stream; charset=utf-8",
                                     (b"data: " + orjson.dumps(e) + b"\n\n" for e in events), mode)
        return await self._paced(request, serial, media_bytes.CONTENT_TYPES[fmt], chunks, mode)

    async def _paced(self, request: web.Request, serial: int, content_type: str, pieces: Iterable[bytes],
                     mode: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": content_type, "x-request-id": f"req_mock{serial}"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            for i, piece in enumerate(pieces):
                if i and self.chunk_delay > 0:
                    await asyncio.sleep(self.chunk_delay)
                await resp.write(piece)
                if mode == "stream_cut" and i >= 1:
                    return await reset_connection(request, resp)
            self.finished_at.append(time.monotonic())
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp

    async def _transcription(self, request: web.Request, form: Form, index: int, translation: bool, serial: int,
                             mode: str) -> web.StreamResponse:
        ask = audio_wire.validate_transcription(form, translation=translation)
        _upload, seconds = audio_wire.audio_duration(form)
        with self._lock:
            self.requests[index] = dataclasses.replace(self.requests[index], duration=seconds)
        text = self.transcript_text or audio_wire.transcript(seconds)
        usage = None if translation else audio_wire.usage(ask, text, seconds)
        if ask.stream:
            return await self._transcript_events(request, serial, ask, text, usage, mode)
        fmt = ask.response_format
        if fmt in ("text", "srt", "vtt"):
            body = text + "\n" if fmt == "text" else audio_wire.subtitles(text, seconds, fmt)
            return web.Response(text=body, headers={"Content-Type": TEXT_PLAIN, "x-request-id": f"req_mock{serial}"})
        answer: dict[str, Any] = {"text": text}
        if fmt == "verbose_json":
            answer = {"task": "translate" if translation else "transcribe", "language": ask.language,
                      "duration": seconds, "text": text}
            if "segment" in ask.granularities:
                answer["segments"] = audio_wire.segments(text, seconds)
            if "word" in ask.granularities:
                answer["words"] = audio_wire.words(text, seconds)
        elif ask.logprobs:
            answer["logprobs"] = audio_wire.logprobs(text)
        if usage is not None:
            answer["usage"] = usage
        return _json(answer, serial)

    async def _transcript_events(self, request: web.Request, serial: int, ask: audio_wire.TranscriptionAsk,
                                 text: str, usage: dict[str, Any] | None, mode: str) -> web.StreamResponse:
        events: list[dict[str, Any]] = []
        for word in text.split(" "):
            delta: dict[str, Any] = {"type": "transcript.text.delta", "delta": word if not events else " " + word}
            if ask.logprobs:
                delta["logprobs"] = audio_wire.logprobs(word)
            events.append(delta)
        done: dict[str, Any] = {"type": "transcript.text.done", "text": text, "usage": usage}
        if ask.logprobs:
            done["logprobs"] = audio_wire.logprobs(text)
        events.append(done)
        return await self._paced(request, serial, "text/event-stream; charset=utf-8",
                                 (b"data: " + orjson.dumps(e) + b"\n\n" for e in events), mode)


def _match_deployment(model: Any, deployment: str) -> None:
    if model is not None and model != deployment:
        raise WireError(400, f"The model '{model}' does not match the deployment '{deployment}'.")


def _json(obj: Any, serial: int) -> web.Response:
    return web.Response(body=orjson.dumps(obj), content_type="application/json",
                        headers={"x-request-id": f"req_mock{serial}"})
