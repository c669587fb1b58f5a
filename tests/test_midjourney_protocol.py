"""The midjourney-proxy protocol: codes, statuses, modes and routes, what a customId means, and the submit answer and
task object read from whatever an upstream sends."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaygate.core.errors import BadRequest, NotFound
from relaygate.core.types import JsonValue
from relaygate.protocols.midjourney import (
    ACCEPTED_CODES,
    Button,
    Mode,
    ReturnCode,
    TaskAction,
    TaskStatus,
    button_meaning,
    check_button,
    path_for,
    route_of,
)
from relaygate.protocols.midjourney_answers import (
    SubmitAnswer,
    progress_text,
    refusal,
    submit_answer_from,
    submitted,
    task_from_upstream,
    tasks_from_upstream,
)
from tests.upstreams import midjourney_wire

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                max_size=4), max_leaves=20)
TASK_FIELDS = ["id", "action", "prompt", "promptEn", "description", "state", "submitTime", "startTime",
               "finishTime", "imageUrl", "status", "progress", "failReason", "properties", "buttons"]


def test_return_codes_are_midjourney_proxys_and_only_1_21_22_are_accepted() -> None:
    assert {c.name: int(c) for c in ReturnCode} == {
        "SUCCESS": 1, "NOT_FOUND": 3, "VALIDATION_ERROR": 4, "FAILURE": 9, "EXISTED": 21, "IN_QUEUE": 22,
        "QUEUE_REJECTED": 23, "BANNED_PROMPT": 24}
    assert set(ACCEPTED_CODES) == {1, 21, 22}
    assert ReturnCode.SUCCESS.description == "提交成功" and "queue is full" in ReturnCode.QUEUE_REJECTED.meaning
    assert all(c.meaning and c.description for c in ReturnCode)


def test_finished_and_refundable_statuses() -> None:
    assert {s for s in TaskStatus if s.finished} == {TaskStatus.SUCCESS, TaskStatus.FAILURE, TaskStatus.CANCEL}
    assert {s for s in TaskStatus if s.refundable} == {TaskStatus.FAILURE, TaskStatus.CANCEL}
    assert [s.value for s in TaskStatus] == ["NOT_START", "SUBMITTED", "MODAL", "IN_PROGRESS", "FAILURE",
                                             "SUCCESS", "CANCEL"]


@pytest.mark.parametrize(("path", "expected"), [
    ("/mj/submit/imagine", (None, "submit/imagine")),
    ("/mj-fast/mj/submit/action", (Mode.FAST, "submit/action")),
    ("/mj-relax/mj/task/123/fetch", (Mode.RELAX, "task/123/fetch")),
    ("/mj-turbo/mj/insight-face/swap", (Mode.TURBO, "insight-face/swap")),
    ("/mj/mj/submit/imagine", (None, "mj/submit/imagine")),
    ("/mj-slow/mj/submit/imagine", None),
    ("/mj-relax/submit/imagine", None),
    ("/v1/chat/completions", None),
    ("/mj/", None),
])
def test_route_of_reads_the_mode_prefix_and_the_route(path: str, expected: tuple[Mode | None, str] | None) -> None:
    assert route_of(path) == expected


def test_path_for_sends_the_mode_upstream_as_the_same_prefix() -> None:
    assert path_for("submit/imagine", Mode.RELAX) == "/mj-relax/mj/submit/imagine"
    assert path_for("task/list-by-condition", None) == "/mj/task/list-by-condition"
    assert all(route_of(path_for("submit/blend", m)) == (m, "submit/blend") for m in (*Mode, None))


@pytest.mark.parametrize(("custom_id", "action", "index", "modal"), [
    ("MJ::JOB::upsample::2::3dbbd469-36af-4a0f-8f02-df6c579e7011", TaskAction.UPSCALE, 2, False),
    ("MJ::JOB::upsample_v6_2x_subtle::1::7af96d1a::SOLO", TaskAction.UPSCALE, 1, False),
    ("MJ::JOB::variation::4::898416ec", TaskAction.VARIATION, 4, False),
    ("MJ::JOB::low_variation::1::7af96d1a::SOLO", TaskAction.LOW_VARIATION, None, False),
    ("MJ::JOB::high_variation::1::7af96d1a::SOLO", TaskAction.HIGH_VARIATION, None, False),
    ("MJ::JOB::reroll::0::898416ec::SOLO", TaskAction.REROLL, None, False),
    ("MJ::JOB::pan_left::1::7af96d1a::SOLO", TaskAction.PAN, None, False),
    ("MJ::Outpaint::50::1::7af96d1a::SOLO", TaskAction.ZOOM, None, False),
    ("MJ::CustomZoom::439f8670-52e8-4f57-afaa-fa08f6d6c751", TaskAction.CUSTOM_ZOOM, None, True),
    ("MJ::Inpaint::1::da2b1fda::SOLO", TaskAction.INPAINT, None, True),
    ("MJ::Job::PicReader::3", TaskAction.IMAGINE, None, True),
    ("MJ::Job::PromptAnalyzer::5", TaskAction.IMAGINE, None, True),
    ("MJ::Picread::Retry", TaskAction.DESCRIBE, None, False),
    ("MJ::BOOKMARK::da2b1fda", TaskAction.ACTION, None, False),
    ("MJ::JOB::animate_high::1::da2b1fda::SOLO", TaskAction.ACTION, None, False),
])
def test_button_meaning_names_the_action_a_custom_id_submits(custom_id: str, action: TaskAction, index: int | None,
                                                             modal: bool) -> None:
    meaning = button_meaning(custom_id)
    assert (meaning.action, meaning.index, meaning.needs_modal) == (action, index, modal)


@pytest.mark.parametrize("custom_id", [
    "", "MJ", "MJ::JOB", "XX::JOB::upsample::1::h", "MJ::JOB::upsample::5::h", "MJ::JOB::upsample::x::h",
    "MJ::JOB::variation::0::h", "MJ::JOB::upsample::1::h\n", "MJ::::upsample::1", "MJ::JOB::upsample:1::h",
    "MJ::JOB::upsample::1::" + "h" * 90, "MJ::Job::PicReader::all", "mj::JOB::upsample::1::h",
])
def test_a_custom_id_that_is_no_button_id_is_refused(custom_id: str) -> None:
    with pytest.raises(BadRequest) as err:
        button_meaning(custom_id)
    assert err.value.param == "customId" and err.value.status == 400


@pytest.mark.parametrize("result", ["grid", "upscaled", "describe", "shorten"])
def test_every_button_the_fake_upstream_offers_has_a_meaning(result: str) -> None:
    buttons = midjourney_wire.buttons_for(result, "3dbbd469-36af-4a0f-8f02-df6c579e7011")
    meanings = {b["customId"]: button_meaning(b["customId"]) for b in buttons if "::all" not in b["customId"]}
    assert len(meanings) >= 4
    if result == "grid":
        assert [m.action for m in meanings.values()].count(TaskAction.UPSCALE) == 4


def test_check_button_accepts_only_the_tasks_own_buttons() -> None:
    buttons = [Button("MJ::JOB::upsample::1::aaa", label="U1"), Button("MJ::JOB::reroll::0::aaa::SOLO", "🔄")]
    assert check_button("MJ::JOB::upsample::1::aaa", buttons).index == 1
    with pytest.raises(BadRequest, match="not one of this task's buttons"):
        check_button("MJ::JOB::upsample::1::bbb", buttons)
    with pytest.raises(BadRequest, match="button id"):
        check_button("U1", buttons)


def test_the_submit_answer_shape() -> None:
    answer = submitted("1712345678901", properties={"discordInstanceId": "1"})
    assert answer.to_json() == {"code": 1, "description": "提交成功", "result": "1712345678901",
                                "properties": {"discordInstanceId": "1"}}
    assert answer.accepted
    assert submitted("7", code=ReturnCode.IN_QUEUE).to_json()["description"] == "排队中"
    invalid = refusal(BadRequest("prompt is required", param="prompt"))
    assert (invalid.to_json(), invalid.accepted) == ({"code": 4, "description": "prompt is required",
                                                       "result": None, "properties": {}}, False)
    assert refusal(NotFound("no such task")).code == 3


@pytest.mark.parametrize(("body", "expected"), [
    ({"code": 1, "description": "提交成功", "result": "14001929738841620", "properties": {"discordInstanceId": "1"}},
     SubmitAnswer(1, "提交成功", "14001929738841620", {"discordInstanceId": "1"})),
    ({"code": 22, "description": "排队中，前面还有1个任务", "result": "0741798445574458",
      "properties": {"numberOfQueues": 1}}, SubmitAnswer(22, "排队中，前面还有1个任务", "0741798445574458",
                                                          {"numberOfQueues": 1})),
    ({"code": 24, "description": "可能包含敏感词", "properties": {"promptEn": "nude body", "bannedWord": "nude"}},
     SubmitAnswer(24, "可能包含敏感词", None, {"promptEn": "nude body", "bannedWord": "nude"})),
    ({"code": 1, "description": "提交成功", "properties": {}, "result": 1320098173412546},
     SubmitAnswer(1, "提交成功", "1320098173412546", {})),
    ({"code": "21", "description": None, "result": "", "properties": []}, SubmitAnswer(21, "", None, {})),
    ({"code": True, "description": "x"}, None),
    ({"description": "no code"}, None),
    ([{"code": 1}], None),
    (None, None),
])
def test_submit_answer_from_reads_an_upstreams_answer(body: JsonValue, expected: SubmitAnswer | None) -> None:
    assert submit_answer_from(body) == expected


UPSTREAM_TASK: JsonValue = {
    "id": "14001929738841620", "action": "IMAGINE", "status": "SUCCESS", "prompt": "猫猫", "promptEn": "Cat",
    "description": "/imagine 猫猫", "state": "mine", "submitTime": 1689231405854, "startTime": 1689231442755,
    "finishTime": 1689231544312, "progress": "100%", "imageUrl": "https://cdn.discordapp.com/a/x.png",
    "failReason": None, "properties": {"finalPrompt": "Cat"}, "botType": "MID_JOURNEY",
    "buttons": [{"customId": "MJ::JOB::upsample::1::85a4b4c1", "emoji": "", "label": "U1", "type": 2, "style": 2},
                {"customId": "MJ::JOB::reroll::0::85a4b4c1::SOLO", "emoji": "🔄", "label": "", "type": 2,
                 "style": 3}],
}


def test_an_upstream_task_reads_into_the_protocols_shape() -> None:
    task = task_from_upstream(UPSTREAM_TASK)
    assert task is not None
    assert (task.id, task.action, task.status, task.progress) == ("14001929738841620", TaskAction.IMAGINE,
                                                                  TaskStatus.SUCCESS, "100%")
    assert (task.prompt, task.prompt_en, task.state, task.image_url) == ("猫猫", "Cat", "mine",
                                                                         "https://cdn.discordapp.com/a/x.png")
    assert (task.submit_time, task.start_time, task.finish_time) == (1689231405854, 1689231442755, 1689231544312)
    assert task.buttons[1] == Button("MJ::JOB::reroll::0::85a4b4c1::SOLO", "🔄", "", 2, 3)
    out = task.to_json()
    assert list(out) == TASK_FIELDS
    assert out["buttons"] == [{"customId": "MJ::JOB::upsample::1::85a4b4c1", "emoji": "", "label": "U1",
                               "type": 2, "style": 2}, {"customId": "MJ::JOB::reroll::0::85a4b4c1::SOLO",
                                                        "emoji": "🔄", "label": "", "type": 2, "style": 3}]
    assert task_from_upstream(out) == task


@pytest.mark.parametrize(("changes", "field", "expected"), [
    ({"status": None}, "status", TaskStatus.NOT_START),
    ({"status": ""}, "status", TaskStatus.NOT_START),
    ({"status": "QUEUED"}, "status", TaskStatus.IN_PROGRESS),
    ({"status": 5}, "status", TaskStatus.IN_PROGRESS),
    ({"action": "OUTPAINT"}, "action", TaskAction.ZOOM),
    ({"action": "BLEAND"}, "action", TaskAction.BLEND),
    ({"action": "VIDEO"}, "action", TaskAction.ACTION),
    ({"action": None}, "action", TaskAction.ACTION),
    ({"id": 1320098173412546}, "id", "1320098173412546"),
    ({"submitTime": "1689231405854"}, "submit_time", 1689231405854),
    ({"submitTime": 1689231405854.7}, "submit_time", 1689231405854),
    ({"submitTime": -1}, "submit_time", None),
    ({"submitTime": True}, "submit_time", None),
    ({"submitTime": "soon"}, "submit_time", None),
    ({"startTime": 10**15}, "start_time", None),
    ({"imageUrl": ""}, "image_url", None),
    ({"imageUrl": 7}, "image_url", None),
    ({"failReason": ""}, "fail_reason", None),
    ({"properties": ["x"]}, "properties", {}),
    ({"buttons": [{"label": "no id"}, "junk", {"customId": "MJ::x::y", "type": "2", "emoji": 1}]}, "buttons",
     (Button("MJ::x::y", "", "", 2, 2),)),
    ({"buttons": {"customId": "MJ::x::y"}}, "buttons", ()),
])
def test_malformed_task_fields_read_as_absent_or_as_the_nearest_meaning(changes: dict[str, JsonValue], field: str,
                                                                        expected: object) -> None:
    assert isinstance(UPSTREAM_TASK, dict)
    task = task_from_upstream({**UPSTREAM_TASK, **changes})
    assert task is not None and getattr(task, field) == expected


@pytest.mark.parametrize(("value", "status", "expected"), [
    ("45%", TaskStatus.IN_PROGRESS, "45%"), ("45", TaskStatus.IN_PROGRESS, "45%"), (45, TaskStatus.IN_PROGRESS, "45%"),
    (45.9, TaskStatus.IN_PROGRESS, "45%"), (" 7 % ", TaskStatus.IN_PROGRESS, "7%"),
    (150, TaskStatus.IN_PROGRESS, "100%"), (-3, TaskStatus.IN_PROGRESS, "0%"), (None, TaskStatus.NOT_START, "0%"),
    ("", TaskStatus.FAILURE, "0%"), ("nan", TaskStatus.IN_PROGRESS, "0%"), (True, TaskStatus.IN_PROGRESS, "0%"),
    (None, TaskStatus.SUCCESS, "100%"), ("10%", TaskStatus.SUCCESS, "100%"), ("inf", TaskStatus.SUBMITTED, "0%"),
])
def test_progress_reads_as_a_percentage_from_0_to_100(value: JsonValue, status: TaskStatus, expected: str) -> None:
    assert progress_text(value, status) == expected


def test_no_id_or_no_object_is_no_task() -> None:
    assert task_from_upstream({"status": "SUCCESS"}) is None
    assert task_from_upstream({"id": ""}) is None
    assert task_from_upstream("14001929738841620") is None
    assert [t.id for t in tasks_from_upstream([UPSTREAM_TASK, None, {"id": 5}, "x"])] == ["14001929738841620", "5"]
    assert tasks_from_upstream({"id": "1"}) == []


def test_the_fake_upstreams_tasks_read_as_they_progress() -> None:
    task = midjourney_wire.MockTask(id="17000000000001", action="IMAGINE", result="grid", outcome="success",
                                    mode="relax", prompt="fox", prompt_en="fox")
    seen = []
    for _ in range(6):
        read = task_from_upstream(orjson.loads(orjson.dumps(task.json("http://up"))))
        assert read is not None
        seen.append((read.status, read.progress, len(read.buttons)))
        task.manual_steps += 1
        task.settle(None, "boom")
    assert seen == [(TaskStatus.NOT_START, "0%", 0), (TaskStatus.SUBMITTED, "0%", 0),
                    (TaskStatus.IN_PROGRESS, "25%", 0), (TaskStatus.IN_PROGRESS, "50%", 0),
                    (TaskStatus.IN_PROGRESS, "75%", 0), (TaskStatus.SUCCESS, "100%", 9)]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*TASK_FIELDS, "botType", "customId"]), JSON, max_size=12) | JSON)
def test_any_upstream_json_reads_as_a_task_or_none_without_raising(value: JsonValue) -> None:
    task = task_from_upstream(value)
    if task is not None:
        orjson.dumps(task.to_json())
        assert task.progress.endswith("%") and 0 <= int(task.progress[:-1]) <= 100
    answer = submit_answer_from(value)
    if answer is not None:
        orjson.dumps(answer.to_json())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120) | st.builds(lambda parts: "::".join(["MJ", *parts]),
                                          st.lists(st.text(max_size=12), min_size=1, max_size=6)))
def test_any_custom_id_means_something_or_is_refused_as_a_bad_request(custom_id: str) -> None:
    try:
        meaning = button_meaning(custom_id)
    except BadRequest as err:
        assert err.param == "customId"
    else:
        assert meaning.action in TaskAction and (meaning.index is None or 1 <= meaning.index <= 4)
