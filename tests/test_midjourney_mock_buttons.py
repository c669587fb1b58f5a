"""The fake midjourney-proxy upstream's buttons: submit/action on a finished task's customIds, the modal that
inpaint, custom zoom and remix wait for, and what describe, shorten, blend and face swap produce."""

from __future__ import annotations

from collections.abc import Iterator

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


def test_upscale_then_its_buttons_offer_the_upscaled_actions(mj: MockMidjourney, http: httpx.Client) -> None:
    grid = finished(mj, http, body={"prompt": "fox"})
    answer = submit(http, "submit/action", {"taskId": grid["id"], "customId": grid["buttons"][1]["customId"]},
                    "/mj-relax")
    assert answer["code"] == 1 and answer["result"] != grid["id"]
    mj.advance(answer["result"], steps=10)
    upscaled = fetch(http, answer["result"])
    assert (upscaled["action"], upscaled["status"], upscaled["prompt"]) == ("UPSCALE", "SUCCESS", "fox")
    assert upscaled["description"] == f"/up {grid['id']} U2"
    assert upscaled["imageUrl"].endswith("/upscaled.png")
    kinds = [b["customId"].split("::")[1:3] for b in upscaled["buttons"]]
    assert ["JOB", "low_variation"] in kinds and ["Inpaint", "1"] in kinds and ["CustomZoom", upscaled["buttons"][
        7]["customId"].split("::")[2]] in kinds
    assert any(b["customId"].startswith("MJ::JOB::pan_left::1::") for b in upscaled["buttons"])
    assert mj.tasks[answer["result"]].mode == "relax"


@pytest.mark.parametrize(("index", "action"), [(5, "REROLL"), (6, "VARIATION")])
def test_reroll_and_variation_buttons_make_new_grids(mj: MockMidjourney, http: httpx.Client, index: int,
                                                     action: str) -> None:
    grid = finished(mj, http)
    task_id = submit(http, "submit/action", {"taskId": grid["id"],
                                             "customId": grid["buttons"][index - 1]["customId"]})["result"]
    mj.advance(task_id, steps=10)
    task = fetch(http, task_id)
    assert (task["action"], task["status"], len(task["buttons"])) == (action, "SUCCESS", 9)


def test_an_action_needs_a_finished_task_and_one_of_its_own_buttons(mj: MockMidjourney,
                                                                   http: httpx.Client) -> None:
    other = finished(mj, http)
    running = submit(http, "submit/imagine", {"prompt": "fox"})["result"]
    refused = submit(http, "submit/action", {"taskId": running, "customId": other["buttons"][0]["customId"]})
    assert (refused["code"], refused["description"]) == (4, "关联任务状态错误")
    mj.advance(running, steps=10)
    refused = submit(http, "submit/action", {"taskId": running, "customId": other["buttons"][0]["customId"]})
    assert (refused["code"], refused["description"]) == (4, "customId不属于关联任务")
    resp = http.post("/mj/submit/action", json={"taskId": "404404", "customId": other["buttons"][0]["customId"]})
    assert resp.status_code == 404 and resp.json()["code"] == 3
    assert resp.json()["description"] == "关联任务不存在或已失效"


