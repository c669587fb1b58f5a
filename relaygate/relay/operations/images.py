"""Images (/v1/images/generations as JSON; /v1/images/edits and /v1/images/variations as multipart forms): the
model's rules checked before anything goes upstream, n images reserved, and the answer — tens of MB of base64 for
b64_json — held once, its images counted and its usage read without parsing it, billed per image by size/quality
(DALL-E) or by the GPT Image usage tokens."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

import orjson

from relaygate.billing.estimate import prompt_margin
from relaygate.core.errors import BadRequest
from relaygate.core.types import IMAGE_EDITS, IMAGE_GENERATIONS, IMAGE_VARIATIONS, JsonObject, JsonValue, Usage
from relaygate.protocols.content import trailing_usage
from relaygate.protocols.images import ImageOperation, ImageOrder, check_image_request, output_tokens, reports_tokens
from relaygate.protocols.media_answers import ImageItems, token_usage
from relaygate.providers.base import CallSpec, Provider
from relaygate.relay.dialects import OPENAI, ClientDialect
from relaygate.relay.exchange import Inbound
from relaygate.relay.forms import UploadForm, read_form
from relaygate.relay.inbound import decode_body, fail
from relaygate.relay.media_delivery import SEND_WHOLE_UP_TO, content_type, held_answer, send_held
from relaygate.relay.operation import Attempt, Metered, OperationContext, RetryableAnswer, Route, RouteDoc
from relaygate.relay.sink import JSON, ClientSink
from relaygate.relay.upstream import UpstreamResponse

DEFAULT_MODEL = "dall-e-2"
"""What OpenAI uses when a request names no model."""
INPUT_IMAGE_TOKENS = 6500
"""Input tokens reserved per image given to a GPT Image edit (a 1024×1024 image at high input fidelity counts
about 5,300)."""
_USAGE_WINDOW = 64 * 1024
"""How far from an answer's end its usage is looked for when it is not the last member."""

_IMAGE_FIELDS: JsonObject = {
    "model": {"type": "string"}, "prompt": {"type": "string"}, "n": {"type": "integer", "minimum": 1},
    "size": {"type": "string"}, "quality": {"type": "string"}, "response_format": {"enum": ["url", "b64_json"]},
    "user": {"type": "string"}}
_GENERATION_BODY: JsonObject = {
    "type": "object", "required": ["prompt"], "additionalProperties": True, "properties": {
        **_IMAGE_FIELDS, "style": {"enum": ["vivid", "natural"]}, "background": {"type": "string"},
        "output_format": {"enum": ["png", "jpeg", "webp"]}, "output_compression": {"type": "integer"},
        "moderation": {"enum": ["low", "auto"]}}}
_BINARY: JsonObject = {"type": "string", "format": "binary"}
_EDIT_FORM: JsonObject = {
    "type": "object", "required": ["prompt"], "additionalProperties": True, "properties": {
        **_IMAGE_FIELDS, "image": _BINARY, "image[]": {"type": "array", "items": _BINARY, "maxItems": 16},
        "mask": _BINARY, "input_fidelity": {"enum": ["high", "low"]}}}
_VARIATION_FORM: JsonObject = {
    "type": "object", "required": ["image"], "additionalProperties": True, "properties": {
        "image": _BINARY, "model": {"type": "string"}, "n": {"type": "integer"}, "size": {"type": "string"},
        "response_format": {"enum": ["url", "b64_json"]}}}


@dataclass(slots=True)
class ImageRequest:
    operation: ImageOperation
    model: str
    order: ImageOrder
    prompt: str
    body: JsonObject | None = None
    """The JSON body (generations)."""
    form: UploadForm | None = None
    """The form (edits, variations), its images spooled."""
    input_images: int = 0
    stream: bool = False

    @property
    def priced_as(self) -> str:
        return self.model

    @property
    def variant(self) -> str:
        """The per-image price that applies: `size/quality`."""
        return f"{self.order.size}/{self.order.quality}"


def _no_stream(value: JsonValue) -> None:
    if value is True or (isinstance(value, str) and value.strip().lower() == "true"):
        raise fail("Streamed image answers (stream: true) are not relayed; ask without stream.", "stream")


