"""MidJourney billing: a refused submission costs nothing, a task that fails, is cancelled or is forgotten by the
upstream is refunded exactly once — to the key's quota and the user's balance, with a log row for the charge and
one for the refund — and a restart mid-task loses nothing."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from relaygate.billing.refunds import REFUND_CANCEL, REFUND_FAILURE, REFUND_TIMEOUT
from tests.conftest import Relaygate
from tests.midjourney_env import PRICES, MjTenant, mj_relaygate, mj_tenant, quota
from tests.upstreams.midjourney_mock import MockMidjourney

IMAGINE = quota(PRICES["imagine"])


@pytest.fixture(scope="module")
def rg(tmp_path_factory: pytest.TempPathFactory, midjourney_upstream: MockMidjourney) -> Iterator[Relaygate]:
    # tasks the upstream never finishes are given up after 1.5 s here (an hour by default)
    gate = mj_relaygate(tmp_path_factory.mktemp("mj-billing"), midjourney_upstream, RELAYGATE_MJ_TASK_TIMEOUT="1.5")
    yield gate
    gate.close()


def _refunded(t: MjTenant, reason: str, charges: int = 1) -> list[dict[str, Any]]:
    """The tenant's log once the refund is in: the charges, then one refund row giving them back."""
    t.rg.wait_for(lambda: any(r["error_code"] == reason for r in t.logs()))
    time.sleep(0.3)  # further poll rounds must not refund again
    rows = t.logs()
    refunds = [r for r in rows if r["error_code"] == reason]
    charged = [r for r in rows if r["cost"] > 0]
    assert len(refunds) == 1 and len(charged) == charges
    assert refunds[0]["cost"] == -sum(r["cost"] for r in charged)
    assert refunds[0]["request_id"] == charged[-1]["request_id"]
    assert t.spent() == (0, 0)
    return rows


@pytest.mark.parametrize("code", [23, 24, 4, 9, 3])
def test_a_submission_the_upstream_refuses_costs_nothing(t: MjTenant, mj: MockMidjourney, code: int) -> None:
    mj.refuse_next(code)
    resp = t.submit("submit/imagine", {"prompt": "a fox"})
    assert resp.status_code in (200, 404) and resp.json()["code"] == code
    assert resp.json()["result"] is None
    assert t.spent() == (0, 0)
    assert [r["cost"] for r in t.logs()] == [0]


def test_codes_21_and_22_are_accepted_and_charged(t: MjTenant, mj: MockMidjourney) -> None:
    mj.refuse_next(22, 21)
    queued = t.ok("submit/imagine", {"prompt": "a fox"})
    exists = t.ok("submit/imagine", {"prompt": "a fox"})
    assert (queued["code"], exists["code"]) == (22, 21) and queued["properties"] == {"numberOfQueues": 1}
    assert t.finished(queued["result"])["status"] == "SUCCESS"
    assert t.spent() == (2 * IMAGINE, 2 * IMAGINE)


def test_a_task_that_succeeds_keeps_its_charge(t: MjTenant, mj: MockMidjourney) -> None:
    task = t.finished(t.ok("submit/imagine", {"prompt": "a fox"})["result"])
    assert task["status"] == "SUCCESS"
    time.sleep(0.2)
    assert t.spent() == (IMAGINE, IMAGINE)
    assert [r["error_code"] for r in t.logs()] == [None]


def test_a_failed_task_is_refunded_once_to_the_key_and_the_user(t: MjTenant, mj: MockMidjourney) -> None:
    task_id = t.ok("submit/imagine", {"prompt": "a fox [mock fail]"})["result"]
    task = t.finished(task_id)
    assert (task["status"], task["failReason"]) == ("FAILURE", "[Invalid parameter] Invalid value")
    rows = _refunded(t, REFUND_FAILURE)
    assert rows[0]["endpoint"] == "midjourney" and rows[0]["channel_id"] == t.channel_id


def test_a_cancelled_task_is_refunded_once(t: MjTenant, mj: MockMidjourney) -> None:
    task_id = t.ok("submit/imagine", {"prompt": "a fox [mock cancel]"})["result"]
    assert t.finished(task_id)["status"] == "CANCEL"
    _refunded(t, REFUND_CANCEL)


def test_a_task_the_upstream_forgets_is_given_up_after_the_timeout_and_refunded(t: MjTenant,
                                                                                mj: MockMidjourney) -> None:
    vanished = t.ok("submit/imagine", {"prompt": "a fox [mock vanish]"})["result"]
    stuck = t.ok("submit/imagine", {"prompt": "a fox [mock stuck]"})["result"]
    for task_id in (vanished, stuck):
        task = t.finished(task_id, timeout=6)
        assert task["status"] == "FAILURE" and "within 1.5 s" in task["failReason"]
    t.rg.wait_for(lambda: sum(r["error_code"] == REFUND_TIMEOUT for r in t.logs()) == 2)
    time.sleep(0.3)
    assert sorted(r["cost"] for r in t.logs()) == [-IMAGINE, -IMAGINE, IMAGINE, IMAGINE]
    assert t.spent() == (0, 0)


def test_a_failed_action_refunds_the_action_not_the_task_it_acted_on(t: MjTenant, mj: MockMidjourney) -> None:
    grid = t.finished(t.ok("submit/imagine", {"prompt": "a fox"})["result"])
    mj.outcome = "failure"
    upscale = t.ok("submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
    assert t.finished(upscale["result"])["status"] == "FAILURE"
    t.rg.wait_for(lambda: any(r["error_code"] == REFUND_FAILURE for r in t.logs()))
    time.sleep(0.2)
    assert t.spent() == (IMAGINE, IMAGINE)


def test_an_unlimited_key_gets_nothing_back_but_the_user_does(rg: Relaygate, mj: MockMidjourney) -> None:
    t = mj_tenant(rg, mj, key_fields={"quota": None})
    t.finished(t.ok("submit/imagine", {"prompt": "a fox [mock fail]"})["result"])
    rg.wait_for(lambda: any(r["error_code"] == REFUND_FAILURE for r in t.logs()))
    assert t.spent()[0] == 0
    key = rg.ok("GET", f"/api/keys/{t.key_id}")
    assert (key["unlimited"], key["used_quota"]) == (True, 0)


def test_a_restart_mid_task_loses_nothing(tmp_path_factory: pytest.TempPathFactory, mj: MockMidjourney) -> None:
    rg = mj_relaygate(tmp_path_factory.mktemp("mj-restart"), mj)
    try:
        mj.step_seconds = None
        t = mj_tenant(rg, mj)
        ok = t.ok("submit/imagine", {"prompt": "a fox"})["result"]
        failing = t.ok("submit/imagine", {"prompt": "a fox [mock fail]"})["result"]
        mj.advance(steps=2)
        t.wait(ok, lambda task: task["progress"] == "25%")
        rg.stop(signal.SIGKILL)
        mj.advance(steps=10)  # both end while relaygate is down
        rg.start()
        assert t.finished(ok)["status"] == "SUCCESS"
        assert t.finished(failing)["status"] == "FAILURE"
        rg.wait_for(lambda: any(r["error_code"] == REFUND_FAILURE for r in t.logs()))
        time.sleep(0.3)
        assert sorted(r["cost"] for r in t.logs()) == [-IMAGINE, IMAGINE, IMAGINE]
        assert t.spent() == (IMAGINE, IMAGINE)
    finally:
        rg.close()
