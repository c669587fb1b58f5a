"""Image generations, edits and variations through relaygate with the openai SDK: url and b64_json answers relayed
as they came (a 20 MB one too), billed per image by size and quality or by GPT Image's usage, model rules refused
before the upstream, nothing billed on failure."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant
from tests.media import last_row, media_tenant, quota, spent
from tests.upstreams import media_bytes
from tests.upstreams.openai_mock import MockOpenAI

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks DALL-E deprecated
GPT_IMAGE = (5.0 / 1e6, 10.0 / 1e6, 40.0 / 1e6)
"""gpt-image-1's default prices: text input, image input, output tokens (relaygate/billing/default_prices.py)."""


@pytest.fixture
def tenant(relaygate: Relaygate, upstream: MockOpenAI) -> Tenant:
    return media_tenant(relaygate, [upstream.base_url])


@pytest.fixture
def client(relaygate: Relaygate, tenant: Tenant) -> Iterator[openai.OpenAI]:
    with relaygate.client(tenant.key) as sdk:
        yield sdk


def _rgba(side: int = 64, seed: int = 0) -> tuple[str, bytes, str]:
    return (f"photo{seed}.png", media_bytes.png(side, side, seed=seed, alpha=True), "image/png")


def _gpt_image_cost(text: int, image: int, output: int) -> int:
    return quota(text * GPT_IMAGE[0] + image * GPT_IMAGE[1] + output * GPT_IMAGE[2])


def test_dall_e_3_is_billed_per_image_by_size_and_quality(relaygate: Relaygate, upstream: MockOpenAI,
                                                          tenant: Tenant, client: openai.OpenAI) -> None:
    url = client.images.generate(model="dall-e-3", prompt="a lighthouse", size="1792x1024", quality="hd")
    [image] = url.data or []
    assert image.url is not None and image.url.startswith("https://images.mock.invalid/")
    assert image.revised_prompt == "A revised prompt: a lighthouse"
    row = last_row(relaygate, tenant)
    assert (row["endpoint"], row["images"], row["cost"]) == ("image_generations", 1, quota(0.12))
    b64 = client.images.generate(model="dall-e-3", prompt="a lighthouse", response_format="b64_json")
    [image] = b64.data or []
    assert media_bytes.png_info(base64.b64decode(image.b64_json or "")) == (1024, 1024, 2)
    assert last_row(relaygate, tenant)["cost"] == quota(0.04)
    assert spent(relaygate, tenant) == quota(0.12) + quota(0.04)


def test_an_answer_comes_back_byte_for_byte(relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant) -> None:
    ask = {"model": "dall-e-2", "prompt": "three foxes", "n": 3, "size": "256x256", "response_format": "b64_json"}
    relayed = httpx.post(relaygate.base_url + "/images/generations", json=ask, timeout=10,
                         headers={"Authorization": f"Bearer {tenant.key}"})
    assert relayed.status_code == 200 and relayed.headers["content-type"] == "application/json"
    data = relayed.json()["data"]
    assert [media_bytes.png_info(base64.b64decode(d["b64_json"])) for d in data] == [(256, 256, 2)] * 3
    assert upstream.media.last.json == ask
    row = last_row(relaygate, tenant)
    assert (row["images"], row["cost"]) == (3, quota(3 * 0.016)) and spent(relaygate, tenant) == row["cost"]


def test_gpt_image_is_billed_by_its_usage_tokens(relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant,
                                                 client: openai.OpenAI) -> None:
    answer = client.images.generate(model="gpt-image-1", prompt="three small boats", n=2, size="1024x1536",
                                    quality="high", output_format="webp", output_compression=70)
    assert answer.usage is not None and (answer.usage.input_tokens, answer.usage.output_tokens) == (3, 2 * 6240)
    assert [base64.b64decode(d.b64_json or "")[:4] for d in answer.data or []] == [b"RIFF", b"RIFF"]
    row = last_row(relaygate, tenant)
    assert (row["images"], row["prompt_tokens"], row["completion_tokens"]) == (2, 3, 12480)
    assert row["cost"] == _gpt_image_cost(3, 0, 12480) == spent(relaygate, tenant)


def test_an_edit_with_several_images_and_a_mask_reaches_the_upstream_part_by_part(
        relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant, client: openai.OpenAI) -> None:
    images = [_rgba(64, seed) for seed in range(3)]
    mask = ("mask.png", media_bytes.png(64, 64, seed=9, alpha=True), "image/png")
    answer = client.images.edit(model="gpt-image-1", image=images, mask=mask, prompt="put them in a row",
                                input_fidelity="high", quality="low", size="1024x1024")
    assert len(answer.data or []) == 1
    sent = upstream.media.last
    assert sent.path == "/v1/images/edits" and sent.names[-4:] == ["image[]", "image[]", "image[]", "mask"]
    assert [(p.filename, p.data) for p in sent.files("image[]")] == [(name, data) for name, data, _ in images]
    assert sent.files("mask")[0].data == mask[1] and sent.field("input_fidelity") == "high"
    assert sent.field("model") == "gpt-image-1"
    row = last_row(relaygate, tenant)
    text, image_tokens = 5, 3 * 323
    assert (row["prompt_tokens"], row["completion_tokens"], row["images"]) == (text + image_tokens, 272, 1)
    assert row["cost"] == _gpt_image_cost(text, image_tokens, 272) == spent(relaygate, tenant)


