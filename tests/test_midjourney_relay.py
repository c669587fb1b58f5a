"""MidJourney through relaygate as midjourney-proxy clients use it (plain HTTP, mj-api-secret): imagine → poll →
U1 → poll, every other submit, modals, modes reaching the upstream and picking the price, the query routes
answered from relaygate's store, and keys that see only their own tasks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import MJ_UPSTREAM_SECRET, Relaygate
from tests.midjourney_env import MODE_SHARE, PRICES, MjTenant, mj_relaygate, mj_tenant, quota
from tests.upstreams.midjourney_mock import MockMidjourney
from tests.upstreams.midjourney_wire import png_data_url

PNG_A, PNG_B = png_data_url("a"), png_data_url("b")


@pytest.fixture(scope="module")
def rg(tmp_path_factory: pytest.TempPathFactory, midjourney_upstream: MockMidjourney) -> Iterator[Relaygate]:
    gate = mj_relaygate(tmp_path_factory.mktemp("mj-relay"), midjourney_upstream)
    yield gate
    gate.close()


def _upstream_body(mj: MockMidjourney, route: str) -> dict[str, Any]:
    body: dict[str, Any] = mj.calls(route)[-1].json
    return body


def test_imagine_poll_upscale_poll_as_a_midjourney_proxy_client(t: MjTenant, mj: MockMidjourney) -> None:
    answer = t.ok("submit/imagine", {"prompt": "a red fox", "state": "s-1"})
    assert (answer["code"], answer["description"]) == (1, "提交成功")
    task_id = answer["result"]
    call = mj.calls("submit/imagine")[-1]
    assert call.headers["mj-api-secret"] != t.key  # the channel's secret went upstream, not the client's key
    task = t.finished(task_id)
    assert (task["id"], task["action"], task["status"], task["progress"]) == (task_id, "IMAGINE", "SUCCESS", "100%")
    assert (task["prompt"], task["state"], task["failReason"]) == ("a red fox", "s-1", None)
    assert task["submitTime"] <= task["startTime"] <= task["finishTime"]
    assert task["imageUrl"].startswith(t.rg.url + f"/mj/image/{task_id}?")
    assert [b["label"] for b in task["buttons"]][:4] == ["U1", "U2", "U3", "U4"]
    assert task_id not in mj.tasks  # relaygate's id is its own

    u1 = task["buttons"][0]["customId"]
    upscale = t.ok("submit/action", {"taskId": task_id, "customId": u1})
    assert upscale["code"] == 1 and upscale["result"] not in (task_id, None)
    parent = next(i for i, m in mj.tasks.items() if m.action == "IMAGINE")
    assert _upstream_body(mj, "submit/action") == {"taskId": parent, "customId": u1}
    done = t.finished(upscale["result"])
    assert (done["action"], done["status"], done["prompt"]) == ("UPSCALE", "SUCCESS", "a red fox")
    assert any(b["label"] == "Vary (Region)" for b in done["buttons"])
    # clients polled relaygate; relaygate asked the upstream in batches, never once per client poll
    assert mj.fetch_calls == 0 and mj.list_calls > 0
    costs = sorted(row["cost"] for row in t.logs())
    assert costs == sorted([quota(PRICES["imagine"]), quota(PRICES["upscale"])])


@pytest.mark.parametrize(("route", "body", "action", "upstream"), [
    ("submit/blend", {"base64Array": [PNG_A, PNG_B], "dimensions": "SQUARE"}, "BLEND",
     {"base64Array": [PNG_A, PNG_B], "dimensions": "SQUARE"}),
    ("submit/describe", {"base64": PNG_A, "botType": "NIJI_JOURNEY"}, "DESCRIBE",
     {"base64": PNG_A, "botType": "NIJI_JOURNEY"}),
    ("submit/shorten", {"prompt": "a very long prompt about a fox"}, "SHORTEN",
     {"prompt": "a very long prompt about a fox"}),
    ("insight-face/swap", {"sourceBase64": PNG_A, "targetBase64": PNG_B}, "SWAP_FACE",
     {"sourceBase64": PNG_A, "targetBase64": PNG_B}),
])
def test_every_other_submit_is_relayed_recorded_and_followed(t: MjTenant, mj: MockMidjourney, route: str,
                                                             body: dict[str, Any], action: str,
                                                             upstream: dict[str, Any]) -> None:
    extra = {"notifyHook": "https://hooks.example/mj", "accountFilter": {"modes": ["FAST"]}, "state": "x"}
    answer = t.ok(route, {**body, **extra})
    # only the protocol's own fields go upstream: never the hook (relaygate calls it), nor unknown fields
    assert _upstream_body(mj, route) == {**upstream, "state": "x"}
    task = t.finished(answer["result"])
    assert (task["action"], task["status"], task["state"]) == (action, "SUCCESS", "x")
    assert len(t.logs()) == 1 and t.logs()[0]["cost"] > 0


def test_a_button_that_opens_a_modal_waits_for_submit_modal(t: MjTenant, mj: MockMidjourney) -> None:
    grid = t.finished(t.ok("submit/imagine", {"prompt": "a red fox"})["result"])
    upscaled = t.finished(t.ok("submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
                          ["result"])
    inpaint = next(b["customId"] for b in upscaled["buttons"] if b["label"] == "Vary (Region)")
    opened = t.ok("submit/action", {"taskId": upscaled["id"], "customId": inpaint})
    assert opened["code"] == 21
    waiting = t.task(opened["result"])
    assert (waiting["status"], waiting["action"]) == ("MODAL", "INPAINT")
    without_mask = t.submit("submit/modal", {"taskId": waiting["id"], "prompt": "a hat"})
    assert (without_mask.status_code, without_mask.json()["code"]) == (400, 4)
    confirmed = t.ok("submit/modal", {"taskId": waiting["id"], "prompt": "a hat", "maskBase64": PNG_B})
    assert confirmed["result"] == waiting["id"]
    done = t.finished(waiting["id"])
    assert (done["status"], done["prompt"]) == ("SUCCESS", "a hat")
    again = t.submit("submit/modal", {"taskId": waiting["id"], "prompt": "a hat", "maskBase64": PNG_B})
    assert (again.status_code, again.json()["code"]) == (400, 4)  # it no longer waits for one


@pytest.mark.parametrize("mode", ["fast", "relax", "turbo"])
def test_the_path_prefix_reaches_the_upstream_and_picks_the_price(t: MjTenant, mj: MockMidjourney,
                                                                  mode: str) -> None:
    answer = t.ok("submit/imagine", {"prompt": "a fox"}, prefix=f"/mj-{mode}")
    call = mj.calls("submit/imagine")[-1]
    assert (call.path, call.mode) == (f"/mj-{mode}/mj/submit/imagine", mode)
    task = t.finished(answer["result"])
    upscale = t.ok("submit/action", {"taskId": task["id"], "customId": task["buttons"][0]["customId"]},
                   prefix=f"/mj-{mode}")
    assert mj.calls("submit/action")[-1].mode == mode and upscale["code"] == 1
    expected = [quota(PRICES["upscale"] * MODE_SHARE[mode]), quota(PRICES["imagine"] * MODE_SHARE[mode])]
    assert [row["cost"] for row in t.logs()] == expected
    assert t.spent() == (sum(expected), sum(expected))


def test_without_a_prefix_the_key_default_mode_applies_else_fast(rg: Relaygate, mj: MockMidjourney) -> None:
    relaxed = mj_tenant(rg, mj, key_fields={"mj_mode": "relax"})
    plain = mj_tenant(rg, mj)
    relaxed.ok("submit/imagine", {"prompt": "a fox"})
    assert mj.calls("submit/imagine")[-1].path == "/mj-relax/mj/submit/imagine"
    plain.ok("submit/imagine", {"prompt": "a fox"})
    assert mj.calls("submit/imagine")[-1].path == "/mj-fast/mj/submit/imagine"
    relaxed.ok("submit/imagine", {"prompt": "a fox"}, prefix="/mj-turbo")  # the path wins over the key
    assert mj.calls("submit/imagine")[-1].mode == "turbo"
    assert [r["cost"] for r in relaxed.logs()] == [quota(PRICES["imagine"] * 2), quota(PRICES["imagine"] * 0.5)]
    assert [r["cost"] for r in plain.logs()] == [quota(PRICES["imagine"])]
    patched = rg.ok("PATCH", f"/api/keys/{plain.key_id}", {"mj_mode": "turbo"})
    assert patched["mj_mode"] == "turbo"


def test_a_channel_without_mode_prefixes_is_called_under_plain_mj(rg: Relaygate, mj: MockMidjourney) -> None:
    t = mj_tenant(rg, mj, options={"mode_prefix": False})
    t.ok("submit/imagine", {"prompt": "a fox"}, prefix="/mj-relax")
    call = mj.calls("submit/imagine")[-1]
    assert (call.path, call.mode) == ("/mj/submit/imagine", None)
    assert t.logs()[0]["cost"] == quota(PRICES["imagine"] * 0.5)  # still priced as relax


def test_keys_are_read_from_each_header_midjourney_proxy_clients_use(t: MjTenant, mj: MockMidjourney) -> None:
    body = {"prompt": "a fox"}
    for headers in ({"Authorization": f"Bearer {t.key}"}, {"mj-api-secret": t.key},
                    {"Authorization": "Bearer midjourney-proxy", "mj-api-secret": t.key},
                    {"Authorization": "midjourney-proxy", "mj-api-secret": t.key},
                    {"mj-api-secret": f"Bearer {t.key}"}):
        resp = t.rg.http.post("/mj/submit/imagine", json=body, headers=headers)
        assert resp.status_code == 200 and resp.json()["code"] == 1, (headers, resp.text)
    for headers in ({}, {"mj-api-secret": "sk-wrong"}, {"Authorization": "Bearer sk-wrong", "mj-api-secret": t.key}):
        resp = t.rg.http.post("/mj/submit/imagine", json=body, headers=headers)
        assert resp.status_code == 401, headers
        assert resp.json()["error"]["code"] == "invalid_api_key" and resp.headers["X-Request-Id"].startswith("req_")
    for path in ("/mj/task/1/fetch", "/mj/task/1/image-seed"):
        resp = t.rg.http.get(path)
        assert resp.status_code == 401 and set(resp.json()["error"]) == {"message", "type", "param", "code"}
    assert len(mj.calls("submit/imagine")) == 5


def test_key_restrictions_quota_and_rate_limits_apply_as_for_chat(rg: Relaygate, mj: MockMidjourney) -> None:
    body = {"prompt": "a fox"}
    before = len(mj.calls("submit/imagine"))
    chat_only = mj_tenant(rg, mj, key_fields={"allowed_models": ["gpt-4o"]})
    refused = chat_only.submit("submit/imagine", body)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "model_not_allowed")
    poor = mj_tenant(rg, mj, balance=10)  # an imagine costs 10,000
    refused = poor.submit("submit/imagine", body)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "insufficient_token_quota")
    assert poor.spent() == (0, 0)
    limited = mj_tenant(rg, mj, key_fields={"rpm": 1})
    task_id = limited.ok("submit/imagine", body)["result"]
    refused = limited.submit("submit/imagine", body)
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "rate_limit_exceeded")
    assert int(refused.headers["Retry-After"]) >= 1
    assert all(limited.fetch(task_id).status_code == 200 for _ in range(3))  # polling counts against no RPM
    fenced = mj_tenant(rg, mj)
    rg.ok("PATCH", f"/api/keys/{fenced.key_id}", {"allowed_ips": ["10.0.0.0/8"]})
    rg.wait_for(lambda: fenced.fetch("0").status_code == 403)
    for resp in (fenced.submit("submit/imagine", body), fenced.fetch("0")):
        assert (resp.status_code, resp.json()["error"]["code"]) == (403, "ip_not_allowed")
        assert set(resp.json()["error"]) == {"message", "type", "param", "code"}
    assert len(mj.calls("submit/imagine")) == before + 1  # only the rate-limited key's first submission went


def test_a_key_sees_only_its_own_tasks(rg: Relaygate, t: MjTenant, mj: MockMidjourney) -> None:
    mine = t.finished(t.ok("submit/imagine", {"prompt": "a fox"})["result"])
    other = mj_tenant(rg, mj)
    theirs = other.ok("submit/imagine", {"prompt": "a cat"})["result"]
    for task_id in (theirs, "1234567890"):
        resp = t.fetch(task_id)
        assert (resp.status_code, resp.json()["code"]) == (404, 3)
        seed = rg.http.get(f"/mj/task/{task_id}/image-seed", headers=t.headers)
        assert (seed.status_code, seed.json()["code"]) == (404, 3)
    listed = rg.http.post("/mj/task/list-by-condition", json={"ids": [theirs, mine["id"], "42"]}, headers=t.headers)
    assert [task["id"] for task in listed.json()] == [mine["id"]]
    before = len(mj.calls("submit/action"))
    stolen = other.submit("submit/action", {"taskId": mine["id"], "customId": mine["buttons"][0]["customId"]})
    assert (stolen.status_code, stolen.json()["code"]) == (400, 3)  # as an unknown id in a body reads
    assert len(mj.calls("submit/action")) == before  # nothing went upstream


def test_queries_are_served_under_every_prefix_and_the_seed_is_asked_once(t: MjTenant, mj: MockMidjourney) -> None:
    task_id = t.ok("submit/imagine", {"prompt": "a fox"})["result"]
    early = t.rg.http.get(f"/mj/task/{task_id}/image-seed", headers=t.headers)
    assert (early.status_code, early.json()["code"]) == (400, 4)  # no seed before the image exists
    t.finished(task_id)
    for prefix in ("", "/mj-fast", "/mj-relax", "/mj-turbo"):
        fetched = t.rg.http.get(f"{prefix}/mj/task/{task_id}/fetch", headers=t.headers)
        assert fetched.status_code == 200 and fetched.json()["id"] == task_id
        listed = t.rg.http.post(f"{prefix}/mj/task/list-by-condition", json={"ids": [task_id]}, headers=t.headers)
        assert [x["id"] for x in listed.json()] == [task_id]
        seed = t.rg.http.get(f"{prefix}/mj/task/{task_id}/image-seed", headers=t.headers).json()
        assert seed["code"] == 1 and seed["result"].isdigit()
    assert len(mj.calls("image-seed")) == 1
    assert t.rg.http.get(f"/mj-slow/mj/task/{task_id}/fetch", headers=t.headers).status_code == 404
    empty = t.rg.http.post("/mj/task/list-by-condition", json={}, headers=t.headers)
    assert (empty.status_code, empty.json()) == (200, [])


def test_the_upstream_host_never_reaches_the_client(t: MjTenant, mj: MockMidjourney) -> None:
    task = t.finished(t.ok("submit/imagine", {"prompt": "a fox"})["result"])
    raw = t.fetch(task["id"]).text
    assert mj.base_url not in raw and f"127.0.0.1:{mj.port}" not in raw
    image = httpx.get(task["imageUrl"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_a_failing_channel_is_skipped_and_actions_follow_the_task_to_its_own(rg: Relaygate, t: MjTenant,
                                                                           mj: MockMidjourney) -> None:
    broken = rg.ok("POST", "/api/channels", {
        "name": f"{t.group}-broken", "type": "midjourney", "base_url": mj.base_url, "credentials": ["wrong-secret"],
        "models": ["midjourney"], "groups": [t.group], "priority": 10})
    assert rg.ok("POST", f"/api/channels/{broken['id']}/test")["ok"] is False
    assert rg.ok("POST", f"/api/channels/{t.channel_id}/test")["ok"] is True
    task = t.finished(t.ok("submit/imagine", {"prompt": "a fox"})["result"])
    # the broken channel, first in priority, answered 401: tried past, as for any channel type
    assert [c.headers["mj-api-secret"] for c in mj.calls("submit/imagine")] == ["wrong-secret", MJ_UPSTREAM_SECRET]
    t.ok("submit/action", {"taskId": task["id"], "customId": task["buttons"][0]["customId"]})
    # pinned to the channel that holds the task: the broken one, though first in priority, is not tried
    assert [c.headers["mj-api-secret"] for c in mj.calls("submit/action")] == [MJ_UPSTREAM_SECRET]
    rg.ok("DELETE", f"/api/channels/{broken['id']}")
