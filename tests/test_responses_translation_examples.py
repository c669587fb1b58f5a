"""The Responses API translations on the requests that matter by name: what a chat channel cannot carry (refused
clearly), a tool round across turns, a Codex CLI request, Claude's thinking rules, usage both ways."""

from __future__ import annotations

from typing import Any

import pytest

from relaygate.core.errors import BadRequest
from relaygate.core.types import Usage
from relaygate.protocols import anthropic, responses, responses_answers
from tests.test_responses_translation import RESPONSE, WEATHER, fakes_accept
from tests.upstreams import anthropic_wire, responses_wire


@pytest.mark.parametrize("body, param, message", [
    ({}, "input", "Missing required parameter: 'input'."),
    ({"input": ""}, "input", "non-empty"),
    ({"input": "x", "background": True}, "background", "OpenAI and Azure channels"),
    ({"input": "x", "prompt": {"id": "pmpt_1"}}, "prompt", "Stored prompts"),
    ({"input": "x", "conversation": "conv_1"}, "conversation", "previous_response_id"),
    ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0]", "'web_search_call'"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file_1"}]}]},
     "input[0].content[0]", "'input_file'"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1", "detail": "auto"}]}]},
     "input[0].content[0]", "file_id"),
    ({"input": [{"type": "function_call_output", "call_id": "call_9", "output": "x"}]}, "input[0]",
     "No tool call found for function call output with call_id call_9."),
    ({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}]}, "input[0]",
     "JSON object"),
    ({"input": "x", "tools": [WEATHER], "tool_choice": {"type": "web_search_preview"}}, "tool_choice",
     "cannot run"),
    ({"input": "x", "tools": [WEATHER], "tool_choice": {"type": "function", "name": "other"}}, "tool_choice",
     "not in 'tools'"),
    ({"input": "x", "tools": [{"type": "function"}]}, "tools[0]", "function tool"),
    ({"input": "x", "text": {"format": {"type": "json_schema", "name": "a"}}}, "text.format", "a name and a schema"),
    ({"input": "x", "max_output_tokens": 0}, "max_output_tokens", "positive integer"),
    ({"input": [{"type": "reasoning", "id": "rs_1", "summary": []}]}, "input", "no message"),
])
def test_requests_a_chat_channel_cannot_carry_are_refused_clearly(body: dict[str, Any], param: str,
                                                                  message: str) -> None:
    with pytest.raises(BadRequest) as refused:
        responses.responses_to_chat({"model": "m", **body})
    assert refused.value.param == param and message in refused.value.message and refused.value.status == 400


def test_a_turn_after_a_tool_call_carries_the_call_and_its_output_as_chat_messages() -> None:
    first = {"model": "m", "input": "weather in Paris?", "tools": [WEATHER], "instructions": "be brief"}
    start = responses_answers.response_object(first, response_id="resp_1", created_at=1)
    answer = {"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None,
              "tool_calls": [{"id": "toolu_1", "type": "function",
                              "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}}]}
    done = responses_answers.completion_to_response(answer, start, completed_at=2)
    conversation = responses.turn_items(first, done)
    follow = {"model": "m", "tools": [WEATHER, {"type": "web_search"}], "previous_response_id": "resp_1",
              "input": [{"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"}]}
    chat = responses.responses_to_chat(follow, conversation=conversation)
    assert chat["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather in Paris?"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}]  # instructions are not carried over
    assert [t["function"]["name"] for t in chat["tools"]] == ["get_weather"]  # the hosted tool is left out
    fakes_accept(chat)


CODEX = {
    "model": "m", "instructions": "You are a coding agent.", "store": False, "stream": True,
    "tool_choice": "auto", "parallel_tool_calls": False, "prompt_cache_key": "session-1",
    "reasoning": {"effort": "medium", "summary": "auto"}, "include": ["reasoning.encrypted_content"],
    "text": {"verbosity": "low"},
    "tools": [{"type": "function", "name": "shell", "description": "Runs a shell command", "strict": False,
               "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {
                   "type": "string"}}}, "required": ["command"], "additionalProperties": False}},
              {"type": "custom", "name": "apply_patch", "description": "Applies a patch",
               "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
              {"type": "local_shell"}, {"type": "web_search"}],
    "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions/>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list the files"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-opaque"},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell",
         "arguments": '{"command":["ls"]}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "README.md\nsetup.py"},
    ],
}


def test_a_codex_cli_request_is_one_openai_takes_and_a_chat_channel_can_carry() -> None:
    responses_wire.validate_create(CODEX, reasoning_model=True)
    chat = responses.responses_to_chat(CODEX)
    fakes_accept(chat)
    assert [m["role"] for m in chat["messages"]] == ["system", "developer", "user", "assistant", "tool"]
    assert [t["function"]["name"] for t in chat["tools"]] == ["shell"]
    assert chat["parallel_tool_calls"] is False and chat["stream_options"] == {"include_usage": True}
    start = responses_answers.response_object(CODEX, response_id="resp_c", created_at=1)
    assert RESPONSE.validate_python(start).store is False


def test_claude_gets_no_thinking_when_the_client_forces_a_tool() -> None:
    body = {"model": "m", "input": "weather?", "tools": [WEATHER], "reasoning": {"effort": "high"},
            "tool_choice": {"type": "function", "name": "get_weather"}}
    claude = anthropic.chat_to_messages(responses.responses_to_chat(body), "claude-x")
    anthropic_wire.validate_request(claude)  # Claude refuses thinking with a forced tool: the tool choice is kept
    assert "thinking" not in claude and claude["tool_choice"] == {"type": "tool", "name": "get_weather"}
    auto = anthropic.chat_to_messages(responses.responses_to_chat({**body, "tool_choice": "auto"}), "claude-x")
    assert auto["thinking"] == {"type": "enabled", "budget_tokens": 24576}


def test_claude_gets_no_thinking_for_a_turn_answering_tool_use() -> None:
    """Claude wants the signed thinking of the turn whose tool use is answered; chat cannot give it back, so that
    turn goes without thinking (the turn after it, a new user message, thinks again)."""
    loop = [{"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]
    body = {"model": "m", "input": loop, "tools": [WEATHER], "reasoning": {"effort": "medium"}}
    claude = anthropic.chat_to_messages(responses.responses_to_chat(body), "claude-x")
    anthropic_wire.validate_request(claude)
    assert "thinking" not in claude
    after = [*loop, {"role": "assistant", "content": "It is sunny."}, {"role": "user", "content": "thanks"}]
    claude = anthropic.chat_to_messages(responses.responses_to_chat({**body, "input": after}), "claude-x")
    anthropic_wire.validate_request(claude)
    assert claude["thinking"] == {"type": "enabled", "budget_tokens": 8192}


def test_usage_maps_both_ways_with_its_details() -> None:
    wire = {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40, "cache_write_tokens": 10},
            "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 130}
    usage = responses.usage_from(wire)
    assert usage == Usage(prompt_tokens=100, completion_tokens=30, reasoning_tokens=12, cached_tokens=40,
                          cache_write_tokens=10)
    assert responses.usage_to(usage) == wire
    assert responses.usage_from({"input_tokens": -1, "output_tokens": 3}) is None
    assert responses.usage_from({"input_tokens": 5, "output_tokens": 3, "input_tokens_details": {
        "cached_tokens": 99}}) == Usage(prompt_tokens=5, completion_tokens=3, cached_tokens=5)
