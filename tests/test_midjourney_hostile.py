"""Hostile and broken MidJourney requests: each is answered code 4 (or 3 for what is not there, 413 for a body over
the limit) with a description saying what to fix — never a 5xx — and nothing of it goes upstream."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Relaygate
from tests.midjourney_env import MjTenant, mj_relaygate, mj_tenant
from tests.upstreams.midjourney_mock import MockMidjourney
from tests.upstreams.midjourney_wire import png_data_url

PNG = png_data_url("a")
TEXT_AS_IMAGE = "data:image/png;base64," + base64.b64encode(b"not an image at all").decode()
BUTTON = "MJ::JOB::upsample::1::5f2c1b1e-1111-4a4a-8b8b-000000000000"


@pytest.fixture(scope="module")
def rg(tmp_path_factory: pytest.TempPathFactory, midjourney_upstream: MockMidjourney) -> Iterator[Relaygate]:
    gate = mj_relaygate(tmp_path_factory.mktemp("mj-hostile"), midjourney_upstream,
                        RELAYGATE_MAX_BODY_BYTES=str(64 * 1024))
    yield gate
    gate.close()


@pytest.fixture(scope="module")
def t(rg: Relaygate, midjourney_upstream: MockMidjourney) -> MjTenant:
    return mj_tenant(rg, midjourney_upstream)


@pytest.fixture
def mj(midjourney: MockMidjourney) -> MockMidjourney:
    midjourney.step_seconds = 0.01
    return midjourney


BODIES: list[tuple[str, Any]] = [
    ("submit/imagine", {}),
    ("submit/imagine", {"prompt": 5}),
    ("submit/imagine", {"prompt": "   "}),
    ("submit/imagine", {"prompt": "x" * 6001}),
    ("submit/imagine", {"prompt": "a fox", "base64Array": PNG}),
    ("submit/imagine", {"prompt": "a fox", "base64Array": ["data:image/png;base64,!!!!"]}),
    ("submit/imagine", {"prompt": "a fox", "base64Array": [TEXT_AS_IMAGE]}),
    ("submit/imagine", {"prompt": "a fox", "base64Array": [PNG] * 6}),
    ("submit/imagine", {"prompt": "a fox", "notifyHook": "file:///etc/passwd"}),
    ("submit/imagine", {"prompt": "a fox", "notifyHook": "javascript:alert(1)"}),
    ("submit/imagine", {"prompt": "a fox", "state": "s" * 5000}),
    ("submit/imagine", {"prompt": "a fox", "botType": "SKYNET"}),
    ("submit/blend", {"base64Array": [PNG], "dimensions": "SQUARE"}),
    ("submit/blend", {"base64Array": [PNG, png_data_url("b")], "dimensions": "WIDE"}),
    ("submit/describe", {"base64": ""}),
    ("submit/shorten", {"prompt": ["a", "list"]}),
    ("submit/action", {"taskId": "../../etc/passwd", "customId": BUTTON}),
    ("submit/action", {"taskId": "1", "customId": "rm -rf /"}),
    ("submit/action", {"taskId": "1", "customId": "MJ::JOB::upsample::9::x"}),
    ("submit/modal", {"taskId": "1"}),
    ("insight-face/swap", {"sourceBase64": PNG, "targetBase64": PNG}),
    ("insight-face/swap", {"sourceBase64": PNG}),
]


def _refused(resp: Any, status: int = 400, code: int = 4) -> None:
    assert (resp.status_code, resp.json()["code"]) == (status, code), resp.text
    answer = resp.json()
    assert answer["description"] and answer["result"] is None and resp.headers["X-Request-Id"]


@pytest.mark.parametrize(("route", "body"), BODIES)
def test_an_invalid_body_is_code_4_and_goes_nowhere(t: MjTenant, mj: MockMidjourney, route: str, body: Any) -> None:
    _refused(t.submit(route, body))
    assert mj.requests == []
    assert [(r["status"], r["cost"]) for r in t.logs()[:1]] == [(400, 0)]


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"a string"', b"\xff\xfe{", b'{"prompt": "a"'])
def test_a_body_that_is_no_json_object_is_code_4(t: MjTenant, mj: MockMidjourney, raw: bytes) -> None:
    resp = t.rg.http.post("/mj/submit/imagine", content=raw, headers={**t.headers, "Content-Type": "application/json"})
    _refused(resp)
    assert mj.requests == []


def test_a_body_over_the_limit_is_413(t: MjTenant, mj: MockMidjourney) -> None:
    _refused(t.submit("submit/imagine", {"prompt": "a fox", "state": "s" * 70_000}), status=413)
    assert mj.requests == []


def test_routes_and_modes_that_do_not_exist_are_code_3(t: MjTenant, mj: MockMidjourney) -> None:
    _refused(t.submit("submit/teleport", {"prompt": "a fox"}), status=404, code=3)
    _refused(t.submit("submit/imagine", {"prompt": "a fox"}, prefix="/mj-warp"), status=404, code=3)
    http, h = t.rg.http, t.headers
    for method, path in (("GET", "/mj/submit/imagine"), ("PUT", "/mj-relax/mj/submit/imagine"),
                         ("POST", "/mj/task/1/fetch"), ("GET", "/mj/task/list-by-condition"), ("GET", "/mj/teleport"),
                         ("GET", "/mj-fast/mj/task/1/seed"), ("GET", "/mj-fast/mj/image/1"), ("DELETE", "/mj/")):
        _refused(http.request(method, path, headers=h), status=404, code=3)
    preflight = http.options("/mj/submit/imagine", headers={"Origin": "https://app.example",
                                                             "Access-Control-Request-Method": "POST"})
    assert preflight.status_code < 500
    assert mj.requests == []


def test_actions_on_tasks_that_cannot_take_them_are_refused_before_the_upstream(t: MjTenant,
                                                                                mj: MockMidjourney) -> None:
    _refused(t.submit("submit/action", {"taskId": "1234567", "customId": BUTTON}), status=400, code=3)
    _refused(t.submit("submit/modal", {"taskId": "1234567", "prompt": "a hat"}), status=400, code=3)
    mj.step_seconds = None
    running = t.ok("submit/imagine", {"prompt": "a fox"})["result"]
    _refused(t.submit("submit/action", {"taskId": running, "customId": BUTTON}))  # not finished yet
    mj.advance(steps=10)
    t.wait(running, lambda task: task["status"] == "SUCCESS")
    _refused(t.submit("submit/action", {"taskId": running, "customId": BUTTON}))  # not one of its buttons
    _refused(t.submit("submit/modal", {"taskId": running, "prompt": "a hat"}))  # not waiting for a modal
    assert [r.route for r in mj.requests if r.route and r.route.startswith("submit")] == ["submit/imagine"]


def test_queries_with_broken_input_are_code_4(t: MjTenant, mj: MockMidjourney) -> None:
    http, h = t.rg.http, t.headers
    _refused(http.get(f"/mj/task/{'x' * 65}/fetch", headers=h))
    _refused(http.get("/mj/task/a%20b/fetch", headers=h))
    for body in ({"ids": "1"}, {"ids": [1]}, {"ids": ["1"] * 501}, [1]):
        _refused(http.post("/mj/task/list-by-condition", json=body, headers=h))
    _refused(http.post("/mj/task/list-by-condition", content=b"{", headers=h))
    assert mj.requests == []


_NUMBERS = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
_SCALARS = st.none() | st.booleans() | _NUMBERS | st.text(max_size=30)
JSON = st.recursive(_SCALARS,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["prompt", "base64Array", "notifyHook", "state", "botType", "taskId",
                                             "customId", "dimensions", "base64"]), JSON, max_size=5),
       route=st.sampled_from(["submit/imagine", "submit/blend", "submit/action", "submit/shorten"]))
def test_any_json_body_is_either_taken_or_refused_never_a_5xx(t: MjTenant, route: str, body: dict[str, Any]) -> None:
    resp = t.submit(route, body)
    assert resp.status_code in (200, 400, 404), resp.text
    assert resp.json()["code"] in (1, 3, 4, 21, 22, 24)
