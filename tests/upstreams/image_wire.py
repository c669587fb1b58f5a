"""OpenAI image wire rules for the fake upstream: generations, edits and variations with each model's own rules
(DALL-E 2, DALL-E 3, GPT Image), and their answers (url or b64_json, GPT Image's usage)."""

from __future__ import annotations

import base64
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from tests.upstreams import media_bytes
from tests.upstreams.audio_wire import invalid_value, model_not_found, unsupported_parameter
from tests.upstreams.media_form import Form, FormPart
from tests.upstreams.openai_wire import WireError, invalid_type, missing

GPT_ONLY = ("background", "output_format", "output_compression", "moderation")
OUTPUT_TOKENS = {"low": (272, 408, 400), "medium": (1056, 1584, 1568), "high": (4160, 6240, 6208)}
"""GPT Image output tokens an image by quality, for square, portrait and landscape sizes (OpenAI's table)."""
INPUT_IMAGE_TOKENS = 323
"""Input image tokens each image given to an edit counts (a fixed figure here)."""
HUGE_IMAGE_BYTES = 15_000_000
"""PNG bytes of each image in the `huge_image` mode: about 20 MB once base64-encoded."""
SMALL_FILE_LIMIT = 4 * 1024 * 1024
GPT_FILE_LIMIT = 50 * 1024 * 1024


@dataclass(frozen=True)
class ModelRules:
    sizes: tuple[str, ...]
    qualities: tuple[str, ...]
    max_n: int
    prompt_limit: int
    response_formats: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    edit_images: int = 0
    """How many images an edit takes (0: the model does not edit)."""
    fidelities: tuple[str, ...] = ()
    gpt: bool = False
    default_size: str = "1024x1024"


_GPT = ModelRules(sizes=("1024x1024", "1536x1024", "1024x1536", "auto"), qualities=("low", "medium", "high", "auto"),
                  max_n=10, prompt_limit=32000, edit_images=16, fidelities=("high", "low"), gpt=True,
                  default_size="auto")
MODELS = {
    "dall-e-2": ModelRules(sizes=("256x256", "512x512", "1024x1024"), qualities=("standard", "auto"), max_n=10,
                           prompt_limit=1000, response_formats=("url", "b64_json"), edit_images=1),
    "dall-e-3": ModelRules(sizes=("1024x1024", "1792x1024", "1024x1792"), qualities=("standard", "hd", "auto"),
                           max_n=1, prompt_limit=4000, response_formats=("url", "b64_json"),
                           styles=("vivid", "natural")),
    "gpt-image-1": _GPT,
    "gpt-image-1-mini": dataclasses.replace(_GPT, fidelities=("low",)),
}


@dataclass(frozen=True)
class ImageAsk:
    """What a valid image request asks for, defaults filled in as OpenAI fills them."""

    model: str
    prompt: str
    n: int
    size: str
    quality: str
    response_format: str
    output_format: str
    background: str
    input_images: int = 0


def _rules(model: str, operation: str) -> ModelRules:
    rules = MODELS.get(model)
    if rules is None:
        raise model_not_found(model)
    if operation == "edits" and not rules.edit_images:
        raise invalid_value("model", model, tuple(m for m, r in MODELS.items() if r.edit_images))
    if operation == "variations" and model != "dall-e-2":
        raise invalid_value("model", model, ("dall-e-2",))
    return rules


def _check_prompt(rules: ModelRules, prompt: Any) -> str:
    if prompt is None:
        raise missing("prompt")
    if not isinstance(prompt, str):
        raise invalid_type("prompt", "a string", prompt)
    if not prompt:
        raise WireError(400, "Invalid 'prompt': empty string. Expected a string with minimum length 1.",
                        param="prompt", code="empty_string")
    if len(prompt) > rules.prompt_limit:
        raise WireError(400, f"Invalid 'prompt': string too long. Expected a string with maximum length "
                             f"{rules.prompt_limit}, but got a string with length {len(prompt)} instead.",
                        param="prompt", code="string_above_max_length")
    return prompt


def _check_n(rules: ModelRules, n: Any) -> int:
    if n is None:
        return 1
    if isinstance(n, bool) or not isinstance(n, int):
        raise invalid_type("n", "an integer", n)
    if n < 1:
        raise WireError(400, f"Invalid 'n': integer below minimum value. Expected a value >= 1, but got {n} "
                             "instead.", param="n", code="integer_below_min_value")
    if rules.max_n == 1 and n > 1:
        raise WireError(400, "You must provide n=1 for this model.", param="n", code="invalid_value")
    if n > rules.max_n:
        raise WireError(400, f"Invalid 'n': integer above maximum value. Expected a value <= {rules.max_n}, but "
                             f"got {n} instead.", param="n", code="integer_above_max_value")
    return n


