"""OpenAI image models' request rules as one table (sizes, n, qualities, styles, response formats, GPT Image options),
and the check of a request's fields against it, before anything goes upstream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from relaygate.core.errors import BadRequest
from relaygate.core.types import JsonValue


class ImageOperation(StrEnum):
    """An image endpoint; its value is the path under /v1/images."""

    GENERATIONS = "generations"
    EDITS = "edits"
    VARIATIONS = "variations"


@dataclass(frozen=True, slots=True)
class ImageModelRules:
    """What one image model accepts. An empty tuple means the field is refused for the model."""

    operations: frozenset[ImageOperation]
    sizes: tuple[str, ...]
    default_size: str
    qualities: tuple[str, ...]
    default_quality: str
    max_n: int
    prompt_limit: int
    response_formats: tuple[str, ...] = ()
    """Empty for models that always answer b64_json and refuse the field (GPT Image)."""
    styles: tuple[str, ...] = ()
    max_edit_images: int = 1
    input_fidelities: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    """GPT Image's png/jpeg/webp; empty means background, output_format, output_compression and moderation are
    refused too (DALL-E)."""


_GPT_IMAGE = ImageModelRules(
    operations=frozenset({ImageOperation.GENERATIONS, ImageOperation.EDITS}),
    sizes=("1024x1024", "1536x1024", "1024x1536", "auto"), default_size="auto",
    qualities=("low", "medium", "high", "auto"), default_quality="auto", max_n=10, prompt_limit=32000,
    max_edit_images=16, input_fidelities=("high", "low"), output_formats=("png", "jpeg", "webp"))

IMAGE_MODELS: Mapping[str, ImageModelRules] = MappingProxyType({
    "dall-e-2": ImageModelRules(
        operations=frozenset(ImageOperation), sizes=("256x256", "512x512", "1024x1024"), default_size="1024x1024",
        qualities=("standard", "auto"), default_quality="standard", max_n=10, prompt_limit=1000,
        response_formats=("url", "b64_json")),
    "dall-e-3": ImageModelRules(
        operations=frozenset({ImageOperation.GENERATIONS}), sizes=("1024x1024", "1792x1024", "1024x1792"),
        default_size="1024x1024", qualities=("standard", "hd", "auto"), default_quality="standard", max_n=1,
        prompt_limit=4000, response_formats=("url", "b64_json"), styles=("vivid", "natural")),
    "gpt-image-1": _GPT_IMAGE,
    "gpt-image-1-mini": replace(_GPT_IMAGE, input_fidelities=("low",)),
})
"""OpenAI's image models (API reference, images endpoints). A model not named here passes unchecked."""

_GPT_ONLY = ("background", "output_format", "output_compression", "moderation")
_BACKGROUNDS = ("transparent", "opaque", "auto")
_MODERATIONS = ("low", "auto")


@dataclass(frozen=True, slots=True)
class ImageOrder:
    """What a request orders: n images of a size and quality (the model's defaults filled in), returned as url or
    b64_json."""

    model: str
    n: int
    size: str
    quality: str
    response_format: str


def check_image_request(operation: ImageOperation, model: str, fields: Mapping[str, JsonValue], *,
                        images: int = 0) -> ImageOrder:
    """The order a request makes, after checking its fields against the model's rules.

    `fields` are the JSON body (generations) or the form's text fields (edits, variations: numbers as strings);
    `images` is how many input images an edit carries. Raises BadRequest naming the param a rule refuses. A model
    not in IMAGE_MODELS is not checked: its order is what the fields say."""
    rules = IMAGE_MODELS.get(model)
    if rules is None:
        return _unchecked_order(model, fields)
    if operation not in rules.operations:
        offered = sorted(m for m, r in IMAGE_MODELS.items() if operation in r.operations)
        raise BadRequest(f"The model {model} does not offer image {operation}; models that do: "
                         f"{', '.join(offered)}.", code="invalid_value", param="model")
    if operation is not ImageOperation.VARIATIONS:
        _check_prompt(rules, model, fields)
    if operation is ImageOperation.EDITS:
        _check_edit(rules, model, fields, images)
    n = _check_n(rules, model, fields)
    size = _one_of(fields, "size", rules.sizes, model) or rules.default_size
    quality = rules.default_quality
    if operation is not ImageOperation.VARIATIONS:
        quality = _one_of(fields, "quality", rules.qualities, model) or quality
        _one_of(fields, "style", rules.styles, model)
    _check_gpt_options(rules, model, fields)
    response_format = _one_of(fields, "response_format", rules.response_formats, model)
    if not rules.response_formats:
        response_format = "b64_json"
    return ImageOrder(model, n, size, quality, response_format or "url")


