"""OpenAI Responses API request rules for the fake upstream: every body checked against the openai SDK's own
request types (unknown fields refused at any depth, no type coercion) and the API's documented limits, each refusal
in OpenAI's words."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from openai.types.responses import input_token_count_params, response_create_params
from pydantic import ConfigDict, TypeAdapter, ValidationError

from tests.upstreams.openai_wire import WireError, invalid_type, missing

CREATE_FIELDS = frozenset(response_create_params.ResponseCreateParamsStreaming.__required_keys__
                          | response_create_params.ResponseCreateParamsStreaming.__optional_keys__)
COUNT_FIELDS = frozenset(input_token_count_params.InputTokenCountParams.__optional_keys__)
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_BRANCH_KEYS = ("type", "role")
"""Fields that tell the members of an SDK union apart: a member refusing one of them is not the one meant."""
_TYPE_NOUNS = {"string_type": "a string", "int_type": "an integer", "float_type": "a decimal",
               "bool_type": "a boolean", "list_type": "an array", "iterable_type": "an array",
               "dict_type": "an object", "typed_dict_type": "an object", "model_type": "an object"}


@functools.cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    # A TypedDict refuses a config of its own, but one wrapped in a list takes it down to every nested TypedDict.
    shape = (response_create_params.ResponseCreateParamsBase if kind == "create"
             else input_token_count_params.InputTokenCountParams)
    return TypeAdapter(list[shape], config=ConfigDict(extra="forbid", strict=True))  # type: ignore[valid-type]


def validate_create(body: dict[str, Any], *, reasoning_model: bool) -> None:
    """A POST /v1/responses body as OpenAI checks it (the model name is checked by the caller)."""
    _unknown_fields(body, CREATE_FIELDS)
    if "input" not in body and body.get("prompt") is None:
        raise missing("input")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean", stream)
    _limits(body)
    _sdk_types("create", {k: v for k, v in body.items() if k != "stream"})
    _semantics(body, reasoning_model=reasoning_model)


def validate_count(body: dict[str, Any]) -> None:
    """A POST /v1/responses/input_tokens body."""
    _unknown_fields(body, COUNT_FIELDS)
    _sdk_types("count", body)
    _tool_rules(body)


def _unknown_fields(body: dict[str, Any], known: frozenset[str]) -> None:
    for key in body:
        if key not in known:
            raise WireError(400, f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter")


def _limits(body: dict[str, Any]) -> None:
    if isinstance(body.get("input"), list) and not body["input"]:
        raise WireError(400, "Invalid 'input': empty array. Expected an array with minimum length 1, but got an "
                             "empty array instead.", param="input", code="empty_array")
    _bounded(body, "max_output_tokens", 16, None, integer=True)
    _bounded(body, "max_tool_calls", 1, None, integer=True)
    _bounded(body, "top_logprobs", 0, 20, integer=True)
    _bounded(body, "temperature", 0, 2, integer=False)
    _bounded(body, "top_p", 0, 1, integer=False)


def _bounded(body: dict[str, Any], name: str, low: float, high: float | None, *, integer: bool) -> None:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        return  # absent, null or of the wrong type: the type check words that
    kind = "integer" if integer else "decimal"
    if value < low:
        raise WireError(400, f"Invalid '{name}': {kind} below minimum value. Expected a value >= {low}, but got "
                             f"{value} instead.", param=name, code=f"{kind}_below_min_value")
    if high is not None and value > high:
        raise WireError(400, f"Invalid '{name}': {kind} above maximum value. Expected a value <= {high}, but got "
                             f"{value} instead.", param=name, code=f"{kind}_above_max_value")


def _sdk_types(kind: str, body: dict[str, Any]) -> None:
    try:
        validated = _adapter(kind).validate_python([body])
        errors = _drain(validated[0], ())
    except ValidationError as exc:
        errors = [{**e, "loc": e["loc"][1:]} for e in exc.errors()]
    if errors:
        raise _refusal(errors, body)


def _drain(value: Any, at: tuple[Any, ...]) -> list[Any]:
    """The errors of the lazily checked parts (pydantic checks an SDK `Iterable[...]` only as it is read)."""
    if isinstance(value, Iterator):  # pydantic's ValidatorIterator
        try:
            value = list(value)
        except ValidationError as exc:
            return [{**e, "loc": at + tuple(e["loc"])} for e in exc.errors()]
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in _drain(v, (*at, k))]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in _drain(v, (*at, i))]
    return []


def _walk(error: Any, body: Any) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """An error's place in the body, and the union members (loc prefixes) it went through to get there."""
    node, path, members = body, [], []
    loc = tuple(error["loc"])
    for i, seg in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and isinstance(seg, str) and (seg in node or (last and error["type"] == "missing")):
            path.append(seg)
            node = node.get(seg)
        elif isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            path.append(seg)
            node = node[seg]
        else:
            members.append(loc[:i + 1])
    return path, members