def _check(rules: ModelRules, values: dict[str, Any], operation: str) -> ImageAsk:
    """The rules every operation shares, over values already typed (ints as ints, absent as None)."""
    prompt = "" if operation == "variations" else _check_prompt(rules, values.get("prompt"))
    n = _check_n(rules, values.get("n"))
    size = _choice(values, "size")
    if size is not None and size not in rules.sizes:
        raise WireError(400, "The size is not supported by this model.", param="size", code="invalid_size")
    quality = _choice(values, "quality")
    if quality is not None and quality not in rules.qualities:
        raise invalid_value("quality", quality, rules.qualities)
    style = _choice(values, "style")
    if style is not None:
        if not rules.styles:
            raise unsupported_parameter("style")
        if style not in rules.styles:
            raise invalid_value("style", style, rules.styles)
    fmt = _choice(values, "response_format")
    if fmt is not None:
        if not rules.response_formats:
            raise WireError(400, "Unknown parameter: 'response_format'.", param="response_format",
                            code="unknown_parameter")
        if fmt not in rules.response_formats:
            raise invalid_value("response_format", fmt, rules.response_formats)
    output_format, background = _gpt_options(rules, values)
    return ImageAsk(model=values["model"], prompt=prompt, n=n, size=size or rules.default_size,
                    quality=quality or "auto", response_format="b64_json" if rules.gpt else fmt or "url",
                    output_format=output_format, background=background)


def _choice(values: dict[str, Any], name: str) -> str | None:
    value = values.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_type(name, "a string", value)
    return value


def _gpt_options(rules: ModelRules, values: dict[str, Any]) -> tuple[str, str]:
    if not rules.gpt:
        for name in GPT_ONLY:
            if values.get(name) is not None:
                raise unsupported_parameter(name)
        return "png", "opaque"
    output_format = _choice(values, "output_format") or "png"
    if output_format not in ("png", "jpeg", "webp"):
        raise invalid_value("output_format", output_format, ("png", "jpeg", "webp"))
    background = _choice(values, "background") or "auto"
    if background not in ("transparent", "opaque", "auto"):
        raise invalid_value("background", background, ("transparent", "opaque", "auto"))
    if background == "transparent" and output_format == "jpeg":
        raise WireError(400, "Transparent background is not supported for output_format 'jpeg'. Use 'png' or "
                             "'webp'.", param="background", code="unsupported_value")
    moderation = _choice(values, "moderation")
    if moderation is not None and moderation not in ("low", "auto"):
        raise invalid_value("moderation", moderation, ("low", "auto"))
    compression = values.get("output_compression")
    if compression is not None:
        if isinstance(compression, bool) or not isinstance(compression, int):
            raise invalid_type("output_compression", "an integer", compression)
        if not 0 <= compression <= 100:
            raise WireError(400, f"Invalid 'output_compression': expected a value between 0 and 100, but got "
                                 f"{compression} instead.", param="output_compression", code="invalid_value")
        if output_format == "png":
            raise WireError(400, "output_compression is only supported for output_format 'jpeg' and 'webp'.",
                            param="output_compression", code="unsupported_value")
    return output_format, "transparent" if background == "transparent" else "opaque"


def validate_generation(body: dict[str, Any]) -> ImageAsk:
    """POST /v1/images/generations (JSON); the model defaults to dall-e-2 as OpenAI's does."""
    model = body.get("model") or "dall-e-2"
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    rules = _rules(model, "generations")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid_type("user", "a string", user)
    return _check(rules, {**body, "model": model}, "generations")


