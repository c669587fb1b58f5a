"""notifyHook: relaygate (never the upstream) POSTs the task to the client's hook on every state change, in order,
through the guarded fetcher, retrying a failing hook without holding up the poller."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import Relaygate
from tests.midjourney_env import HookReceiver, MjTenant, mj_relaygate, mj_tenant
from tests.upstreams.midjourney_mock import MockMidjourney

PHASES = [("SUBMITTED", "0%"), ("IN_PROGRESS", "25%"), ("IN_PROGRESS", "50%"), ("IN_PROGRESS", "75%"),
          ("SUCCESS", "100%")]


@pytest.fixture(scope="module")
def receiver() -> Iterator[HookReceiver]:
    server = HookReceiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def refused_receiver() -> Iterator[HookReceiver]:
    """A hook endpoint on a loopback port the operator did not allow-list."""
    server = HookReceiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rg(tmp_path_factory: pytest.TempPathFactory, midjourney_upstream: MockMidjourney,
       receiver: HookReceiver) -> Iterator[Relaygate]:
    gate = mj_relaygate(tmp_path_factory.mktemp("mj-hooks"), midjourney_upstream,
                        RELAYGATE_FETCH_ALLOW=f"127.0.0.1:{receiver.port}", RELAYGATE_MJ_HOOK_ATTEMPTS="4")
    yield gate
    gate.close()


@pytest.fixture
def mj(midjourney: MockMidjourney, receiver: HookReceiver, refused_receiver: HookReceiver) -> MockMidjourney:
    receiver.reset()
    refused_receiver.reset()
    midjourney.step_seconds = None
    return midjourney


@pytest.fixture
def t(rg: Relaygate, mj: MockMidjourney) -> MjTenant:
    return mj_tenant(rg, mj)


def _phases(calls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["status"], c["progress"]) for c in calls]


def _step_through(t: MjTenant, mj: MockMidjourney, task_id: str) -> None:
    """Move the task one phase at a time, each seen by relaygate before the next."""
    for status, progress in PHASES:
        mj.advance()
        t.wait(task_id, lambda task, s=status, p=progress: (task["status"], task["progress"]) == (s, p))


def test_the_hook_receives_every_change_in_order(t: MjTenant, mj: MockMidjourney, receiver: HookReceiver) -> None:
    task_id = t.ok("submit/imagine", {"prompt": "a fox", "notifyHook": receiver.url, "state": "mine"})["result"]
    _step_through(t, mj, task_id)
    t.rg.wait_for(lambda: len(receiver.tasks(task_id)) == len(PHASES))
    calls = receiver.tasks(task_id)
    assert _phases(calls) == PHASES
    last = calls[-1]
    assert (last["id"], last["state"], last["action"]) == (task_id, "mine", "IMAGINE")
    assert last["imageUrl"].startswith("http://127.0.0.1:") and f"/mj/image/{task_id}?" in last["imageUrl"]
    assert httpx.get(last["imageUrl"]).content.startswith(b"\x89PNG")  # the link in the hook works as it is
    assert [b["label"] for b in last["buttons"]][:1] == ["U1"]
    assert receiver.received[-1].headers["Content-Type"] == "application/json"
    submitted = mj.calls("submit/imagine")[-1].json
    assert "notifyHook" not in submitted  # never passed upstream
    time.sleep(0.3)
    assert len(receiver.tasks(task_id)) == len(PHASES)  # once each


def test_a_failing_hook_is_retried_and_its_calls_stay_in_order(t: MjTenant, mj: MockMidjourney,
                                                               receiver: HookReceiver) -> None:
    receiver.fail_next_calls(2)
    task_id = t.ok("submit/imagine", {"prompt": "a fox", "notifyHook": receiver.url})["result"]
    _step_through(t, mj, task_id)
    t.rg.wait_for(lambda: len(receiver.tasks(task_id)) == len(PHASES) + 2, timeout=15)
    # the first change was tried three times (two 500s, then 200) before the second went out
    assert _phases(receiver.tasks(task_id)) == [PHASES[0]] * 3 + PHASES[1:]


def test_a_hook_that_keeps_failing_is_given_up_after_its_attempts(t: MjTenant, mj: MockMidjourney,
                                                                  receiver: HookReceiver) -> None:
    receiver.fail_next_calls(100)
    task_id = t.ok("submit/imagine", {"prompt": "a fox", "notifyHook": receiver.url})["result"]
    mj.advance()
    t.wait(task_id, lambda task: task["status"] == "SUBMITTED")
    t.rg.wait_for(lambda: len(receiver.tasks(task_id)) == 4, timeout=15)
    time.sleep(0.8)
    assert len(receiver.tasks(task_id)) == 4  # RELAYGATE_MJ_HOOK_ATTEMPTS


def test_a_hook_at_an_address_the_fetcher_refuses_is_never_called(t: MjTenant, mj: MockMidjourney,
                                                                  refused_receiver: HookReceiver) -> None:
    task_id = t.ok("submit/imagine", {"prompt": "a fox", "notifyHook": refused_receiver.url})["result"]
    _step_through(t, mj, task_id)
    time.sleep(0.5)
    assert refused_receiver.received == []  # loopback, not allow-listed: refused before any connection
    assert t.task(task_id)["status"] == "SUCCESS"


def test_a_slow_hook_does_not_hold_up_polling(t: MjTenant, mj: MockMidjourney, receiver: HookReceiver) -> None:
    receiver.delay = 1.5
    task_id = t.ok("submit/imagine", {"prompt": "a fox", "notifyHook": receiver.url})["result"]
    started = time.monotonic()
    _step_through(t, mj, task_id)
    assert time.monotonic() - started < 3  # five phases seen while the first call is still being answered
    receiver.delay = 0.0
    t.rg.wait_for(lambda: len(receiver.tasks(task_id)) == len(PHASES), timeout=20)
    assert _phases(receiver.tasks(task_id)) == PHASES
