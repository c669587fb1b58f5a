"""The fake OpenAI upstream's Responses API refuses what OpenAI refuses, in OpenAI's words, breaks streams the way an
upstream can, and serves Azure's Responses routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest
from openai.types.responses import FunctionToolParam

from tests.test_openai_responses_mock import KEY, MODELS, create, parse_sse, stream
from tests.upstreams.openai_mock import MockOpenAI

WEATHER: FunctionToolParam = {"type": "function", "name": "get_weather", "parameters": {"type": "object"},
                              "strict": False}
TOOL = {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockOpenAI]:
    server = MockOpenAI(api_keys=[KEY], models=MODELS).start()
    yield server
    server.stop()


@pytest.fixture
def mock(upstream: MockOpenAI) -> MockOpenAI:
    upstream.reset()
    return upstream


def post(mock: MockOpenAI, body: Any, path: str = "/v1/responses", **headers: str) -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        return http.post(f"http://127.0.0.1:{mock.port}{path}", json=body,
                         headers={"Authorization": f"Bearer {KEY}", **headers})


@pytest.mark.parametrize("body, param, code, message", [
    ({"input": "x", "temprature": 1}, "temprature", "unknown_parameter", "Unknown parameter: 'temprature'."),
    ({"input": [{"role": "user", "content": "x", "name": "bob"}]}, "input[0].name", "unknown_parameter",
     "Unknown parameter: 'input[0].name'."),
    ({}, "input", "missing_required_parameter", "Missing required parameter: 'input'."),
    ({"input": 7}, "input", "invalid_type", "expected one of a string or an array, but got an integer"),
    ({"input": []}, "input", "empty_array", "empty array"),
    ({"input": [{"type": "funcion_call"}]}, "input[0].type", "invalid_value", "Invalid value: 'funcion_call'."),
    ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role", "invalid_value", "Invalid value: 'tool'."),
    ({"input": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}, "input[0].content[0].type",
     "invalid_value", "Supported values are: 'input_file', 'input_image', 'input_text'."),
    ({"input": [{"role": "user", "content": [{"type": "input_text"}]}]}, "input[0].content[0].text",
     "missing_required_parameter", "Missing required parameter"),
    ({"input": [{"type": "function_call_output", "call_id": "call_x", "output": "1"}]}, "input", None,
     "No tool call found for function call output with call_id call_x."),
    ({"input": "x", "max_output_tokens": 8}, "max_output_tokens", "integer_below_min_value", "Expected a value >= 16"),
    ({"input": "x", "max_output_tokens": "16"}, "max_output_tokens", "invalid_type", "expected an integer"),
    ({"input": "x", "temperature": 2.5}, "temperature", "decimal_above_max_value", "Expected a value <= 2"),
    ({"input": "x", "top_p": -0.1}, "top_p", "decimal_below_min_value", "Expected a value >= 0"),
    ({"input": "x", "stream": "yes"}, "stream", "invalid_type", "expected a boolean"),
    ({"input": "x", "store": 1}, "store", "invalid_type", "expected a boolean"),
    ({"input": "x", "reasoning": {"effort": "low"}}, "reasoning.effort", "unsupported_parameter",
     "Unsupported parameter: 'reasoning.effort' is not supported with this model."),
    ({"input": "x", "reasoning": {"summary": "auto"}}, "reasoning.summary", "unsupported_parameter", "not supported"),
    ({"input": "x", "include": ["reasoning.encrypted_content"]}, "include", "unsupported_parameter",
     "Encrypted content is not supported with this model."),
    ({"input": "x", "include": ["everything"]}, "include[0]", "invalid_value", "Invalid value: 'everything'."),
    ({"input": "x", "tools": [{"type": "function", "name": "f"}]}, "tools[0].parameters",
     "missing_required_parameter", "Missing required parameter"),
    ({"input": "x", "tools": [{**TOOL, "name": "get weather"}]}, "tools[0].name", "invalid_value",
     "does not match pattern"),
    ({"input": "x", "tools": [{"type": "browser"}]}, "tools[0].type", "invalid_value", "Invalid value: 'browser'."),
    ({"input": "x", "tool_choice": "always"}, "tool_choice", "invalid_value", "Invalid value: 'always'."),
    ({"input": "x", "tool_choice": "required"}, "tool_choice", "invalid_value", "only allowed when 'tools'"),
    ({"input": "x", "tools": [TOOL], "tool_choice": {"type": "function", "name": "g"}}, "tool_choice",
     "invalid_value", "not found in 'tools' parameter"),
    ({"input": "x", "text": {"format": {"type": "json_schema", "schema": SCHEMA}}}, "text.format.name",
     "missing_required_parameter", "Missing required parameter"),
    ({"input": "x", "text": {"format": {"type": "json_schema", "name": "a", "schema": SCHEMA, "strict": True}}},
     "text.format.schema", "invalid_json_schema", "'additionalProperties' is required to be supplied"),
    ({"input": "x", "text": {"format": {"type": "json_schema", "name": "a", "strict": True, "schema": {
        **SCHEMA, "additionalProperties": False}}}}, "text.format.schema", "invalid_json_schema", "Missing 'a'"),
    ({"input": "x", "background": True, "store": False}, "background", "invalid_value", "requires 'store'"),
    ({"input": "x", "previous_response_id": "resp_nope"}, "previous_response_id", "previous_response_not_found",
     "Previous response with id 'resp_nope' not found."),
    ({"input": "x", "metadata": {"n": 1}}, "metadata.n", "invalid_type", "expected a string"),
])
def test_a_request_openai_refuses_is_refused_in_its_words(mock: MockOpenAI, body: dict[str, Any], param: str,
                                                          code: str | None, message: str) -> None:
    resp = post(mock, {"model": "gpt-4o", **body})
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)
    assert message in error["message"]
    assert not mock.responses.stored


def test_an_item_reference_names_a_stored_item_of_the_same_key(mock: MockOpenAI) -> None:
    first = create(mock, model="gpt-4o", input="hi")
    resp = post(mock, {"model": "gpt-4o", "input": [{"type": "item_reference", "id": first.output[0].id},
                                                      {"role": "user", "content": "again"}]})
    assert resp.status_code == 200
    assert mock.responses.stored[resp.json()["id"]].context[0] == first.output[0].model_dump(exclude_none=True)
    unknown = post(mock, {"model": "gpt-4o", "input": [{"type": "item_reference", "id": "msg_nope"}]})
    assert unknown.status_code == 404 and unknown.json()["error"]["message"] == "Item with id 'msg_nope' not found."
    hidden = create(mock, model="gpt-4o", input="hi", store=False)
    gone = post(mock, {"model": "gpt-4o", "input": [{"type": "item_reference", "id": hidden.output[0].id}]})
    assert gone.status_code == 404 and "Items are not persisted when `store` is set to false" in gone.text


def test_conversations_and_stored_prompts_are_not_found_as_the_fake_keeps_none(mock: MockOpenAI) -> None:
    for name, value in (("conversation", "conv_1"), ("prompt", {"id": "pmpt_1"})):
        absent = post(mock, {"model": "gpt-4o", "input": "hi", name: value})
        assert absent.status_code == 404 and absent.json()["error"]["param"] == name


@pytest.mark.parametrize("body, param", [
    ({"model": "o3", "input": "x", "temperature": 0.2}, "temperature"),
    ({"model": "o3", "input": "x", "top_p": 0.5}, "top_p"),
])
def test_a_reasoning_model_refuses_sampling_parameters(mock: MockOpenAI, body: dict[str, Any], param: str) -> None:
    error = post(mock, body).json()["error"]
    assert (error["param"], error["code"]) == (param, "unsupported_parameter")


def test_the_model_and_the_body_are_checked_as_for_chat(mock: MockOpenAI) -> None:
    assert post(mock, {"input": "x"}).json()["error"]["code"] == "missing_required_parameter"
    unknown = post(mock, {"model": "gpt-9", "input": "x"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    with httpx.Client(timeout=10) as http:
        garbled = http.post(f"{mock.base_url}/responses", content=b"{not json",
                            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
        assert garbled.status_code == 400 and "could not parse the JSON body" in garbled.json()["error"]["message"]
        wrong = http.post(f"{mock.base_url}/responses", content=b"{}",
                          headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/plain"})
        assert wrong.status_code == 400 and "Content-Type" in wrong.json()["error"]["message"]
        nobody = http.post(f"{mock.base_url}/responses", json={"model": "gpt-4o", "input": "x"})
        assert nobody.status_code == 401 and nobody.json()["error"]["code"] == "invalid_api_key"
        nowhere = http.put(f"{mock.base_url}/responses/resp_x/cancel", headers={"Authorization": f"Bearer {KEY}"})
        assert nowhere.status_code == 404


def test_input_items_paging_is_checked(mock: MockOpenAI) -> None:
    resp = create(mock, model="gpt-4o", input="hi")
    with httpx.Client(timeout=10) as http:
        for params in ({"limit": "0"}, {"limit": "101"}, {"limit": "many"}, {"order": "sideways"}):
            got = http.get(f"{mock.base_url}/responses/{resp.id}/input_items", params=params,
                           headers={"Authorization": f"Bearer {KEY}"})
            assert got.status_code == 400 and got.json()["error"]["param"] in ("limit", "order")


def test_the_sdk_sees_refusals_as_its_own_errors(mock: MockOpenAI) -> None:
    with openai.OpenAI(base_url=mock.base_url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            client.responses.create(model="gpt-4o", input="x", extra_body={"temprature": 1})
        assert refused.value.code == "unknown_parameter" and refused.value.param == "temprature"
        mock.fail_next("500")
        with pytest.raises(openai.InternalServerError):
            client.responses.create(model="gpt-4o", input="x")
        mock.fail_next("429")
        with pytest.raises(openai.RateLimitError):
            client.responses.retrieve("resp_x")


def test_stream_failed_ends_with_response_failed_after_the_first_delta(mock: MockOpenAI) -> None:
    mock.fail_next("stream_failed")
    events = stream(mock, model="gpt-4o", input="hi")
    assert [e["type"] for e in events][-2:] == ["response.output_text.delta", "response.failed"]
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert failed["id"] == events[0]["response"]["id"]
    assert mock.responses.stored[failed["id"]].final == failed


def test_stream_error_ends_with_an_error_event(mock: MockOpenAI) -> None:
    mock.fail_next("stream_error")
    events = stream(mock, model="gpt-4o", input="hi")
    assert events[-1]["type"] == "error" and events[-1]["code"] == "server_error" and events[-1]["message"]
    with openai.OpenAI(base_url=mock.base_url, api_key=KEY, max_retries=0) as client:
        mock.fail_next("stream_error")
        kinds = [e.type for e in client.responses.create(model="gpt-4o", input="hi", stream=True)]
    assert kinds[-1] == "error"


def test_stream_cut_drops_the_connection_mid_stream(mock: MockOpenAI) -> None:
    mock.fail_next("stream_cut")
    with openai.OpenAI(base_url=mock.base_url, api_key=KEY, max_retries=0, timeout=10) as client:
        seen: list[str] = []
        with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
            for event in client.responses.create(model="gpt-4o", input="hi", stream=True):
                seen.append(event.type)
    assert seen[:2] == ["response.created", "response.in_progress"] and "response.completed" not in seen


def test_azure_v1_responses_route_takes_the_api_key_header_or_a_bearer_token(mock: MockOpenAI) -> None:
    ok = post(mock, {"model": "gpt-4o", "input": "hi"}, "/openai/v1/responses", **{"api-key": KEY})
    assert ok.status_code == 200 and ok.json()["output"][0]["type"] == "message"
    rid = ok.json()["id"]
    with openai.OpenAI(base_url=f"http://127.0.0.1:{mock.port}/openai/v1", api_key=KEY, max_retries=0) as client:
        assert client.responses.retrieve(rid).id == rid
        assert client.responses.create(model="gpt-4o", input="more", previous_response_id=rid).status == "completed"
    assert mock.requests[-1].path == "/openai/v1/responses"


def test_azure_versioned_responses_route_needs_a_recent_api_version(mock: MockOpenAI) -> None:
    with openai.AzureOpenAI(azure_endpoint=f"http://127.0.0.1:{mock.port}", api_key=KEY,
                            api_version="2025-04-01-preview", max_retries=0) as azure:
        resp = azure.responses.create(model="gpt-4o", input="hi", tools=[WEATHER])
        assert resp.output[0].type == "function_call"
        assert azure.responses.retrieve(resp.id).id == resp.id
        items = azure.responses.input_items.list(resp.id)
        assert [i.type for i in items] == ["message"]
        azure.responses.delete(resp.id)
    sent = mock.requests[-1]
    assert (sent.method, sent.path, sent.query) == ("DELETE", f"/openai/responses/{resp.id}",
                                                    "api-version=2025-04-01-preview")
    assert sent.headers["api-key"] == KEY and "Authorization" not in sent.headers
    old = post(mock, {"model": "gpt-4o", "input": "hi"}, "/openai/responses?api-version=2024-10-21",
               **{"api-key": KEY})
    assert old.status_code == 400
    assert "enabled only for api-version 2025-03-01-preview" in old.json()["error"]["message"]
    unversioned = post(mock, {"model": "gpt-4o", "input": "hi"}, "/openai/responses", **{"api-key": KEY})
    assert unversioned.status_code == 404
    bearer = post(mock, {"model": "gpt-4o", "input": "hi"}, "/openai/responses?api-version=2025-04-01-preview")
    assert bearer.status_code == 401


def test_an_azure_stream_is_the_same_event_sequence(mock: MockOpenAI) -> None:
    with httpx.Client(timeout=10) as http:
        raw = http.post(f"http://127.0.0.1:{mock.port}/openai/responses?api-version=2025-04-01-preview",
                        json={"model": "gpt-4o", "input": "hi", "stream": True}, headers={"api-key": KEY})
    events = parse_sse(raw.text)
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