def _unchecked_order(model: str, fields: Mapping[str, JsonValue]) -> ImageOrder:
    """What an unknown model's request orders, read leniently: the upstream judges its fields."""

    def text(name: str, default: str) -> str:
        value = fields.get(name)
        return value if isinstance(value, str) and value else default

    n = fields.get("n")
    if isinstance(n, str) and n.strip().isdigit():
        n = int(n)
    count = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    return ImageOrder(model, count, text("size", "auto"), text("quality", "auto"), text("response_format", "url"))


def _text(fields: Mapping[str, JsonValue], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string.", code="invalid_type", param=name)
    return value


def _integer(fields: Mapping[str, JsonValue], name: str) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise BadRequest(f"'{name}' must be an integer.", code="invalid_type", param=name)


def _one_of(fields: Mapping[str, JsonValue], name: str, allowed: tuple[str, ...], model: str) -> str | None:
    value = _text(fields, name)
    if value is None:
        return None
    if not allowed:
        raise BadRequest(f"The model {model} does not accept '{name}'.", code="unsupported_parameter", param=name)
    if value not in allowed:
        raise BadRequest(f"The model {model} does not offer {name} '{value}'; it offers {', '.join(allowed)}.",
                         code="invalid_value", param=name)
    return value


def _check_prompt(rules: ImageModelRules, model: str, fields: Mapping[str, JsonValue]) -> None:
    prompt = _text(fields, "prompt")
    if not prompt:
        raise BadRequest("A prompt is required: a text description of the image.", code="missing_required_parameter",
                         param="prompt")
    if len(prompt) > rules.prompt_limit:
        raise BadRequest(f"The prompt is {len(prompt)} characters long; {model} takes at most {rules.prompt_limit}.",
                         code="string_above_max_length", param="prompt")


def _check_n(rules: ImageModelRules, model: str, fields: Mapping[str, JsonValue]) -> int:
    n = _integer(fields, "n")
    if n is None:
        return 1
    if n < 1:
        raise BadRequest(f"n must be at least 1 (got {n}).", code="integer_below_min_value", param="n")
    if n > rules.max_n:
        which = "one image" if rules.max_n == 1 else f"at most {rules.max_n} images"
        raise BadRequest(f"The model {model} generates {which} a request (got n={n}).",
                         code="integer_above_max_value", param="n")
    return n


def _check_edit(rules: ImageModelRules, model: str, fields: Mapping[str, JsonValue], images: int) -> None:
    if images > rules.max_edit_images:
        which = "one image" if rules.max_edit_images == 1 else f"at most {rules.max_edit_images} images"
        raise BadRequest(f"The model {model} edits {which} at a time (got {images}).", code="invalid_value",
                         param="image")
    _one_of(fields, "input_fidelity", rules.input_fidelities, model)


def _check_gpt_options(rules: ImageModelRules, model: str, fields: Mapping[str, JsonValue]) -> None:
    if not rules.output_formats:
        for name in _GPT_ONLY:
            if fields.get(name) is not None:
                raise BadRequest(f"The model {model} does not accept '{name}'.", code="unsupported_parameter",
                                 param=name)
        return
    output_format = _one_of(fields, "output_format", rules.output_formats, model) or "png"
    background = _one_of(fields, "background", _BACKGROUNDS, model)
    _one_of(fields, "moderation", _MODERATIONS, model)
    if background == "transparent" and output_format == "jpeg":
        raise BadRequest("A transparent background needs output_format png or webp (jpeg has no transparency).",
                         code="invalid_value", param="background")
    compression = _integer(fields, "output_compression")
    if compression is None:
        return
    if not 0 <= compression <= 100:
        raise BadRequest(f"output_compression is a percentage from 0 to 100 (got {compression}).",
                         code="invalid_value", param="output_compression")
    if output_format == "png":
        raise BadRequest("output_compression applies to output_format jpeg or webp, not png.", code="invalid_value",
                         param="output_compression")


OUTPUT_TOKENS: Mapping[str, tuple[int, int, int]] = MappingProxyType({
    "low": (272, 408, 400), "medium": (1056, 1584, 1568), "high": (4160, 6240, 6208)})
"""GPT Image output tokens of one image by quality, for a square, portrait and landscape size (OpenAI's image
generation guide)."""


def reports_tokens(model: str) -> bool:
    """Whether the model's answers carry a token usage (GPT Image) rather than being billed per image alone."""
    rules = IMAGE_MODELS.get(model)
    return bool(rules.output_formats) if rules is not None else model.startswith("gpt-image")


def output_tokens(size: str, quality: str) -> int:
    """The most output tokens one GPT Image image of that size and quality takes (`auto` read as the largest)."""
    row = OUTPUT_TOKENS.get(quality, OUTPUT_TOKENS["high"])
    width, _, height = size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        return max(row)
    return row[0] if width == height else row[1] if int(height) > int(width) else row[2]