def test_dall_e_2_edits_and_variations_are_billed_per_image(relaygate: Relaygate, upstream: MockOpenAI,
                                                            tenant: Tenant, client: openai.OpenAI) -> None:
    edit = client.images.edit(image=_rgba(128), prompt="add a hat", n=2, size="512x512")
    assert len(edit.data or []) == 2 and upstream.media.last.field("n") == "2"
    assert last_row(relaygate, tenant)["cost"] == quota(2 * 0.018)
    square = ("square.png", media_bytes.png(96, 96), "image/png")
    variations = client.images.create_variation(image=square, n=3, size="256x256", response_format="b64_json")
    assert len(variations.data or []) == 3 and upstream.media.last.path == "/v1/images/variations"
    row = last_row(relaygate, tenant)
    assert (row["endpoint"], row["images"], row["cost"]) == ("image_variations", 3, quota(3 * 0.016))
    assert spent(relaygate, tenant) == quota(2 * 0.018) + quota(3 * 0.016)


def test_a_20_mb_b64_json_answer_is_relayed_intact(relaygate: Relaygate, upstream: MockOpenAI,
                                                   tenant: Tenant) -> None:
    upstream.mode = "huge_image"
    ask = {"model": "dall-e-2", "prompt": "noise", "response_format": "b64_json"}
    direct = httpx.post(upstream.base_url + "/images/generations", json=ask, timeout=30,
                        headers={"Authorization": f"Bearer {UPSTREAM_KEY}"})
    relayed = httpx.post(relaygate.base_url + "/images/generations", json=ask, timeout=30,
                         headers={"Authorization": f"Bearer {tenant.key}"})
    assert relayed.status_code == 200 and len(relayed.content) > 19_000_000
    assert relayed.headers["content-length"] == str(len(relayed.content))
    # the answers differ only by their `created` second
    assert hashlib.sha256(relayed.json()["data"][0]["b64_json"].encode()).digest() == hashlib.sha256(
        direct.json()["data"][0]["b64_json"].encode()).digest()
    row = last_row(relaygate, tenant)
    assert (row["images"], row["cost"]) == (1, quota(0.02)) and spent(relaygate, tenant) == quota(0.02)


@pytest.mark.parametrize(("ask", "param"), [
    ({"model": "dall-e-3", "prompt": "cats", "n": 2}, "n"),
    ({"model": "dall-e-3", "prompt": "cats", "size": "512x512"}, "size"),
    ({"model": "dall-e-2", "prompt": "cats", "quality": "hd"}, "quality"),
    ({"model": "gpt-image-1", "prompt": "cats", "response_format": "url"}, "response_format"),
    ({"model": "dall-e-2", "prompt": "cats", "background": "transparent"}, "background"),
    ({"model": "dall-e-3"}, "prompt"),
    ({"model": "gpt-image-1", "prompt": "cats", "stream": True}, "stream"),
    ({"model": 7, "prompt": "cats"}, "model"),
])
def test_model_rules_are_refused_before_the_upstream(relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant,
                                                     ask: dict[str, object], param: str, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/images/generations", body=ask, cast_to=object)
    assert err.value.param == param and err.value.status_code == 400
    assert upstream.media.requests == [] and spent(relaygate, tenant) == 0


def test_edit_rules_are_refused_before_the_upstream(relaygate: Relaygate, upstream: MockOpenAI,
                                                    tenant: Tenant, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.images.edit(model="dall-e-2", image=[_rgba(64, 1), _rgba(64, 2)], prompt="two")
    assert err.value.param == "image"
    with pytest.raises(openai.BadRequestError) as err:
        client.images.create_variation(model="dall-e-3", image=_rgba())
    assert err.value.param == "model"
    resp = httpx.post(relaygate.base_url + "/images/edits", data={"prompt": "no image"}, files={"x": ("a", b"")},
                      headers={"Authorization": f"Bearer {tenant.key}"}, timeout=10)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "image"
    assert upstream.media.requests == [] and spent(relaygate, tenant) == 0


def test_a_failed_image_call_costs_nothing(relaygate: Relaygate, upstream: MockOpenAI, tenant: Tenant,
                                           client: openai.OpenAI) -> None:
    upstream.mode = "500"
    with pytest.raises(openai.InternalServerError):
        client.images.generate(model="dall-e-3", prompt="cats")
    with pytest.raises(openai.InternalServerError):
        client.images.edit(image=_rgba(), prompt="a hat")
    assert spent(relaygate, tenant) == 0
    row = last_row(relaygate, tenant)
    assert (row["status"], row["cost"], row["images"]) == (502, 0, 0)
