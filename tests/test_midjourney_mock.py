"""The fake midjourney-proxy upstream answers plain HTTP exactly as midjourney-proxy (with the plus routes) would:
authentication, routes and modes, task progress and outcomes, submit codes, validation and binding errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import MJ_UPSTREAM_SECRET
from tests.upstreams.midjourney_client import fetch, finished, submit
from tests.upstreams.midjourney_mock import MockMidjourney
from tests.upstreams.midjourney_wire import png_data_url

PNG_A, PNG_B = png_data_url("a"), png_data_url("b")


@pytest.fixture
def mj(midjourney: MockMidjourney) -> MockMidjourney:
    midjourney.step_seconds = None  # tasks move only when a test advances them
    return midjourney


@pytest.fixture
def http(mj: MockMidjourney) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mj.base_url, headers={"mj-api-secret": MJ_UPSTREAM_SECRET}, timeout=10) as client:
        yield client


def test_every_route_needs_the_mj_api_secret_but_images_do_not(mj: MockMidjourney, http: httpx.Client) -> None:
    task = finished(mj, http)
    for headers in ({}, {"mj-api-secret": "wrong"}):
        for method, path in (("POST", "/mj/submit/imagine"), ("GET", f"/mj/task/{task['id']}/fetch"),
                             ("POST", "/mj-relax/mj/task/list-by-condition")):
            resp = httpx.request(method, mj.base_url + path, json={"prompt": "x", "ids": []}, headers=headers)
            assert (resp.status_code, resp.content) == (401, b"")
    image = httpx.get(task["imageUrl"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert mj.calls("image")[-1].headers.get("mj-api-secret") is None


def test_an_imagine_task_passes_every_phase_then_succeeds_with_an_image_and_buttons(
        mj: MockMidjourney, http: httpx.Client) -> None:
    answer = submit(http, "submit/imagine", {"prompt": "  a red fox  ", "state": "s-1"})
    assert (answer["code"], answer["description"]) == (1, "提交成功")
    task_id = answer["result"]
    seen = []
    for _ in range(6):
        task = fetch(http, task_id)
        seen.append((task["status"], task["progress"]))
        mj.advance(task_id)
    assert seen == [("NOT_START", None), ("SUBMITTED", "0%"), ("IN_PROGRESS", "25%"), ("IN_PROGRESS", "50%"),
                    ("IN_PROGRESS", "75%"), ("SUCCESS", "100%")]
    task = fetch(http, task_id)
    assert (task["id"], task["action"], task["prompt"], task["promptEn"]) == (task_id, "IMAGINE", "a red fox",
                                                                              "a red fox")
    assert (task["description"], task["state"], task["failReason"]) == ("/imagine a red fox", "s-1", None)
    assert task["submitTime"] <= task["startTime"] <= task["finishTime"]
    assert task["imageUrl"] == f"{mj.base_url}/attachments/{task_id}/grid.png"
    assert task["properties"]["finalPrompt"] == "a red fox"
    labels = [b["label"] or b["emoji"] for b in task["buttons"]]
    assert labels == ["U1", "U2", "U3", "U4", "\U0001f504", "V1", "V2", "V3", "V4"]
    first = task["buttons"][0]
    assert first["customId"].startswith("MJ::JOB::upsample::1::") and (first["type"], first["style"]) == (2, 2)
    assert len({b["customId"].split("::")[4] for b in task["buttons"]}) == 1  # one message hash for all


def test_an_in_progress_task_shows_a_preview_image(mj: MockMidjourney, http: httpx.Client) -> None:
    task_id = submit(http, "submit/imagine", {"prompt": "fox"})["result"]
    mj.advance(task_id, steps=2)
    task = fetch(http, task_id)
    assert task["status"] == "IN_PROGRESS" and task["buttons"] == []
    assert httpx.get(task["imageUrl"]).content.startswith(b"\x89PNG")


def test_tasks_progress_over_time_by_themselves(mj: MockMidjourney, http: httpx.Client) -> None:
    mj.step_seconds = 0.01
    task_id = submit(http, "submit/imagine", {"prompt": "fox"})["result"]
    deadline = time.monotonic() + 5
    while fetch(http, task_id)["status"] != "SUCCESS":
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.mark.parametrize(("marker", "outcome", "status"), [
    ("[mock fail]", "failure", "FAILURE"), ("[mock cancel]", "cancel", "CANCEL"),
    ("[mock stuck]", "stuck", "IN_PROGRESS")])
def test_a_task_ends_as_its_prompt_marker_or_the_standing_outcome_says(
        mj: MockMidjourney, http: httpx.Client, marker: str, outcome: str, status: str) -> None:
    marked = submit(http, "submit/imagine", {"prompt": f"fox {marker}"})["result"]
    mj.outcome = outcome
    plain = submit(http, "submit/imagine", {"prompt": "fox"})["result"]
    mj.advance(steps=20)
    for task_id in (marked, plain):
        task = fetch(http, task_id)
        assert task["status"] == status and task["buttons"] == []
        assert task["failReason"] == ("[Invalid parameter] Invalid value" if status == "FAILURE" else None)
        assert (task["finishTime"] is not None) == (status != "IN_PROGRESS")


def test_a_vanished_task_is_forgotten_by_fetch_and_list(mj: MockMidjourney, http: httpx.Client) -> None:
    task_id = submit(http, "submit/imagine", {"prompt": "fox [mock vanish]"})["result"]
    mj.advance(task_id, steps=2)
    assert fetch(http, task_id)["status"] == "IN_PROGRESS"
    mj.advance(task_id)
    resp = http.get(f"/mj/task/{task_id}/fetch")
    assert (resp.status_code, resp.content) == (200, b"")
    assert http.post("/mj/task/list-by-condition", json={"ids": [task_id]}).json() == []


def test_an_unknown_task_fetches_as_an_empty_body(http: httpx.Client) -> None:
    resp = http.get("/mj/task/1234567890/fetch")
    assert (resp.status_code, resp.content) == (200, b"")


@pytest.mark.parametrize(("prefix", "mode"), [("", None), ("/mj-fast", "fast"), ("/mj-relax", "relax"),
                                              ("/mj-turbo", "turbo")])
def test_each_call_records_the_mode_prefix_it_came_under(mj: MockMidjourney, http: httpx.Client, prefix: str,
                                                         mode: str | None) -> None:
    task_id = submit(http, "submit/imagine", {"prompt": "fox"}, prefix)["result"]
    assert http.get(f"{prefix}/mj/task/{task_id}/fetch").status_code == 200
    assert http.post(f"{prefix}/mj/task/list-by-condition", json={"ids": [task_id]}).status_code == 200
    assert [r.mode for r in mj.requests] == [mode, mode, mode]
    assert [r.route for r in mj.requests] == ["submit/imagine", f"task/{task_id}/fetch", "task/list-by-condition"]
    assert mj.tasks[task_id].mode == mode


@pytest.mark.parametrize(("code", "description", "creates"), [
    (21, "任务已存在", True), (22, "排队中，前面还有1个任务", True), (23, "队列已满，请稍后尝试", False),
    (24, "可能包含敏感词", False), (4, "参数错误", False), (9, "提交失败，系统异常", False),
    (3, "无可用的账号实例", False)])
def test_submissions_answer_the_codes_asked_for(mj: MockMidjourney, http: httpx.Client, code: int,
                                               description: str, creates: bool) -> None:
    mj.refuse_next(code)
    answer = submit(http, "submit/imagine", {"prompt": "fox"})
    assert (answer["code"], answer["description"]) == (code, description)
    assert (answer["result"] is not None) == creates and (answer["result"] in mj.tasks) == creates
    if code == 22:
        assert answer["properties"]["numberOfQueues"] == 1
    assert submit(http, "submit/imagine", {"prompt": "fox"})["code"] == 1  # one-shot
    mj.submit_code = code
    assert [submit(http, "submit/imagine", {"prompt": "fox"})["code"] for _ in range(2)] == [code, code]


@pytest.mark.parametrize(("marker", "code"), [("[mock exists]", 21), ("[mock queued]", 22),
                                              ("[mock queue full]", 23), ("[mock invalid]", 4),
                                              ("[mock error]", 9), ("[mock no account]", 3)])
def test_a_prompt_marker_asks_for_a_code(http: httpx.Client, marker: str, code: int) -> None:
    assert submit(http, "submit/imagine", {"prompt": f"fox {marker}"})["code"] == code


def test_a_banned_word_is_code_24_naming_it(http: httpx.Client) -> None:
    answer = submit(http, "submit/imagine", {"prompt": "a NUDE statue"})
    assert (answer["code"], answer["result"]) == (24, None)
    assert answer["properties"] == {"promptEn": "a NUDE statue", "bannedWord": "nude"}
    assert submit(http, "submit/shorten", {"prompt": "[mock banned] words"})["code"] == 24


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
        mj: MockMidjourney, http: httpx.Client, route: str, body: dict[str, Any], description: str) -> None:
    answer = submit(http, route, body)
    assert (answer["code"], answer["description"], answer["result"]) == (4, description, None)
    assert mj.tasks == {}


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
    answer = submit(http, "submit/imagine", {"prompt": 42, "state": True})
    task = fetch(http, answer["result"])
    assert (task["prompt"], task["state"]) == ("42", "true")


def test_list_by_condition_answers_known_ids_in_order_and_is_counted_apart_from_fetches(
        mj: MockMidjourney, http: httpx.Client) -> None:
    ids = [submit(http, "submit/imagine", {"prompt": f"fox {i}"})["result"] for i in range(3)]
    listed = http.post("/mj/task/list-by-condition", json={"ids": [ids[2], "999", ids[0]]}).json()
    assert [t["id"] for t in listed] == [ids[2], ids[0]]
    assert http.post("/mj/task/list-by-condition", json={}).json() == []
    assert http.post("/mj/task/list-by-condition", json={"ids": None}).json() == []
    fetch(http, ids[1])
    assert (mj.list_calls, mj.fetch_calls) == (3, 1)
    assert mj.list_batches() == [[ids[2], "999", ids[0]], None, None]


def test_image_seed_answers_for_a_finished_task_only(mj: MockMidjourney, http: httpx.Client) -> None:
    running = submit(http, "submit/imagine", {"prompt": "fox"})["result"]
    resp = http.get(f"/mj/task/{running}/image-seed")
    assert (resp.status_code, resp.json()["code"], resp.json()["description"]) == (400, 4, "关联任务状态错误")
    mj.advance(running, steps=10)
    seed = http.get(f"/mj-fast/mj/task/{running}/image-seed").json()
    assert (seed["code"], seed["description"]) == (1, "成功") and seed["result"].isdigit()
    assert http.get(f"/mj/task/{running}/image-seed").json()["result"] == seed["result"]
    missing = http.get("/mj/task/404404/image-seed")
    assert (missing.status_code, missing.json()["code"]) == (404, 3)
    assert mj.calls("image-seed")[1].mode == "fast"


def test_images_can_point_at_another_host(mj: MockMidjourney, http: httpx.Client) -> None:
    mj.image_base = "https://cdn.example.test"
    task = finished(mj, http)
    assert task["imageUrl"] == f"https://cdn.example.test/attachments/{task['id']}/grid.png"
    assert httpx.get(f"{mj.base_url}/attachments/404/grid.png").status_code == 404


def test_transport_failures_on_demand(mj: MockMidjourney, http: httpx.Client) -> None:
    mj.fail_next("500", "401", "reset", "timeout")
    mj.hang_seconds = 2
    resp = http.post("/mj/submit/imagine", json={"prompt": "fox"})
    assert (resp.status_code, resp.json()["error"]) == (500, "Internal Server Error")
    assert http.get("/mj/task/1/fetch").status_code == 401
    with pytest.raises(httpx.TransportError):
        http.post("/mj/submit/imagine", json={"prompt": "fox"})
    with pytest.raises(httpx.TimeoutException):
        http.post("/mj/submit/imagine", json={"prompt": "fox"}, timeout=0.3)
    assert submit(http, "submit/imagine", {"prompt": "fox"})["code"] == 1
    with pytest.raises(ValueError, match="unknown"):
        mj.refuse_next(42)


def test_reset_forgets_tasks_requests_and_settings(mj: MockMidjourney, http: httpx.Client) -> None:
    submit(http, "submit/imagine", {"prompt": "fox"})
    mj.outcome, mj.submit_code = "failure", 23
    mj.reset()
    assert (mj.tasks, mj.requests, mj.outcome, mj.submit_code) == ({}, [], "success", None)