def _refusal(errors: list[Any], body: dict[str, Any]) -> WireError:
    """The one error OpenAI would name: union members refusing the fields that select them are not the member the
    client meant, so their complaints are set aside unless every member refused."""
    walked = [(e, *_walk(e, body)) for e in errors]
    wrong = set()
    for error, _, members in walked:
        for member in members:
            rest = tuple(error["loc"])[len(member):]
            if rest == () or (len(rest) == 1 and rest[0] in _BRANCH_KEYS):
                wrong.add(member)
    meant = [(e, p) for e, p, members in walked if not wrong.intersection(members)]
    if meant:
        error, path = max(meant, key=lambda item: len(item[1]))
        return _wire_error(error, _param(path))
    literals = [(e, p) for e, p, _ in walked if e["type"] == "literal_error"]
    if literals:  # every member refused the value that selects one: name the values that would have
        deepest = max(len(p) for _, p in literals)
        chosen = [(e, p) for e, p in literals if len(p) == deepest]
        allowed = sorted({v for e, _ in chosen for v in _expected(e)})
        return WireError(400, f"Invalid value: '{chosen[0][0]['input']}'. Supported values are: {', '.join(allowed)}.",
                         param=_param(chosen[0][1]), code="invalid_value")
    deepest = max(len(p) for _, p, _ in walked)
    chosen = [(e, p) for e, p, _ in walked if len(p) == deepest]
    nouns = sorted({_TYPE_NOUNS[e["type"]] for e, _ in chosen if e["type"] in _TYPE_NOUNS})
    if nouns:
        return invalid_type(_param(chosen[0][1]), nouns[0] if len(nouns) == 1 else "one of " + " or ".join(nouns),
                            chosen[0][0]["input"])
    return _wire_error(chosen[0][0], _param(chosen[0][1]))


def _expected(error: Any) -> list[str]:
    """The values a pydantic literal_error names ("'a', 'b' or 'c'")."""
    return [v.strip() for v in str(error["ctx"]["expected"]).replace(" or ", ",").split(",") if v.strip()]


def _wire_error(error: Any, param: str) -> WireError:
    kind = error["type"]
    if kind == "missing":
        return missing(param)
    if kind == "extra_forbidden":
        return WireError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")
    if kind in _TYPE_NOUNS:
        return invalid_type(param, _TYPE_NOUNS[kind], error["input"])
    if kind == "literal_error":
        return WireError(400, f"Invalid value: '{error['input']}'. Supported values are: "
                              f"{', '.join(_expected(error))}.", param=param, code="invalid_value")
    return WireError(400, f"Invalid '{param}': {error['msg']}.", param=param, code="invalid_value")


def _param(path: list[Any]) -> str:
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else str(seg))
    return out


def _semantics(body: dict[str, Any], *, reasoning_model: bool) -> None:
    if body.get("background") and body.get("store") is False:
        raise WireError(400, "Background mode requires 'store' to be true.", param="background", code="invalid_value")
    reasoning = body.get("reasoning") or {}
    if reasoning_model:
        for name in ("temperature", "top_p"):
            if body.get(name) is not None:
                raise WireError(400, f"Unsupported parameter: '{name}' is not supported with this model.",
                                param=name, code="unsupported_parameter")
    else:
        for name in ("effort", "summary"):
            if reasoning.get(name) is not None:
                raise WireError(400, f"Unsupported parameter: 'reasoning.{name}' is not supported with this model.",
                                param=f"reasoning.{name}", code="unsupported_parameter")
        if "reasoning.encrypted_content" in (body.get("include") or []):
            raise WireError(400, "Encrypted content is not supported with this model.", param="include",
                            code="unsupported_parameter")
    _tool_rules(body)
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        _schema_rules(fmt)


def _tool_rules(body: dict[str, Any]) -> None:
    tools = body.get("tools") or []
    names = [t["name"] for t in tools if t.get("type") == "function"]
    for i, tool in enumerate(tools):
        if tool.get("type") == "function" and not _NAME.match(tool["name"]):
            raise WireError(400, f"Invalid 'tools[{i}].name': string does not match pattern. Expected a string that "
                                 "matches the pattern '^[a-zA-Z0-9_-]+$'.", param=f"tools[{i}].name",
                            code="invalid_value")
    choice = body.get("tool_choice")
    if (choice == "required" or isinstance(choice, dict)) and not tools:
        raise WireError(400, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
                             "specified.", param="tool_choice", code="invalid_value")
    if isinstance(choice, dict) and choice.get("type") == "function" and choice.get("name") not in names:
        raise WireError(400, f"Tool choice 'function' not found in 'tools' parameter: '{choice.get('name')}'.",
                        param="tool_choice", code="invalid_value")


def _schema_rules(fmt: dict[str, Any]) -> None:
    """Structured outputs' strict mode: the root is an object closed to other properties, all of them required."""
    name = fmt.get("name", "")
    if not _NAME.match(name):
        raise WireError(400, "Invalid 'text.format.name': string does not match pattern. Expected a string that "
                             "matches the pattern '^[a-zA-Z0-9_-]+$'.", param="text.format.name",
                        code="invalid_value")
    schema = fmt["schema"]
    if not fmt.get("strict"):
        return
    where = f"Invalid schema for response_format '{name}': In context=()"
    if schema.get("type") != "object":
        raise WireError(400, f"{where}, schema must be a JSON Schema of 'type: \"object\"', got 'type: "
                             f"\"{schema.get('type')}\"'.", param="text.format.schema", code="invalid_json_schema")
    if schema.get("additionalProperties") is not False:
        raise WireError(400, f"{where}, 'additionalProperties' is required to be supplied and to be false.",
                        param="text.format.schema", code="invalid_json_schema")
    absent = [p for p in schema.get("properties") or {} if p not in (schema.get("required") or [])]
    if absent:
        raise WireError(400, f"{where}, 'required' is required to be supplied and to be an array including every "
                             f"key in properties. Missing '{absent[0]}'.", param="text.format.schema",
                        code="invalid_json_schema")