class _ImageOperation:
    name: ClassVar[str]
    routes: ClassVar[tuple[Route, ...]]
    operation: ClassVar[ImageOperation]

    def __init__(self, ctx: OperationContext) -> None:
        self._ctx = ctx

    def expected(self, parsed: ImageRequest) -> Usage:
        order = parsed.order
        usage = Usage(images=order.n, image_variant=parsed.variant)
        if reports_tokens(parsed.model):
            usage.image_tokens = parsed.input_images * INPUT_IMAGE_TOKENS
            usage.prompt_tokens = prompt_margin(self._ctx.tokens.count(parsed.prompt)) + usage.image_tokens
            usage.completion_tokens = output_tokens(order.size, order.quality) * order.n
        return usage

    async def call(self, parsed: ImageRequest, provider: Provider, upstream_model: str) -> CallSpec:
        path = "/images/" + self.operation.value
        if parsed.form is not None:
            return CallSpec(self.name, path, {}, upstream_model, stream=False, client_wants_usage=False,
                            upload=parsed.form.upload(upstream_model))
        assert parsed.body is not None
        return CallSpec(self.name, path, parsed.body, upstream_model, stream=False, client_wants_usage=False)

    async def deliver(self, attempt: Attempt, parsed: ImageRequest, resp: UpstreamResponse,
                      sink: ClientSink) -> Metered:
        items = ImageItems()
        raw = await held_answer(resp, items.feed)
        count = items.count
        reported: JsonValue = trailing_usage(raw)
        if count == 0 or (reported is None and b'"usage"' in raw[-_USAGE_WINDOW:]):
            count, reported = await _parsed_answer(raw)
        usage = token_usage(reported) or self._unreported(parsed, count)
        usage.images, usage.image_variant = count, parsed.variant
        return await send_held(raw, content_type(resp, JSON), sink, Metered(usage))

    def _unreported(self, parsed: ImageRequest, count: int) -> Usage:
        """A GPT Image answer without its usage: the tokens its order takes for the images that came back."""
        if not reports_tokens(parsed.model):
            return Usage()
        expected = self.expected(parsed)
        expected.completion_tokens = output_tokens(parsed.order.size, parsed.order.quality) * count
        expected.counted_locally = True
        return expected


async def _parsed_answer(raw: bytearray) -> tuple[int, JsonValue]:
    """The image count and usage of an answer whose shape the quick reads could not vouch for, parsed whole (off
    the event loop when it is large); RetryableAnswer when it is not an images answer."""
    try:
        answer = orjson.loads(raw) if len(raw) <= SEND_WHOLE_UP_TO else await asyncio.to_thread(orjson.loads, raw)
    except orjson.JSONDecodeError as exc:
        raise RetryableAnswer(exc) from None
    if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
        raise RetryableAnswer(ValueError("the upstream's answer is not an images object"))
    data = answer["data"]
    assert isinstance(data, list)
    return len(data), answer.get("usage")


class ImageGenerationsOperation(_ImageOperation):
    name: ClassVar[str] = IMAGE_GENERATIONS
    routes: ClassVar[tuple[Route, ...]] = (Route("POST", "/v1/images/generations", OPENAI, RouteDoc(
        "Image generation, billed per image by size/quality or by GPT Image's usage", _GENERATION_BODY)),)
    operation: ClassVar[ImageOperation] = ImageOperation.GENERATIONS

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> ImageRequest:
        body = decode_body(await inbound.body.read(self._ctx.max_body_bytes))
        model = body.get("model", DEFAULT_MODEL)
        if not isinstance(model, str) or not model:
            raise fail("'model' must be a non-empty string.", "model")
        _no_stream(body.get("stream"))
        order = check_image_request(self.operation, model, body)
        prompt = body.get("prompt")
        return ImageRequest(self.operation, model, order, prompt if isinstance(prompt, str) else "", body=body)


class _FormImageOperation(_ImageOperation):
    image_fields: ClassVar[tuple[str, ...]]

    async def parse(self, inbound: Inbound, dialect: ClientDialect) -> ImageRequest:
        form = await read_form(inbound.body, self._ctx.max_upload_bytes, inbound.resources)
        model = form.text("model") or DEFAULT_MODEL
        images = form.files(*self.image_fields)
        if not images:
            raise BadRequest("You must provide an image file (a form part with a file name).", param="image",
                             code="missing_required_parameter")
        fields: dict[str, JsonValue] = dict(form.texts())
        _no_stream(fields.get("stream"))
        order = check_image_request(self.operation, model, fields, images=len(images))
        return ImageRequest(self.operation, model, order, form.text("prompt") or "", form=form,
                            input_images=len(images))


class ImageEditsOperation(_FormImageOperation):
    name: ClassVar[str] = IMAGE_EDITS
    routes: ClassVar[tuple[Route, ...]] = (Route("POST", "/v1/images/edits", OPENAI, RouteDoc(
        "Image edits: one image (or up to 16 as image[]) and a mask", _EDIT_FORM, "multipart/form-data")),)
    operation: ClassVar[ImageOperation] = ImageOperation.EDITS
    image_fields: ClassVar[tuple[str, ...]] = ("image", "image[]")


class ImageVariationsOperation(_FormImageOperation):
    name: ClassVar[str] = IMAGE_VARIATIONS
    routes: ClassVar[tuple[Route, ...]] = (Route("POST", "/v1/images/variations", OPENAI, RouteDoc(
        "Image variations (dall-e-2)", _VARIATION_FORM, "multipart/form-data")),)
    operation: ClassVar[ImageOperation] = ImageOperation.VARIATIONS
    image_fields: ClassVar[tuple[str, ...]] = ("image",)