def test_inpaint_waits_in_a_modal_until_submit_modal_confirms_it_with_a_mask(
        mj: MockMidjourney, http: httpx.Client) -> None:
    grid = finished(mj, http)
    upscale = submit(http, "submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
    mj.advance(upscale["result"], steps=10)
    upscaled = fetch(http, upscale["result"])
    inpaint = next(b["customId"] for b in upscaled["buttons"] if b["customId"].startswith("MJ::Inpaint::"))
    waiting = submit(http, "submit/action", {"taskId": upscaled["id"], "customId": inpaint})
    assert (waiting["code"], waiting["description"]) == (21, "Waiting for window confirm")
    assert waiting["properties"] == {"finalPrompt": "a red fox", "remix": True}
    mj.advance(waiting["result"], steps=10)
    modal = fetch(http, waiting["result"])
    assert (modal["status"], modal["action"], modal["progress"]) == ("MODAL", "INPAINT", None)
    no_mask = submit(http, "submit/modal", {"taskId": modal["id"], "prompt": "a blue hat"})
    assert (no_mask["code"], no_mask["description"]) == (4, "maskBase64不能为空")
    bad_mask = submit(http, "submit/modal", {"taskId": modal["id"], "prompt": "a hat", "maskBase64": "zz"})
    assert (bad_mask["code"], bad_mask["description"]) == (4, "base64格式错误")
    confirmed = submit(http, "submit/modal", {"taskId": modal["id"], "prompt": "a blue hat", "maskBase64": PNG_A},
                       "/mj-turbo")
    assert (confirmed["code"], confirmed["result"]) == (1, modal["id"])
    assert fetch(http, modal["id"])["status"] == "NOT_START"
    mj.advance(modal["id"], steps=10)
    done = fetch(http, modal["id"])
    assert (done["status"], done["prompt"], len(done["buttons"])) == ("SUCCESS", "a blue hat", 9)
    again = submit(http, "submit/modal", {"taskId": modal["id"], "prompt": "x", "maskBase64": PNG_A})
    assert (again["code"], again["description"]) == (4, "关联任务状态错误")
    resp = http.post("/mj/submit/modal", json={"taskId": "404404", "prompt": "x"})
    assert resp.status_code == 404 and resp.json()["code"] == 3


def test_custom_zoom_and_remix_actions_wait_for_a_modal_too(mj: MockMidjourney, http: httpx.Client) -> None:
    grid = finished(mj, http)
    upscale = submit(http, "submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
    mj.advance(upscale["result"], steps=10)
    upscaled = fetch(http, upscale["result"])
    zoom = next(b["customId"] for b in upscaled["buttons"] if b["customId"].startswith("MJ::CustomZoom::"))
    assert submit(http, "submit/action", {"taskId": upscaled["id"], "customId": zoom})["code"] == 21
    pan = next(b["customId"] for b in upscaled["buttons"] if "pan_up" in b["customId"])
    assert submit(http, "submit/action", {"taskId": upscaled["id"], "customId": pan})["code"] == 1
    mj.remix = True
    waiting = submit(http, "submit/action", {"taskId": upscaled["id"], "customId": pan})
    assert waiting["code"] == 21 and fetch(http, waiting["result"])["status"] == "MODAL"
    assert submit(http, "submit/modal", {"taskId": waiting["result"], "prompt": "fox, wider"})["code"] == 1


def test_bookmark_answers_with_the_task_itself_and_starts_nothing(mj: MockMidjourney, http: httpx.Client) -> None:
    grid = finished(mj, http)
    upscale = submit(http, "submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
    mj.advance(upscale["result"], steps=10)
    heart = fetch(http, upscale["result"])["buttons"][-1]
    assert heart["customId"].startswith("MJ::BOOKMARK::")
    count = len(mj.tasks)
    answer = submit(http, "submit/action", {"taskId": upscale["result"], "customId": heart["customId"]})
    assert (answer["code"], answer["result"], len(mj.tasks)) == (1, upscale["result"], count)


def test_describe_reads_four_prompts_that_picreader_buttons_draw_after_a_modal(
        mj: MockMidjourney, http: httpx.Client) -> None:
    described = finished(mj, http, "submit/describe", {"base64": PNG_A})
    assert (described["action"], described["status"]) == ("DESCRIBE", "SUCCESS")
    assert described["description"] == f"/describe {described['id']}.png"
    assert described["imageUrl"].endswith("/input.png") and httpx.get(described["imageUrl"]).status_code == 200
    prompts = described["properties"]["finalPrompt"].split("\n\n")
    assert len(prompts) == 4 and prompts[0].endswith("a mock picture, reading 1 --ar 1:1")
    assert [b["customId"] for b in described["buttons"]][:4] == [f"MJ::Job::PicReader::{i}" for i in range(1, 5)]
    waiting = submit(http, "submit/action", {"taskId": described["id"], "customId": "MJ::Job::PicReader::2"})
    assert waiting["code"] == 21
    assert waiting["properties"]["finalPrompt"] == "a mock picture, reading 2 --ar 1:1"


def test_shorten_blend_and_swap_succeed_with_what_each_produces(mj: MockMidjourney, http: httpx.Client) -> None:
    shortened = finished(mj, http, "submit/shorten", {"prompt": "a long and winding prompt about foxes"})
    assert shortened["action"] == "SHORTEN" and shortened["imageUrl"] is None
    assert shortened["properties"]["finalPrompt"].startswith("## Important tokens")
    assert len(shortened["buttons"]) == 5
    blended = finished(mj, http, "submit/blend", {"base64Array": [PNG_A, PNG_B], "dimensions": "PORTRAIT"})
    assert (blended["action"], blended["description"]) == ("BLEND", f"/blend {blended['id']} 2")
    assert len(blended["buttons"]) == 9
    swapped = finished(mj, http, "insight-face/swap", {"sourceBase64": PNG_A, "targetBase64": PNG_B})
    assert (swapped["action"], swapped["status"], swapped["buttons"]) == ("SWAP_FACE", "SUCCESS", [])
    assert httpx.get(swapped["imageUrl"]).content.startswith(b"\x89PNG")
