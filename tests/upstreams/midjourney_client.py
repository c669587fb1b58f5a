"""Plain-HTTP calls as a midjourney-proxy client makes them (against the fake upstream or relaygate alike), with
the shape checks every answer must pass."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx

from tests.upstreams.midjourney_mock import MockMidjourney


def submit(http: httpx.Client, route: str, body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """POST {prefix}/mj/{route}: a 200 answer in the protocol's {code, description, result, properties} shape."""
    resp = http.post(f"{prefix}/mj/{route}", json=body)
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    assert set(answer) == {"code", "description", "result", "properties"}
    return answer


def fetch(http: httpx.Client, task_id: str, prefix: str = "") -> dict[str, Any]:
    resp = http.get(f"{prefix}/mj/task/{task_id}/fetch")
    assert resp.status_code == 200, resp.text
    task: dict[str, Any] = resp.json()
    return task


def finished(mock: MockMidjourney, http: httpx.Client, route: str = "submit/imagine",
             body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A task submitted to the fake and moved on to its end."""
    answer = submit(http, route, body or {"prompt": "a red fox"})
    assert answer["code"] == 1, answer
    mock.advance(answer["result"], steps=10)
    return fetch(http, answer["result"])
