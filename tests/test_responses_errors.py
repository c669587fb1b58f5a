"""/v1/responses errors, as chat's (SPEC §3): refused requests in OpenAI's shape before anything is sent upstream,
upstream failures as gateway errors, broken streams ended with `response.failed` or the upstream's own last event —
and none of them billed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest

from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant, make_tenant
from tests.test_responses import parse_events, raw_stream
from tests.upstreams.openai_mock import MockOpenAI

MODEL = "gpt-4o-mini"


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockOpenAI]:
    server = MockOpenAI(api_keys=[UPSTREAM_KEY], models=[MODEL]).start()
    yield server
    server.stop()


@pytest.fixture
def tenant(relaygate: Relaygate, upstream: MockOpenAI) -> Tenant:
    upstream.reset()
    t = make_tenant(relaygate, [upstream.base_url], models=[MODEL], quota=10**9)
    relaygate.ok("PUT", f"/api/prices/{MODEL}", {"input_per_1m": 2.5, "output_per_1m": 10.0})
    return t


def post(relaygate: Relaygate, tenant: Tenant, body: Any, *, raw: bytes | None = None) -> tuple[int, dict[str, Any],
                                                                                                 str]:
    headers = {"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"}
    resp = relaygate.http.post("/v1/responses", headers=headers,
                               content=raw if raw is not None else orjson.dumps(body))
    return resp.status_code, resp.json()["error"] if resp.status_code >= 400 else resp.json(), resp.headers.get(
        "x-request-id", "")


def unbilled(relaygate: Relaygate, tenant: Tenant, count: int) -> list[dict[str, Any]]:
    relaygate.wait_for(lambda: len(relaygate.ok("GET", f"/api/logs?key_id={tenant.key_id}")) >= count)
    rows: list[dict[str, Any]] = relaygate.ok("GET", f"/api/logs?key_id={tenant.key_id}")
    assert all(r["cost"] == 0 for r in rows)
    assert int(relaygate.ok("GET", f"/api/keys/{tenant.key_id}")["remain_quota"]) == 10**9
    return rows


@pytest.mark.parametrize(("body", "param"), [
    ({"model": MODEL}, "input"),
    ({"model": MODEL, "input": 42}, "input"),
    ({"input": "hi"}, "model"),
    ({"model": MODEL, "input": "hi", "stream": "yes"}, "stream"),
    ({"model": MODEL, "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": MODEL, "input": "hi", "previous_response_id": 7}, "previous_response_id"),
    ({"model": MODEL, "input": "hi", "previous_response_id": "resp_unknown"}, "previous_response_id"),
])
def test_a_malformed_request_is_refused_before_it_goes_upstream(relaygate: Relaygate, tenant: Tenant,
                                                                upstream: MockOpenAI, body: dict[str, Any],
                                                                param: str) -> None:
    status, error, request_id = post(relaygate, tenant, body)
    assert status == 400 and error["param"] == param and error["message"]
    assert set(error) == {"message", "type", "param", "code"} and request_id
    assert upstream.requests == []
    assert unbilled(relaygate, tenant, 1)[0]["status"] == 400


def test_missing_input_is_refused_in_openais_words(relaygate: Relaygate, tenant: Tenant) -> None:
    with relaygate.client(tenant.key) as client, pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL)  # type: ignore[call-overload]
    assert caught.value.message.endswith("Missing required parameter: 'input'.")


def test_a_body_that_is_not_json_is_refused(relaygate: Relaygate, tenant: Tenant) -> None:
    status, error, _ = post(relaygate, tenant, None, raw=b"{not json")
    assert status == 400 and "JSON" in error["message"]


def test_an_unknown_model_is_model_not_found(relaygate: Relaygate, tenant: Tenant) -> None:
    with relaygate.client(tenant.key) as client, pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gpt-unknown", input="hi")
    assert caught.value.code == "model_not_found"


def test_a_key_restricted_to_other_models_is_refused(relaygate: Relaygate, upstream: MockOpenAI) -> None:
    t = make_tenant(relaygate, [upstream.base_url], models=[MODEL], key_fields={"allowed_models": ["gpt-4o"]})
    with relaygate.client(t.key) as client, pytest.raises(openai.PermissionDeniedError) as caught:
        client.responses.create(model=MODEL, input="hi")
    assert caught.value.code == "model_not_allowed"


def test_a_key_out_of_quota_is_refused(relaygate: Relaygate, upstream: MockOpenAI) -> None:
    t = make_tenant(relaygate, [upstream.base_url], models=[MODEL], quota=1)
    relaygate.ok("PUT", f"/api/prices/{MODEL}", {"input_per_1m": 2.5, "output_per_1m": 10.0})
    with relaygate.client(t.key) as client, pytest.raises(openai.PermissionDeniedError) as caught:
        client.responses.create(model=MODEL, input="hi")
    assert caught.value.code == "insufficient_token_quota"


@pytest.mark.parametrize(("mode", "status", "stream"), [("500", 502, False), ("500", 502, True), ("429", 502, True),
                                                       ("timeout", 504, False)])
def test_a_failing_upstream_is_a_gateway_error_and_costs_nothing(relaygate: Relaygate, tenant: Tenant,
                                                                 upstream: MockOpenAI, mode: str, status: int,
                                                                 stream: bool) -> None:
    upstream.mode = mode
    upstream.hang_seconds = 7
    got, error, _ = post(relaygate, tenant, {"model": MODEL, "input": "hi", "stream": stream})
    assert got == status and error["code"] == ("upstream_timeout" if mode == "timeout" else "upstream_error")
    assert UPSTREAM_KEY not in str(error)
    assert unbilled(relaygate, tenant, 1)[0]["status"] == status


def test_a_stream_cut_short_ends_with_response_failed_and_costs_nothing(relaygate: Relaygate, tenant: Tenant,
                                                                        upstream: MockOpenAI) -> None:
    upstream.mode = "stream_cut"
    status, _, body = raw_stream(relaygate, tenant, {"model": MODEL, "input": "a long story"})
    events = parse_events(body)  # sequence numbers continue into the failure
    assert status == 200 and events[-1]["type"] == "response.failed"
    failed = events[-1]["response"]
    assert failed["id"] == events[0]["response"]["id"] and failed["status"] == "failed"
    assert failed["error"]["code"] == "server_error" and "not billed" in failed["error"]["message"]
    assert body.startswith(upstream.responses.streamed[failed["id"]])  # what came was relayed as it came
    assert unbilled(relaygate, tenant, 1)[0]["status"] == 502


@pytest.mark.parametrize("mode", ["stream_failed", "stream_error"])
def test_a_stream_the_upstream_fails_ends_with_its_own_last_event_and_costs_nothing(
        relaygate: Relaygate, tenant: Tenant, upstream: MockOpenAI, mode: str) -> None:
    upstream.mode = mode
    status, _, body = raw_stream(relaygate, tenant, {"model": MODEL, "input": "a long story"})
    events = parse_events(body)
    assert status == 200 and events[-1]["type"] == ("response.failed" if mode == "stream_failed" else "error")
    assert body == upstream.responses.streamed[events[0]["response"]["id"]]  # nothing added
    assert unbilled(relaygate, tenant, 1)[0]["status"] == 502


def test_the_sdk_sees_a_failed_stream_as_its_failure_event(relaygate: Relaygate, tenant: Tenant,
                                                           upstream: MockOpenAI) -> None:
    upstream.mode = "stream_cut"
    with relaygate.client(tenant.key) as client:
        events = list(client.responses.create(model=MODEL, input="hi", stream=True))
    assert events[-1].type == "response.failed"