def _form_values(form: Form, names: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {name: form.text(name) for name in names}
    values["n"] = form.integer("n")
    if "output_compression" in names:
        values["output_compression"] = form.integer("output_compression")
    return values


def _png_upload(part: FormPart, what: str, *, square: bool, alpha: bool) -> tuple[int, int]:
    info = media_bytes.png_info(part.data)
    if info is None:
        raise WireError(400, f"Invalid {what} file: uploaded {what} must be a PNG.", param=what.split()[0],
                        code="invalid_image_format")
    if part.size > SMALL_FILE_LIMIT:
        raise WireError(400, f"Invalid {what} file: uploaded {what} must be less than 4 MB.",
                        param=what.split()[0], code="image_too_large")
    width, height, colour = info
    if square and width != height:
        raise WireError(400, f"Invalid {what} file: uploaded {what} must be square.", param=what.split()[0],
                        code="invalid_image_dimensions")
    if alpha and colour not in (0, 4, 6):
        modes = {2: "RGB", 3: "P"}
        raise WireError(400, f"Invalid input {what} - format must be in ['RGBA', 'LA', 'L'], got "
                             f"{modes.get(colour, 'unknown')}.", param=what.split()[0], code="invalid_image_format")
    return width, height


def validate_edit(form: Form) -> ImageAsk:
    """POST /v1/images/edits (multipart): one square PNG with transparency for dall-e-2, up to 16 images for GPT
    Image models, an optional PNG mask the size of the first image."""
    model = form.text("model") or "dall-e-2"
    rules = _rules(model, "edits")
    images = form.files("image", "image[]")
    if not images:
        raise missing("image")
    if len(images) > rules.edit_images:
        raise WireError(400, f"Invalid 'image': too many images. {model} accepts at most {rules.edit_images}.",
                        param="image", code="invalid_value")
    masks = form.files("mask")
    first: tuple[int, int] | None = None
    for part in images:
        if rules.gpt:
            if not part.data.startswith(tuple(media_bytes.IMAGE_MAGIC.values())):
                raise WireError(400, "Invalid image file: supported formats are 'png', 'webp' and 'jpeg'.",
                                param="image", code="invalid_image_format")
            if part.size > GPT_FILE_LIMIT:
                raise WireError(400, "Invalid image file: each image must be less than 50 MB.", param="image",
                                code="image_too_large")
            info = media_bytes.png_info(part.data)
            first = first or (info[:2] if info else None)
        else:
            first = _png_upload(part, "image", square=True, alpha=not masks)
    if masks:
        dims = _png_upload(masks[-1], "mask", square=False, alpha=True)
        if first is not None and dims != first:
            raise WireError(400, "Invalid mask image: the mask and the image must have the same dimensions.",
                            param="mask", code="invalid_image_dimensions")
    fidelity = form.text("input_fidelity")
    if fidelity is not None:
        if not rules.fidelities:
            raise unsupported_parameter("input_fidelity")
        if fidelity not in rules.fidelities:
            raise invalid_value("input_fidelity", fidelity, rules.fidelities)
    values = _form_values(form, ("prompt", "size", "quality", "response_format", *GPT_ONLY, "style"))
    ask = _check(rules, {**values, "model": model}, "edits")
    return dataclasses.replace(ask, input_images=len(images))


def validate_variation(form: Form) -> ImageAsk:
    """POST /v1/images/variations (multipart): dall-e-2 only, one square PNG under 4 MB."""
    model = form.text("model") or "dall-e-2"
    rules = _rules(model, "variations")
    images = form.files("image")
    if not images:
        raise missing("image")
    _png_upload(images[-1], "image", square=True, alpha=False)
    values = _form_values(form, ("size", "response_format"))
    return _check(rules, {**values, "model": model}, "variations")


def _dims(size: str) -> tuple[int, int]:
    width, _, height = ("1024x1024" if size == "auto" else size).partition("x")
    return int(width), int(height)


def image_usage(ask: ImageAsk) -> dict[str, Any]:
    width, height = _dims(ask.size)
    shape = 0 if width == height else 1 if height > width else 2
    quality = ask.quality if ask.quality in OUTPUT_TOKENS else "medium"
    out = OUTPUT_TOKENS[quality][shape] * ask.n
    text, images = len(ask.prompt.split()), INPUT_IMAGE_TOKENS * ask.input_images
    return {"input_tokens": text + images, "input_tokens_details": {"text_tokens": text, "image_tokens": images},
            "output_tokens": out, "total_tokens": text + images + out}


def images_answer(ask: ImageAsk, serial: int, *, huge: bool) -> dict[str, Any]:
    """The ImagesResponse: url or b64_json for DALL-E, always b64_json plus usage and settings for GPT Image."""
    width, height = _dims(ask.size)
    data: list[dict[str, Any]] = []
    for i in range(ask.n):
        if ask.response_format == "url":
            item: dict[str, Any] = {"url": f"https://images.mock.invalid/img-{serial}-{i}.png"}
        else:
            raw = (media_bytes.large_png(HUGE_IMAGE_BYTES, seed=i) if huge
                   else media_bytes.image(ask.output_format, width, height, seed=serial + i))
            item = {"b64_json": base64.b64encode(raw).decode()}
        if ask.model == "dall-e-3":
            item["revised_prompt"] = f"A revised prompt: {ask.prompt}"
        data.append(item)
    answer: dict[str, Any] = {"created": int(time.time()), "data": data}
    if MODELS[ask.model].gpt:
        answer.update(background=ask.background, output_format=ask.output_format,
                      quality="medium" if ask.quality == "auto" else ask.quality,
                      size="1024x1024" if ask.size == "auto" else ask.size, usage=image_usage(ask))
    return answer

