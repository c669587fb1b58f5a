"""The fake midjourney-proxy upstream answers plain HTTP exactly as midjourney-proxy (with the plus routes) would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from tests.upstreams.midjourney_mock import MockMidjourney
from tests.upstreams.midjourney_wire import png_data_url

SECRET = "mj-upstream-secret"
PNG_A, PNG_B = png_data_url("a"), png_data_url("b")


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockMidjourney]:
    server = MockMidjourney(secret=SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def mock(upstream: MockMidjourney) -> MockMidjourney:
    upstream.reset()
    upstream.step_seconds = None  # tasks move only when a test advances them
    return upstream


@pytest.fixture
def http(mock: MockMidjourney) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.base_url, headers={"mj-api-secret": SECRET}, timeout=10) as client:
        yield client


def _submit(http: httpx.Client, route: str, body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    resp = http.post(f"{prefix}/mj/{route}", json=body)
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    assert set(answer) == {"code", "description", "result", "properties"}
    return answer


def _fetch(http: httpx.Client, task_id: str) -> dict[str, Any]:
    resp = http.get(f"/mj/task/{task_id}/fetch")
    assert resp.status_code == 200
    task: dict[str, Any] = resp.json()
    return task


def _finished(mock: MockMidjourney, http: httpx.Client, route: str = "submit/imagine",
              body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = _submit(http, route, body or {"prompt": "a red fox"})
    assert answer["code"] == 1
    mock.advance(answer["result"], steps=10)
    return _fetch(http, answer["result"])


def test_every_route_needs_the_mj_api_secret_but_images_do_not(mock: MockMidjourney, http: httpx.Client) -> None:
    task = _finished(mock, http)
    for headers in ({}, {"mj-api-secret": "wrong"}):
        for method, path in (("POST", "/mj/submit/imagine"), ("GET", f"/mj/task/{task['id']}/fetch"),
                             ("POST", "/mj-relax/mj/task/list-by-condition")):
            resp = httpx.request(method, mock.base_url + path, json={"prompt": "x", "ids": []}, headers=headers)
            assert (resp.status_code, resp.content) == (401, b"")
    image = httpx.get(task["imageUrl"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert mock.calls("image")[-1].headers.get("mj-api-secret") is None


def test_an_imagine_task_passes_every_phase_then_succeeds_with_an_image_and_buttons(
        mock: MockMidjourney, http: httpx.Client) -> None:
    answer = _submit(http, "submit/imagine", {"prompt": "  a red fox  ", "state": "s-1"})
    assert (answer["code"], answer["description"]) == (1, "提交成功")
    task_id = answer["result"]
    seen = []
    for _ in range(6):
        task = _fetch(http, task_id)
        seen.append((task["status"], task["progress"]))
        mock.advance(task_id)
    assert seen == [("NOT_START", None), ("SUBMITTED", "0%"), ("IN_PROGRESS", "25%"), ("IN_PROGRESS", "50%"),
                    ("IN_PROGRESS", "75%"), ("SUCCESS", "100%")]
    task = _fetch(http, task_id)
    assert (task["id"], task["action"], task["prompt"], task["promptEn"]) == (task_id, "IMAGINE", "a red fox",
                                                                              "a red fox")
    assert (task["description"], task["state"], task["failReason"]) == ("/imagine a red fox", "s-1", None)
    assert task["submitTime"] <= task["startTime"] <= task["finishTime"]
    assert task["imageUrl"] == f"{mock.base_url}/attachments/{task_id}/grid.png"
    assert task["properties"]["finalPrompt"] == "a red fox"
    labels = [b["label"] or b["emoji"] for b in task["buttons"]]
    assert labels == ["U1", "U2", "U3", "U4", "\U0001f504", "V1", "V2", "V3", "V4"]
    first = task["buttons"][0]
    assert first["customId"].startswith("MJ::JOB::upsample::1::") and (first["type"], first["style"]) == (2, 2)
    assert len({b["customId"].split("::")[4] for b in task["buttons"]}) == 1  # one message hash for all


def test_an_in_progress_task_shows_a_preview_image(mock: MockMidjourney, http: httpx.Client) -> None:
    task_id = _submit(http, "submit/imagine", {"prompt": "fox"})["result"]
    mock.advance(task_id, steps=2)
    task = _fetch(http, task_id)
    assert task["status"] == "IN_PROGRESS" and task["buttons"] == []
    assert httpx.get(task["imageUrl"]).content.startswith(b"\x89PNG")


def test_tasks_progress_over_time_by_themselves(mock: MockMidjourney, http: httpx.Client) -> None:
    mock.step_seconds = 0.01
    task_id = _submit(http, "submit/imagine", {"prompt": "fox"})["result"]
    deadline = time.monotonic() + 5
    while _fetch(http, task_id)["status"] != "SUCCESS":
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.mark.parametrize(("marker", "outcome", "status"), [
    ("[mock fail]", "failure", "FAILURE"), ("[mock cancel]", "cancel", "CANCEL"),
    ("[mock stuck]", "stuck", "IN_PROGRESS")])
def test_a_task_ends_as_its_prompt_marker_or_the_standing_outcome_says(
        mock: MockMidjourney, http: httpx.Client, marker: str, outcome: str, status: str) -> None:
    marked = _submit(http, "submit/imagine", {"prompt": f"fox {marker}"})["result"]
    mock.outcome = outcome
    plain = _submit(http, "submit/imagine", {"prompt": "fox"})["result"]
    mock.advance(steps=20)
    for task_id in (marked, plain):
        task = _fetch(http, task_id)
        assert task["status"] == status and task["buttons"] == []
        assert task["failReason"] == ("[Invalid parameter] Invalid value" if status == "FAILURE" else None)
        assert (task["finishTime"] is not None) == (status != "IN_PROGRESS")


def test_a_vanished_task_is_forgotten_by_fetch_and_list(mock: MockMidjourney, http: httpx.Client) -> None:
    task_id = _submit(http, "submit/imagine", {"prompt": "fox [mock vanish]"})["result"]
    mock.advance(task_id, steps=2)
    assert _fetch(http, task_id)["status"] == "IN_PROGRESS"
    mock.advance(task_id)
    resp = http.get(f"/mj/task/{task_id}/fetch")
    assert (resp.status_code, resp.content) == (200, b"")
    assert http.post("/mj/task/list-by-condition", json={"ids": [task_id]}).json() == []


def test_an_unknown_task_fetches_as_an_empty_body(http: httpx.Client) -> None:
    resp = http.get("/mj/task/1234567890/fetch")
    assert (resp.status_code, resp.content) == (200, b"")


@pytest.mark.parametrize(("prefix", "mode"), [("", None), ("/mj-fast", "fast"), ("/mj-relax", "relax"),
                                              ("/mj-turbo", "turbo")])
def test_each_call_records_the_mode_prefix_it_came_under(mock: MockMidjourney, http: httpx.Client, prefix: str,
                                                         mode: str | None) -> None:
    task_id = _submit(http, "submit/imagine", {"prompt": "fox"}, prefix)["result"]
    assert http.get(f"{prefix}/mj/task/{task_id}/fetch").status_code == 200
    assert http.post(f"{prefix}/mj/task/list-by-condition", json={"ids": [task_id]}).status_code == 200
    assert [r.mode for r in mock.requests] == [mode, mode, mode]
    assert [r.route for r in mock.requests] == ["submit/imagine", f"task/{task_id}/fetch", "task/list-by-condition"]
    assert mock.tasks[task_id].mode == mode


@pytest.mark.parametrize(("code", "description", "creates"), [
    (21, "任务已存在", True), (22, "排队中，前面还有1个任务", True), (23, "队列已满，请稍后尝试", False),
    (24, "可能包含敏感词", False), (4, "参数错误", False), (9, "提交失败，系统异常", False),
    (3, "无可用的账号实例", False)])
def test_submissions_answer_the_codes_asked_for(mock: MockMidjourney, http: httpx.Client, code: int,
                                               description: str, creates: bool) -> None:
    mock.refuse_next(code)
    answer = _submit(http, "submit/imagine", {"prompt": "fox"})
    assert (answer["code"], answer["description"]) == (code, description)
    assert (answer["result"] is not None) == creates and (answer["result"] in mock.tasks) == creates
    if code == 22:
        assert answer["properties"]["numberOfQueues"] == 1
    assert _submit(http, "submit/imagine", {"prompt": "fox"})["code"] == 1  # one-shot
    mock.submit_code = code
    assert [_submit(http, "submit/imagine", {"prompt": "fox"})["code"] for _ in range(2)] == [code, code]


@pytest.mark.parametrize(("marker", "code"), [("[mock exists]", 21), ("[mock queued]", 22),
                                              ("[mock queue full]", 23), ("[mock invalid]", 4),
                                              ("[mock error]", 9), ("[mock no account]", 3)])
def test_a_prompt_marker_asks_for_a_code(http: httpx.Client, marker: str, code: int) -> None:
    assert _submit(http, "submit/imagine", {"prompt": f"fox {marker}"})["code"] == code


def test_a_banned_word_is_code_24_naming_it(http: httpx.Client) -> None:
    answer = _submit(http, "submit/imagine", {"prompt": "a NUDE statue"})
    assert (answer["code"], answer["result"]) == (24, None)
    assert answer["properties"] == {"promptEn": "a NUDE statue", "bannedWord": "nude"}
    assert _submit(http, "submit/shorten", {"prompt": "[mock banned] words"})["code"] == 24


@pytest.mark.parametrize(("route", "body", "description"), [
    ("submit/imagine", {}, "prompt不能为空"),
    ("submit/imagine", {"prompt": "   "}, "prompt不能为空"),
    ("submit/imagine", {"prompt": "fox", "base64Array": ["not a data url"]}, "base64格式错误"),
    ("submit/imagine", {"prompt": "fox", "base64Array": ["data:image/png;base64,@@@"]}, "base64格式错误"),
    ("submit/imagine", {"prompt": "fox", "base64": "data:image/png;base64"}, "base64格式错误"),
    ("submit/blend", {"base64Array": [PNG_A], "dimensions": "SQUARE"}, "base64List参数错误"),
    ("submit/blend", {"base64Array": [PNG_A] * 6, "dimensions": "SQUARE"}, "base64List参数错误"),
    ("submit/blend", {"base64Array": [PNG_A, PNG_B]}, "dimensions参数错误"),
    ("submit/blend", {"base64Array": [PNG_A, "x"], "dimensions": "SQUARE"}, "base64格式错误"),
    ("submit/describe", {}, "base64不能为空"),
    ("submit/describe", {"base64": "aGVsbG8="}, "base64格式错误"),
    ("submit/shorten", {"prompt": ""}, "prompt不能为空"),
    ("submit/action", {"taskId": "1"}, "参数错误"),
    ("submit/action", {"customId": "MJ::JOB::upsample::1::x"}, "参数错误"),
    ("submit/modal", {"taskId": "1"}, "参数错误"),
    ("insight-face/swap", {"targetBase64": PNG_B}, "人脸图片不能为空"),
    ("insight-face/swap", {"sourceBase64": PNG_A}, "目标图片不能为空"),
    ("insight-face/swap", {"sourceBase64": PNG_A, "targetBase64": PNG_A}, "人脸图片和目标图片不能相同"),
    ("insight-face/swap", {"sourceBase64": PNG_A, "targetBase64": "x"}, "base64格式错误"),
])
def test_invalid_bodies_are_code_4_with_midjourney_proxys_descriptions(
        mock: MockMidjourney, http: httpx.Client, route: str, body: dict[str, Any], description: str) -> None:
    answer = _submit(http, route, body)
    assert (answer["code"], answer["description"], answer["result"]) == (4, description, None)
    assert mock.tasks == {}


@pytest.mark.parametrize(("method", "path", "content", "status"), [
    ("POST", "/mj/submit/imagine", b'{"prompt": {"text": "fox"}}', 400),
    ("POST", "/mj/submit/imagine", b'{"prompt": "fox", "base64Array": "data:image/png;base64,AA=="}', 400),
    ("POST", "/mj/submit/imagine", b'{"prompt": "fox", "botType": "DALL_E"}', 400),
    ("POST", "/mj/submit/blend", b'{"base64Array": [], "dimensions": "WIDE"}', 400),
    ("POST", "/mj/submit/imagine", b'["fox"]', 400),
    ("POST", "/mj/submit/imagine", b'{"prompt": ', 400),
    ("POST", "/mj/submit/imagine", b"", 400),
    ("POST", "/mj/task/list-by-condition", b'{"ids": "123"}', 400),
    ("GET", "/mj/submit/imagine", b"", 405),
    ("POST", "/mj/task/1/fetch", b"", 405),
    ("POST", "/mj/submit/paint", b"{}", 404),
    ("GET", "/v1/models", b"", 404),
])
def test_bodies_jackson_cannot_bind_are_springs_error_answers(
        http: httpx.Client, method: str, path: str, content: bytes, status: int) -> None:
    resp = http.request(method, path, content=content, headers={"Content-Type": "application/json"})
    assert resp.status_code == status
    assert resp.json()["status"] == status and resp.json()["path"] == path
    assert set(resp.json()) == {"timestamp", "status", "error", "path"}


def test_a_body_that_is_not_json_is_unsupported_media(http: httpx.Client) -> None:
    resp = http.post("/mj/submit/imagine", content=b"prompt=fox",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (resp.status_code, resp.json()["error"]) == (415, "Unsupported Media Type")


def test_scalars_bind_as_text_as_jackson_coerces_them(http: httpx.Client) -> None:
    answer = _submit(http, "submit/imagine", {"prompt": 42, "state": True})
    task = _fetch(http, answer["result"])
    assert (task["prompt"], task["state"]) == ("42", "true")


def test_upscale_then_its_buttons_offer_the_upscaled_actions(mock: MockMidjourney, http: httpx.Client) -> None:
    grid = _finished(mock, http, body={"prompt": "fox"})
    answer = _submit(http, "submit/action", {"taskId": grid["id"], "customId": grid["buttons"][1]["customId"]},
                     "/mj-relax")
    assert answer["code"] == 1 and answer["result"] != grid["id"]
    mock.advance(answer["result"], steps=10)
    upscaled = _fetch(http, answer["result"])
    assert (upscaled["action"], upscaled["status"], upscaled["prompt"]) == ("UPSCALE", "SUCCESS", "fox")
    assert upscaled["description"] == f"/up {grid['id']} U2"
    assert upscaled["imageUrl"].endswith("/upscaled.png")
    kinds = [b["customId"].split("::")[1:3] for b in upscaled["buttons"]]
    assert ["JOB", "low_variation"] in kinds and ["Inpaint", "1"] in kinds and ["CustomZoom", upscaled["buttons"][
        7]["customId"].split("::")[2]] in kinds
    assert any(b["customId"].startswith("MJ::JOB::pan_left::1::") for b in upscaled["buttons"])
    assert mock.tasks[answer["result"]].mode == "relax"


@pytest.mark.parametrize(("index", "action"), [(5, "REROLL"), (6, "VARIATION")])
def test_reroll_and_variation_buttons_make_new_grids(mock: MockMidjourney, http: httpx.Client, index: int,
                                                     action: str) -> None:
    grid = _finished(mock, http)
    task_id = _submit(http, "submit/action", {"taskId": grid["id"],
                                              "customId": grid["buttons"][index - 1]["customId"]})["result"]
    mock.advance(task_id, steps=10)
    task = _fetch(http, task_id)
    assert (task["action"], task["status"], len(task["buttons"])) == (action, "SUCCESS", 9)


def test_an_action_needs_a_finished_task_and_one_of_its_own_buttons(mock: MockMidjourney,
                                                                   http: httpx.Client) -> None:
    other = _finished(mock, http)
    running = _submit(http, "submit/imagine", {"prompt": "fox"})["result"]
    refused = _submit(http, "submit/action", {"taskId": running, "customId": other["buttons"][0]["customId"]})
    assert (refused["code"], refused["description"]) == (4, "关联任务状态错误")
    mock.advance(running, steps=10)
    refused = _submit(http, "submit/action", {"taskId": running, "customId": other["buttons"][0]["customId"]})
    assert (refused["code"], refused["description"]) == (4, "customId不属于关联任务")
    resp = http.post("/mj/submit/action", json={"taskId": "404404", "customId": other["buttons"][0]["customId"]})
    assert resp.status_code == 404 and resp.json()["code"] == 3
    assert resp.json()["description"] == "关联任务不存在或已失效"


def test_inpaint_waits_in_a_modal_until_submit_modal_confirms_it_with_a_mask(
        mock: MockMidjourney, http: httpx.Client) -> None:
    grid = _finished(mock, http)
    upscale = _submit(http, "submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
    mock.advance(upscale["result"], steps=10)
    upscaled = _fetch(http, upscale["result"])
    inpaint = next(b["customId"] for b in upscaled["buttons"] if b["customId"].startswith("MJ::Inpaint::"))
    waiting = _submit(http, "submit/action", {"taskId": upscaled["id"], "customId": inpaint})
    assert (waiting["code"], waiting["description"]) == (21, "Waiting for window confirm")
    assert waiting["properties"] == {"finalPrompt": "a red fox", "remix": True}
    mock.advance(waiting["result"], steps=10)
    modal = _fetch(http, waiting["result"])
    assert (modal["status"], modal["action"], modal["progress"]) == ("MODAL", "INPAINT", None)
    no_mask = _submit(http, "submit/modal", {"taskId": modal["id"], "prompt": "a blue hat"})
    assert (no_mask["code"], no_mask["description"]) == (4, "maskBase64不能为空")
    bad_mask = _submit(http, "submit/modal", {"taskId": modal["id"], "prompt": "a hat", "maskBase64": "zz"})
    assert (bad_mask["code"], bad_mask["description"]) == (4, "base64格式错误")
    confirmed = _submit(http, "submit/modal", {"taskId": modal["id"], "prompt": "a blue hat", "maskBase64": PNG_A},
                        "/mj-turbo")
    assert (confirmed["code"], confirmed["result"]) == (1, modal["id"])
    assert _fetch(http, modal["id"])["status"] == "NOT_START"
    mock.advance(modal["id"], steps=10)
    done = _fetch(http, modal["id"])
    assert (done["status"], done["prompt"], len(done["buttons"])) == ("SUCCESS", "a blue hat", 9)
    again = _submit(http, "submit/modal", {"taskId": modal["id"], "prompt": "x", "maskBase64": PNG_A})
    assert (again["code"], again["description"]) == (4, "关联任务状态错误")
    resp = http.post("/mj/submit/modal", json={"taskId": "404404", "prompt": "x"})
    assert resp.status_code == 404 and resp.json()["code"] == 3


def test_custom_zoom_and_remix_actions_wait_for_a_modal_too(mock: MockMidjourney, http: httpx.Client) -> None:
    grid = _finished(mock, http)
    upscale = _submit(http, "submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
    mock.advance(upscale["result"], steps=10)
    upscaled = _fetch(http, upscale["result"])
    zoom = next(b["customId"] for b in upscaled["buttons"] if b["customId"].startswith("MJ::CustomZoom::"))
    assert _submit(http, "submit/action", {"taskId": upscaled["id"], "customId": zoom})["code"] == 21
    pan = next(b["customId"] for b in upscaled["buttons"] if "pan_up" in b["customId"])
    assert _submit(http, "submit/action", {"taskId": upscaled["id"], "customId": pan})["code"] == 1
    mock.remix = True
    waiting = _submit(http, "submit/action", {"taskId": upscaled["id"], "customId": pan})
    assert waiting["code"] == 21 and _fetch(http, waiting["result"])["status"] == "MODAL"
    assert _submit(http, "submit/modal", {"taskId": waiting["result"], "prompt": "fox, wider"})["code"] == 1


def test_bookmark_answers_with_the_task_itself_and_starts_nothing(mock: MockMidjourney, http: httpx.Client) -> None:
    grid = _finished(mock, http)
    upscale = _submit(http, "submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
    mock.advance(upscale["result"], steps=10)
    heart = _fetch(http, upscale["result"])["buttons"][-1]
    assert heart["customId"].startswith("MJ::BOOKMARK::")
    count = len(mock.tasks)
    answer = _submit(http, "submit/action", {"taskId": upscale["result"], "customId": heart["customId"]})
    assert (answer["code"], answer["result"], len(mock.tasks)) == (1, upscale["result"], count)


def test_describe_reads_four_prompts_that_picreader_buttons_draw_after_a_modal(
        mock: MockMidjourney, http: httpx.Client) -> None:
    described = _finished(mock, http, "submit/describe", {"base64": PNG_A})
    assert (described["action"], described["status"]) == ("DESCRIBE", "SUCCESS")
    assert described["description"] == f"/describe {described['id']}.png"
    assert described["imageUrl"].endswith("/input.png") and httpx.get(described["imageUrl"]).status_code == 200
    prompts = described["properties"]["finalPrompt"].split("\n\n")
    assert len(prompts) == 4 and prompts[0].endswith("a mock picture, reading 1 --ar 1:1")
    assert [b["customId"] for b in described["buttons"]][:4] == [f"MJ::Job::PicReader::{i}" for i in range(1, 5)]
    waiting = _submit(http, "submit/action", {"taskId": described["id"], "customId": "MJ::Job::PicReader::2"})
    assert waiting["code"] == 21
    assert waiting["properties"]["finalPrompt"] == "a mock picture, reading 2 --ar 1:1"


def test_shorten_blend_and_swap_succeed_with_what_each_produces(mock: MockMidjourney, http: httpx.Client) -> None:
    shortened = _finished(mock, http, "submit/shorten", {"prompt": "a long and winding prompt about foxes"})
    assert shortened["action"] == "SHORTEN" and shortened["imageUrl"] is None
    assert shortened["properties"]["finalPrompt"].startswith("## Important tokens")
    assert len(shortened["buttons"]) == 5
    blended = _finished(mock, http, "submit/blend", {"base64Array": [PNG_A, PNG_B], "dimensions": "PORTRAIT"})
    assert (blended["action"], blended["description"]) == ("BLEND", f"/blend {blended['id']} 2")
    assert len(blended["buttons"]) == 9
    swapped = _finished(mock, http, "insight-face/swap", {"sourceBase64": PNG_A, "targetBase64": PNG_B})
    assert (swapped["action"], swapped["status"], swapped["buttons"]) == ("SWAP_FACE", "SUCCESS", [])
    assert httpx.get(swapped["imageUrl"]).content.startswith(b"\x89PNG")


def test_list_by_condition_answers_known_ids_in_order_and_is_counted_apart_from_fetches(
        mock: MockMidjourney, http: httpx.Client) -> None:
    ids = [_submit(http, "submit/imagine", {"prompt": f"fox {i}"})["result"] for i in range(3)]
    listed = http.post("/mj/task/list-by-condition", json={"ids": [ids[2], "999", ids[0]]}).json()
    assert [t["id"] for t in listed] == [ids[2], ids[0]]
    assert http.post("/mj/task/list-by-condition", json={}).json() == []
    assert http.post("/mj/task/list-by-condition", json={"ids": None}).json() == []
    _fetch(http, ids[1])
    assert (mock.list_calls, mock.fetch_calls) == (3, 1)
    assert mock.list_batches() == [[ids[2], "999", ids[0]], None, None]


def test_image_seed_answers_for_a_finished_task_only(mock: MockMidjourney, http: httpx.Client) -> None:
    running = _submit(http, "submit/imagine", {"prompt": "fox"})["result"]
    resp = http.get(f"/mj/task/{running}/image-seed")
    assert (resp.status_code, resp.json()["code"], resp.json()["description"]) == (400, 4, "关联任务状态错误")
    mock.advance(running, steps=10)
    seed = http.get(f"/mj-fast/mj/task/{running}/image-seed").json()
    assert (seed["code"], seed["description"]) == (1, "成功") and seed["result"].isdigit()
    assert http.get(f"/mj/task/{running}/image-seed").json()["result"] == seed["result"]
    missing = http.get("/mj/task/404404/image-seed")
    assert (missing.status_code, missing.json()["code"]) == (404, 3)
    assert mock.calls("image-seed")[1].mode == "fast"


def test_images_can_point_at_another_host(mock: MockMidjourney, http: httpx.Client) -> None:
    mock.image_base = "https://cdn.example.test"
    task = _finished(mock, http)
    assert task["imageUrl"] == f"https://cdn.example.test/attachments/{task['id']}/grid.png"
    assert httpx.get(f"{mock.base_url}/attachments/404/grid.png").status_code == 404


def test_transport_failures_on_demand(mock: MockMidjourney, http: httpx.Client) -> None:
    mock.fail_next("500", "401", "reset", "timeout")
    mock.hang_seconds = 2
    resp = http.post("/mj/submit/imagine", json={"prompt": "fox"})
    assert (resp.status_code, resp.json()["error"]) == (500, "Internal Server Error")
    assert http.get("/mj/task/1/fetch").status_code == 401
    with pytest.raises(httpx.TransportError):
        http.post("/mj/submit/imagine", json={"prompt": "fox"})
    with pytest.raises(httpx.TimeoutException):
        http.post("/mj/submit/imagine", json={"prompt": "fox"}, timeout=0.3)
    assert _submit(http, "submit/imagine", {"prompt": "fox"})["code"] == 1
    with pytest.raises(ValueError, match="unknown"):
        mock.refuse_next(42)


def test_reset_forgets_tasks_requests_and_settings(mock: MockMidjourney, http: httpx.Client) -> None:
    _submit(http, "submit/imagine", {"prompt": "fox"})
    mock.outcome, mock.submit_code = "failure", 23
    mock.reset()
    assert (mock.tasks, mock.requests, mock.outcome, mock.submit_code) == ({}, [], "success", None)
