"""The fake OpenAI upstream's image endpoints answer the official openai SDK as OpenAI would: generations, edits and
variations per model, real PNGs, GPT Image usage, a ~20 MB answer on demand, and every rule refused."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.upstreams import media_bytes
from tests.upstreams.openai_mock import MockOpenAI

KEY = "sk-upstream-test"
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks DALL-E deprecated


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockOpenAI]:
    server = MockOpenAI(api_keys=[KEY]).start()
    yield server
    server.stop()


@pytest.fixture
def mock(upstream: MockOpenAI) -> MockOpenAI:
    upstream.reset()
    return upstream


@pytest.fixture
def client(mock: MockOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=mock.base_url, api_key=KEY, max_retries=0, timeout=30) as sdk:
        yield sdk


def _png(b64: str | None) -> tuple[int, int, int]:
    info = media_bytes.png_info(base64.b64decode(b64 or ""))
    assert info is not None, "not a PNG"
    return info


def _rgba(side: int = 64) -> tuple[str, bytes, str]:
    return ("photo.png", media_bytes.png(side, side, alpha=True), "image/png")


def test_dall_e_2_answers_urls_by_default_and_real_pngs_in_b64_json(mock: MockOpenAI, client: openai.OpenAI) -> None:
    urls = client.images.generate(prompt="a red fox", n=3)
    found = [d.url or "" for d in urls.data or []]
    assert len(set(found)) == 3 and all(u.startswith("https://images.mock.invalid/img-") for u in found)
    assert urls.usage is None and mock.media.last.json == {"prompt": "a red fox", "n": 3}
    b64 = client.images.generate(model="dall-e-2", prompt="a red fox", size="256x256", response_format="b64_json")
    [image] = b64.data or []
    assert _png(image.b64_json) == (256, 256, 2) and image.revised_prompt is None


def test_dall_e_3_gives_one_image_with_its_revised_prompt(client: openai.OpenAI) -> None:
    answer = client.images.generate(model="dall-e-3", prompt="a lighthouse", size="1792x1024", quality="hd",
                                    style="natural", response_format="b64_json", user="user-1")
    [image] = answer.data or []
    assert image.revised_prompt == "A revised prompt: a lighthouse"
    assert _png(image.b64_json)[:2] == (1792, 1024)


@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("jpeg", b"\xff\xd8\xff"), ("webp", b"RIFF")])
def test_gpt_image_always_answers_b64_json_with_its_usage_and_settings(client: openai.OpenAI, fmt: str,
                                                                       magic: bytes) -> None:
    answer = client.images.generate(model="gpt-image-1", prompt="three small boats", n=2, size="1024x1536",
                                    quality="high", output_format=fmt, background="opaque", moderation="low",
                                    **({} if fmt == "png" else {"output_compression": 70}))
    assert [base64.b64decode(d.b64_json or "")[:len(magic)] for d in answer.data or []] == [magic, magic]
    assert (answer.output_format, answer.quality, answer.size, answer.background) == (fmt, "high", "1024x1536",
                                                                                      "opaque")
    assert answer.usage is not None
    assert answer.usage.model_dump(exclude_none=True) == {
        "input_tokens": 3, "input_tokens_details": {"text_tokens": 3, "image_tokens": 0},
        "output_tokens": 2 * 6240, "total_tokens": 3 + 2 * 6240}


def test_gpt_image_auto_settings_come_back_resolved(client: openai.OpenAI) -> None:
    answer = client.images.generate(model="gpt-image-1-mini", prompt="a kite", background="transparent")
    assert (answer.size, answer.quality, answer.background, answer.output_format) == ("1024x1024", "medium",
                                                                                      "transparent", "png")
    assert answer.usage is not None and answer.usage.output_tokens == 1056


def test_an_edit_takes_several_images_and_a_mask_all_recorded(mock: MockOpenAI, client: openai.OpenAI) -> None:
    images = [(f"in{i}.png", media_bytes.png(64, 64, seed=i), "image/png") for i in range(3)]
    answer = client.images.edit(model="gpt-image-1", image=images, mask=_rgba(), prompt="add hats", n=2,
                                size="1536x1024", quality="low", input_fidelity="high")
    assert len(answer.data or []) == 2 and answer.usage is not None
    assert answer.usage.input_tokens_details.image_tokens == 3 * 323 and answer.usage.output_tokens == 2 * 400
    sent = mock.media.last
    assert sent.path == "/v1/images/edits" and sent.names.count("image[]") == 3 and sent.names[-1] == "mask"
    assert [f.data for f in sent.files("image[]")] == [data for _, data, _ in images]
    assert sent.field("input_fidelity") == "high" and sent.field("n") == "2"


def test_dall_e_2_edits_one_square_png_with_transparency_and_makes_variations(mock: MockOpenAI,
                                                                              client: openai.OpenAI) -> None:
    edit = client.images.edit(image=_rgba(), prompt="a hat", size="512x512", response_format="b64_json")
    assert _png((edit.data or [])[0].b64_json)[:2] == (512, 512)
    masked = client.images.edit(image=("rgb.png", media_bytes.png(64, 64), "image/png"), mask=_rgba(),
                                prompt="a hat")
    assert (masked.data or [])[0].url
    variations = client.images.create_variation(image=("rgb.png", media_bytes.png(32, 32), "image/png"), n=2,
                                                size="256x256")
    assert len(variations.data or []) == 2 and mock.media.last.path == "/v1/images/variations"


def test_the_huge_image_mode_answers_about_20_mb_of_base64(mock: MockOpenAI, client: openai.OpenAI) -> None:
    mock.fail_next("huge_image")
    answer = client.images.generate(model="gpt-image-1", prompt="noise")
    [image] = answer.data or []
    assert 19_000_000 < len(image.b64_json or "") < 21_000_000
    assert _png(image.b64_json)[0] == 1024
    assert len((client.images.generate(model="gpt-image-1", prompt="small").data or [])[0].b64_json or "") < 100_000


@pytest.mark.parametrize(("body", "param", "code"), [
    ({"model": "dall-e-3", "n": 2}, "n", "invalid_value"),
    ({"model": "dall-e-2", "n": 11}, "n", "integer_above_max_value"),
    ({"model": "dall-e-2", "n": 0}, "n", "integer_below_min_value"),
    ({"model": "dall-e-2", "n": "2"}, "n", "invalid_type"),
    ({"model": "dall-e-3", "size": "512x512"}, "size", "invalid_size"),
    ({"model": "dall-e-2", "size": "1792x1024"}, "size", "invalid_size"),
    ({"model": "gpt-image-1", "size": "256x256"}, "size", "invalid_size"),
    ({"model": "dall-e-2", "quality": "hd"}, "quality", "invalid_value"),
    ({"model": "dall-e-3", "quality": "high"}, "quality", "invalid_value"),
    ({"model": "gpt-image-1", "quality": "standard"}, "quality", "invalid_value"),
    ({"model": "dall-e-2", "style": "vivid"}, "style", "unsupported_parameter"),
    ({"model": "dall-e-3", "style": "moody"}, "style", "invalid_value"),
    ({"model": "gpt-image-1", "response_format": "url"}, "response_format", "unknown_parameter"),
    ({"model": "gpt-image-1", "response_format": "b64_json"}, "response_format", "unknown_parameter"),
    ({"model": "dall-e-3", "response_format": "png"}, "response_format", "invalid_value"),
    ({"model": "dall-e-3", "background": "transparent"}, "background", "unsupported_parameter"),
    ({"model": "dall-e-2", "output_format": "png"}, "output_format", "unsupported_parameter"),
    ({"model": "dall-e-2", "moderation": "low"}, "moderation", "unsupported_parameter"),
    ({"model": "dall-e-3", "output_compression": 50}, "output_compression", "unsupported_parameter"),
    ({"model": "gpt-image-1", "output_format": "gif"}, "output_format", "invalid_value"),
    ({"model": "gpt-image-1", "background": "clear"}, "background", "invalid_value"),
    ({"model": "gpt-image-1", "background": "transparent", "output_format": "jpeg"}, "background",
     "unsupported_value"),
    ({"model": "gpt-image-1", "output_compression": 50}, "output_compression", "unsupported_value"),
    ({"model": "gpt-image-1", "output_format": "webp", "output_compression": 120}, "output_compression",
     "invalid_value"),
    ({"model": "gpt-image-1", "moderation": "strict"}, "moderation", "invalid_value"),
    ({"model": "dall-e-2", "prompt": "x" * 1001}, "prompt", "string_above_max_length"),
    ({"model": "dall-e-3", "prompt": "x" * 4001}, "prompt", "string_above_max_length"),
    ({"model": "dall-e-2", "prompt": ""}, "prompt", "empty_string"),
    ({"model": "dall-e-2", "prompt": None}, "prompt", "missing_required_parameter"),
    ({"model": "dall-e-2", "user": 7}, "user", "invalid_type"),
    ({"model": 3}, "model", "invalid_type"),
])
def test_generation_rules_are_refused_as_openai_refuses_them(mock: MockOpenAI, client: openai.OpenAI,
                                                             body: dict[str, Any], param: str, code: str) -> None:
    sent = {k: v for k, v in {"prompt": "a cat", **body}.items() if v is not None}
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/images/generations", body=sent, cast_to=object)
    assert (err.value.param, err.value.code, err.value.type) == (param, code, "invalid_request_error")
    assert mock.media.last.json == sent


def test_an_unknown_image_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.images.generate(model="dall-e-4", prompt="x")
    assert err.value.code == "model_not_found"


@pytest.mark.parametrize(("path", "fields", "files", "param", "code"), [
    ("edits", {"model": "dall-e-3"}, {"image": _rgba()}, "model", "invalid_value"),
    ("edits", {}, {"image": ("rgb.png", media_bytes.png(64, 64), "image/png")}, "image", "invalid_image_format"),
    ("edits", {}, {"image": ("wide.png", media_bytes.png(64, 32, alpha=True), "image/png")}, "image",
     "invalid_image_dimensions"),
    ("edits", {}, {"image": ("a.jpg", media_bytes.image("jpeg", 64, 64), "image/jpeg")}, "image",
     "invalid_image_format"),
    ("edits", {}, {"image": _rgba(), "mask": ("m.png", media_bytes.png(32, 32, alpha=True), "image/png")}, "mask",
     "invalid_image_dimensions"),
    ("edits", {}, {"image": _rgba(), "mask": ("m.png", media_bytes.png(64, 64), "image/png")}, "mask",
     "invalid_image_format"),
    ("edits", {}, {"image[]": [_rgba(), _rgba()]}, "image", "invalid_value"),
    ("edits", {"model": "gpt-image-1"}, {"image[]": [_rgba()] * 17}, "image", "invalid_value"),
    ("edits", {"model": "gpt-image-1"}, {"image": ("a.gif", b"GIF89a" + bytes(20), "image/gif")}, "image",
     "invalid_image_format"),
    ("edits", {"input_fidelity": "high"}, {"image": _rgba()}, "input_fidelity", "unsupported_parameter"),
    ("edits", {"model": "gpt-image-1-mini", "input_fidelity": "high"}, {"image": _rgba()}, "input_fidelity",
     "invalid_value"),
    ("edits", {"model": "gpt-image-1", "size": "512x512"}, {"image": _rgba()}, "size", "invalid_size"),
    ("edits", {"n": "many"}, {"image": _rgba()}, "n", "invalid_type"),
    ("edits", {"prompt": None}, {"image": _rgba()}, "prompt", "missing_required_parameter"),
    ("edits", {}, {"other": _rgba()}, "image", "missing_required_parameter"),
    ("variations", {"model": "gpt-image-1"}, {"image": _rgba()}, "model", "invalid_value"),
    ("variations", {}, {"image": ("wide.png", media_bytes.png(64, 32), "image/png")}, "image",
     "invalid_image_dimensions"),
    ("variations", {}, {"image": ("big.png", media_bytes.large_png(5_000_000), "image/png")}, "image",
     "image_too_large"),
    ("variations", {"size": "1792x1024"}, {"image": _rgba()}, "size", "invalid_size"),
    ("variations", {"n": "11"}, {"image": _rgba()}, "n", "integer_above_max_value"),
])
def test_edit_and_variation_rules_are_refused_as_openai_refuses_them(mock: MockOpenAI, path: str,
                                                                     fields: dict[str, Any], files: dict[str, Any],
                                                                     param: str, code: str) -> None:
    base = {"prompt": "a hat"} if path == "edits" else {}
    data = {k: v for k, v in {**base, **fields}.items() if v is not None}
    parts = [(name, f) for name, value in files.items() for f in (value if isinstance(value, list) else [value])]
    resp = httpx.post(f"{mock.base_url}/images/{path}", data=data, files=parts, timeout=30,
                      headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert mock.media.last.names == [*data, *(name for name, _ in parts)]


def test_failure_modes_hit_image_endpoints_too(mock: MockOpenAI, client: openai.OpenAI) -> None:
    mock.fail_next("500", "429")
    with pytest.raises(openai.InternalServerError):
        client.images.generate(prompt="a cat")
    with pytest.raises(openai.RateLimitError):
        client.images.edit(image=_rgba(), prompt="a hat")
    assert client.images.generate(prompt="a cat").data
