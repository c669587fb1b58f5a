"""midjourney-proxy submit bodies: one typed request per route, refused with a code-4 description before anything
invalid could go upstream, and sent upstream with only the protocol's own fields."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaygate.core.errors import BadRequest
from relaygate.core.types import JsonObject, JsonValue
from relaygate.protocols.midjourney import SUBMIT_ROUTES, BotType, Dimensions, TaskAction
from relaygate.protocols.midjourney_answers import refusal
from relaygate.protocols.midjourney_submit import (
    ActionRequest,
    BlendRequest,
    DescribeRequest,
    ImagineRequest,
    Limits,
    ModalRequest,
    ShortenRequest,
    SwapFaceRequest,
    check_task_id,
    image_format,
    parse_submit,
    parse_task_ids,
)
from tests.upstreams.midjourney_wire import png_data_url

PNG_A, PNG_B = png_data_url("a"), png_data_url("b")
JPEG = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 16).decode()
TEXT = "data:image/png;base64," + base64.b64encode(b"hello, not an image").decode()
U1 = "MJ::JOB::upsample::1::3dbbd469-36af-4a0f-8f02-df6c579e7011"
HOOK = "https://client.example/hook?x=1"


def test_imagine_keeps_its_fields_and_sends_only_the_protocols_own_upstream() -> None:
    request = parse_submit("submit/imagine", {
        "prompt": "  a red fox --ar 16:9 ", "base64Array": [PNG_A, JPEG], "notifyHook": HOOK, "state": "s-1",
        "botType": "NIJI_JOURNEY", "accountFilter": {"modes": ["FAST"]}, "mode": "FAST"})
    assert isinstance(request, ImagineRequest) and request.action is TaskAction.IMAGINE
    assert (request.prompt, request.bot_type) == ("a red fox --ar 16:9", BotType.NIJI_JOURNEY)
    assert [(i.media_type, i.data_url) for i in request.images] == [("image/png", PNG_A), ("image/jpeg", JPEG)]
    assert request.images[0].size > 60
    assert (request.common.notify_hook, request.common.state) == (HOOK, "s-1")
    assert request.common.extra == {"accountFilter": {"modes": ["FAST"]}, "mode": "FAST"}
    assert request.upstream_body() == {"prompt": "a red fox --ar 16:9", "base64Array": [PNG_A, JPEG],
                                       "botType": "NIJI_JOURNEY", "state": "s-1"}


def test_imagine_takes_midjourney_proxys_older_single_base64_field_too() -> None:
    request = parse_submit("submit/imagine", {"prompt": "fox", "base64": PNG_B, "base64Array": [PNG_A]})
    assert isinstance(request, ImagineRequest)
    assert request.upstream_body() == {"prompt": "fox", "base64Array": [PNG_A, PNG_B]}


def test_an_action_names_its_action_by_the_custom_id_and_goes_upstream_under_the_upstreams_task_id() -> None:
    request = parse_submit("submit/action", {"taskId": "rg-task-1", "customId": U1, "notifyHook": HOOK,
                                             "chooseSameChannel": True})
    assert isinstance(request, ActionRequest)
    assert (request.action, request.meaning.index, request.meaning.needs_modal) == (TaskAction.UPSCALE, 1, False)
    assert request.upstream_body("1712345678901001") == {"taskId": "1712345678901001", "customId": U1}
    assert request.upstream_body() == {"taskId": "rg-task-1", "customId": U1}
    inpaint = parse_submit("submit/action", {"taskId": "t", "customId": "MJ::Inpaint::1::abc::SOLO"})
    assert inpaint.action is TaskAction.INPAINT and isinstance(inpaint, ActionRequest)
    assert inpaint.meaning.needs_modal


def test_blend_describe_modal_shorten_and_swap_parse_into_their_requests() -> None:
    blend = parse_submit("submit/blend", {"base64Array": [PNG_A, PNG_B, JPEG], "dimensions": "LANDSCAPE"})
    assert isinstance(blend, BlendRequest) and blend.dimensions is Dimensions.LANDSCAPE
    assert blend.upstream_body() == {"base64Array": [PNG_A, PNG_B, JPEG], "dimensions": "LANDSCAPE"}
    describe = parse_submit("submit/describe", {"base64": PNG_A, "botType": "MID_JOURNEY"})
    assert isinstance(describe, DescribeRequest)
    assert describe.upstream_body() == {"base64": PNG_A, "botType": "MID_JOURNEY"}
    modal = parse_submit("submit/modal", {"taskId": "rg-2", "prompt": "a hat", "maskBase64": PNG_B})
    assert isinstance(modal, ModalRequest) and modal.action is TaskAction.MODAL
    assert modal.upstream_body("up-2") == {"taskId": "up-2", "prompt": "a hat", "maskBase64": PNG_B}
    assert parse_submit("submit/modal", {"taskId": "rg-2", "prompt": "x", "maskBase64": ""}).upstream_body() == {
        "taskId": "rg-2", "prompt": "x"}
    shorten = parse_submit("submit/shorten", {"prompt": "a long prompt", "state": ""})
    assert isinstance(shorten, ShortenRequest) and shorten.upstream_body() == {"prompt": "a long prompt", "state": ""}
    swap = parse_submit("insight-face/swap", {"sourceBase64": PNG_A, "targetBase64": PNG_B, "sourceUrl": "x"})
    assert isinstance(swap, SwapFaceRequest) and swap.action is TaskAction.SWAP_FACE
    assert swap.upstream_body() == {"sourceBase64": PNG_A, "targetBase64": PNG_B}
    assert swap.common.extra == {"sourceUrl": "x"}


def test_every_submit_route_has_a_parser() -> None:
    bodies: dict[str, JsonObject] = {
        "submit/imagine": {"prompt": "x"}, "submit/action": {"taskId": "1", "customId": U1},
        "submit/blend": {"base64Array": [PNG_A, PNG_B], "dimensions": "SQUARE"}, "submit/describe": {"base64": PNG_A},
        "submit/modal": {"taskId": "1", "prompt": "x"}, "submit/shorten": {"prompt": "x"},
        "insight-face/swap": {"sourceBase64": PNG_A, "targetBase64": PNG_B}}
    assert set(bodies) == set(SUBMIT_ROUTES)
    for route, body in bodies.items():
        assert parse_submit(route, body).action == (SUBMIT_ROUTES[route] or TaskAction.UPSCALE)


HUGE = "x" * 6001


@pytest.mark.parametrize(("route", "body", "param", "says"), [
    ("submit/imagine", {}, "prompt", "prompt is required"),
    ("submit/imagine", {"prompt": "   "}, "prompt", "prompt is required"),
    ("submit/imagine", {"prompt": ["fox"]}, "prompt", "must be a string"),
    ("submit/imagine", {"prompt": HUGE}, "prompt", "6001 characters long; the limit is 6000"),
    ("submit/imagine", {"prompt": "x", "base64Array": PNG_A}, "base64Array", "must be an array"),
    ("submit/imagine", {"prompt": "x", "base64Array": [PNG_A, 7]}, "base64Array[1]", "image data URL"),
    ("submit/imagine", {"prompt": "x", "base64Array": ["https://x/y.png"]}, "base64Array[0]", "image data URL"),
    ("submit/imagine", {"prompt": "x", "base64Array": ["data:image/png;base64,@@@@"]}, "base64Array[0]",
     "not valid base64"),
    ("submit/imagine", {"prompt": "x", "base64Array": ["data:image/png;base64,"]}, "base64Array[0]", "no image"),
    ("submit/imagine", {"prompt": "x", "base64Array": [TEXT]}, "base64Array[0]", "not a PNG, JPEG, GIF or WebP"),
    ("submit/imagine", {"prompt": "x", "base64Array": ["data:text/plain;base64,aGk="]}, "base64Array[0]",
     "image data URL"),
    ("submit/imagine", {"prompt": "x", "base64Array": [PNG_A] * 6}, "base64Array", "at most 5"),
    ("submit/imagine", {"prompt": "x", "base64Array": [PNG_A] * 5, "base64": PNG_B}, "base64Array", "at most 5"),
    ("submit/imagine", {"prompt": "x", "botType": "DALL_E"}, "botType", "MID_JOURNEY or NIJI_JOURNEY"),
    ("submit/imagine", {"prompt": "x", "notifyHook": "ftp://x/y"}, "notifyHook", "http:// or https://"),
    ("submit/imagine", {"prompt": "x", "notifyHook": "not a url"}, "notifyHook", "http:// or https://"),
    ("submit/imagine", {"prompt": "x", "notifyHook": "https://"}, "notifyHook", "http:// or https://"),
    ("submit/imagine", {"prompt": "x", "notifyHook": "https://x/" + "a" * 2048}, "notifyHook", "2048"),
    ("submit/imagine", {"prompt": "x", "notifyHook": 5}, "notifyHook", "http:// or https://"),
    ("submit/imagine", {"prompt": "x", "state": {"a": 1}}, "state", "state must be a string"),
    ("submit/imagine", {"prompt": "x", "state": "s" * 4097}, "state", "limit is 4096"),
    ("submit/action", {"customId": U1}, "taskId", "taskId is required"),
    ("submit/action", {"taskId": 17, "customId": U1}, "taskId", "must be a task id"),
    ("submit/action", {"taskId": "a b", "customId": U1}, "taskId", "must be a task id"),
    ("submit/action", {"taskId": "t" * 65, "customId": U1}, "taskId", "must be a task id"),
    ("submit/action", {"taskId": "1"}, "customId", "customId is required"),
    ("submit/action", {"taskId": "1", "customId": ["U1"]}, "customId", "must be a string"),
    ("submit/action", {"taskId": "1", "customId": "U1"}, "customId", "button id"),
    ("submit/action", {"taskId": "1", "customId": "MJ::JOB::upsample::7::h"}, "customId", "1 to 4"),
    ("submit/blend", {"base64Array": [PNG_A], "dimensions": "SQUARE"}, "base64Array", "2 to 5 images"),
    ("submit/blend", {"dimensions": "SQUARE"}, "base64Array", "2 to 5 images"),
    ("submit/blend", {"base64Array": [PNG_A, PNG_B]}, "dimensions", "PORTRAIT, SQUARE or LANDSCAPE"),
    ("submit/blend", {"base64Array": [PNG_A, PNG_B], "dimensions": "square"}, "dimensions", "PORTRAIT"),
    ("submit/describe", {}, "base64", "base64 is required"),
    ("submit/describe", {"base64": "aGVsbG8="}, "base64", "image data URL"),
    ("submit/modal", {"prompt": "x"}, "taskId", "taskId is required"),
    ("submit/modal", {"taskId": "1"}, "prompt", "prompt is required"),
    ("submit/modal", {"taskId": "1", "prompt": "x", "maskBase64": "zz"}, "maskBase64", "image data URL"),
    ("submit/shorten", {"prompt": None}, "prompt", "prompt is required"),
    ("insight-face/swap", {"targetBase64": PNG_B}, "sourceBase64", "sourceBase64 is required"),
    ("insight-face/swap", {"sourceBase64": PNG_A, "targetBase64": ""}, "targetBase64", "targetBase64 is required"),
    ("insight-face/swap", {"sourceBase64": PNG_A, "targetBase64": PNG_A}, "targetBase64", "must differ"),
    ("insight-face/swap", {"sourceBase64": PNG_A, "targetBase64": TEXT}, "targetBase64", "not a PNG"),
])
def test_an_invalid_body_is_refused_with_a_description_that_says_what_to_fix(
        route: str, body: dict[str, Any], param: str, says: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_submit(route, body)
    assert err.value.param == param and says in err.value.message
    answer = refusal(err.value).to_json()
    assert (answer["code"], answer["description"], answer["result"]) == (4, err.value.message, None)


def test_a_body_that_is_no_object_or_a_route_that_is_no_submit_route_is_refused() -> None:
    for body in (None, [], "prompt", 3):
        with pytest.raises(BadRequest, match="JSON object"):
            parse_submit("submit/imagine", body)
    with pytest.raises(BadRequest, match="not a submit route"):
        parse_submit("submit/simple-change", {"content": "1 U1"})


def test_an_image_over_the_limit_is_refused_before_and_after_decoding() -> None:
    small = Limits(max_image_bytes=64)
    with pytest.raises(BadRequest, match="over 64 bytes; send a smaller image"):
        parse_submit("submit/describe", {"base64": PNG_A}, small)
    assert parse_submit("submit/describe", {"base64": PNG_A}, Limits(max_image_bytes=len(PNG_A))).action is (
        TaskAction.DESCRIBE)
    with pytest.raises(BadRequest, match="over 10 MB"):
        parse_submit("submit/describe", {"base64": "data:image/png;base64," + "A" * (14 * 1024 * 1024)})
    with pytest.raises(BadRequest, match="6 characters long; the limit is 5"):
        parse_submit("submit/shorten", {"prompt": "foxfox"}, Limits(max_prompt_chars=5))


@pytest.mark.parametrize(("raw", "kind"), [
    (b"\x89PNG\r\n\x1a\n....", "PNG"), (b"\xff\xd8\xff\xdb", "JPEG"), (b"GIF89a..", "GIF"), (b"GIF87a", "GIF"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "WEBP"), (b"RIFF\x10\x00\x00\x00WAVEfmt ", None), (b"%PDF-1.7", None),
    (b"", None)])
def test_image_format_reads_the_file_signature(raw: bytes, kind: str | None) -> None:
    assert image_format(raw) == kind


def test_list_by_condition_ids() -> None:
    assert parse_task_ids({"ids": ["b", "a", "b"]}) == ["b", "a"]
    assert parse_task_ids({"ids": None}) == [] and parse_task_ids({}) == []
    for body, says in (({"ids": "a"}, "array"), ({"ids": ["a", 1]}, "task id"), ([], "JSON object"),
                       ({"ids": ["x"] * 3}, "at most 2")):
        with pytest.raises(BadRequest, match=says):
            parse_task_ids(body, Limits(max_task_ids=2))
    assert check_task_id("1712345678901001") == "1712345678901001"
    with pytest.raises(BadRequest, match="required"):
        check_task_id("")


KNOWN = ["prompt", "base64Array", "base64", "botType", "taskId", "customId", "dimensions", "maskBase64",
         "sourceBase64", "targetBase64", "notifyHook", "state", "accountFilter"]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=3), max_leaves=12)
VALUES = (JSON | st.sampled_from([PNG_A, PNG_B, JPEG, TEXT, U1, "MJ::Inpaint::1::h::SOLO", "SQUARE", "NIJI_JOURNEY",
                                  HOOK, "data:image/png;base64,", "http://[::1", "1712345678901001", "  "])
          | st.lists(st.sampled_from([PNG_A, PNG_B, TEXT, "x", 1]), max_size=7)
          | st.text(alphabet="data:image/pngjpe;base64,AQWZaz09+/=\x00é", max_size=40))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(SUBMIT_ROUTES)), st.dictionaries(st.sampled_from(KNOWN), VALUES, max_size=6) | JSON)
def test_a_hostile_body_is_a_request_or_a_bad_request_never_anything_else(route: str, body: JsonValue) -> None:
    try:
        request = parse_submit(route, body)
    except BadRequest as err:
        assert err.message and refusal(err).code == 4
    else:
        upstream = request.upstream_body("1712345678901001")
        assert "notifyHook" not in upstream and "accountFilter" not in upstream
        assert request.action in TaskAction


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_hostile_task_ids_are_ids_or_bad_requests(value: JsonValue) -> None:
    try:
        assert check_task_id(value) == value and isinstance(value, str)
    except BadRequest as err:
        assert err.param == "taskId"
    for body in ({"ids": value}, value):
        try:
            ids = parse_task_ids(body)
        except BadRequest as err:
            assert err.message
        else:
            assert all(isinstance(i, str) and i for i in ids)
