"""The MidJourney pieces on their own: signed links, the poll schedule and its rounds (batched, writing only what
changed), the provider's requests and refusals, the error shape, the key headers and the price names."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from relaygate.admin import schemas as s
from relaygate.admin.service import Operator
from relaygate.billing.default_prices import DEFAULT_PRICES
from relaygate.core.errors import BadRequest, NotFound, Unauthorized, UpstreamClientError, UpstreamFailed
from relaygate.core.records import ChannelRecord
from relaygate.core.types import MIDJOURNEY
from relaygate.protocols.midjourney import Mode, TaskAction, TaskStatus
from relaygate.protocols.midjourney_answers import Task
from relaygate.providers.base import CallSpec, UpstreamRequest
from relaygate.providers.midjourney import MidjourneyOptions, MidjourneyProvider
from relaygate.relay.auth import key_from_headers
from relaygate.relay.catalog import CatalogCache
from relaygate.relay.operations.midjourney.request import price_name
from relaygate.relay.routing import ProcessChannelHealth
from relaygate.server.errors import midjourney_error_response
from relaygate.store.database import Database
from relaygate.store.leases import Lease
from relaygate.store.task_sql import PollRow, TaskRow, insert_task
from relaygate.tasks.links import ImageLinks, LinkCheck
from relaygate.tasks.metrics import TaskMetrics
from relaygate.tasks.poller import PollSettings, Schedule, TaskPoller, change_for
from relaygate.tasks.views import snapshot
from tests.mock_transport import MockTransport, Reply


def test_a_link_is_valid_until_it_expires_and_only_for_its_task() -> None:
    links = ImageLinks("secret", 600)
    url = links.url("https://relay.example", "123", 1000.0)
    expires, sig = url.split("?")[1].replace("expires=", "").split("&sig=")
    assert url.startswith("https://relay.example/mj/image/123?") and int(expires) >= 1600
    assert links.url("https://relay.example", "123", 1001.0) == url  # stable while the task is polled
    assert links.check("123", expires, sig, 1000.0) is LinkCheck.VALID
    assert links.check("124", expires, sig, 1000.0) is LinkCheck.INVALID
    assert ImageLinks("other", 600).check("123", expires, sig, 1000.0) is LinkCheck.INVALID
    assert links.check("123", expires, sig, int(expires) + 1.0) is LinkCheck.EXPIRED
    for bad in ((None, sig), (expires, None), ("12x", sig), ("9" * 20, sig), (expires, "☃")):
        assert links.check("123", bad[0], bad[1], 1000.0) is LinkCheck.INVALID


def test_a_task_that_does_not_change_is_asked_less_and_less_often() -> None:
    schedule = Schedule(PollSettings(interval=1.0, max_interval=3.0))
    assert schedule.due("t", 0.0)
    delays = []
    now = 0.0
    for _ in range(5):
        schedule.seen("t", now, changed=False)
        due = next(at for at in (now + d / 10 for d in range(1, 100)) if schedule.due("t", at))
        delays.append(round(due - now, 1))
        now = due
    assert delays == [1.0, 1.5, 2.3, 3.0, 3.0]
    schedule.seen("t", now, changed=True)
    assert not schedule.due("t", now + 0.9) and schedule.due("t", now + 1.0)
    schedule.channel_failed(7, 0.0)
    schedule.channel_failed(7, 0.0)
    assert not schedule.channel_due(7, 3.9) and schedule.channel_due(7, 4.0)
    schedule.channel_answered(7)
    assert schedule.channel_due(7, 0.0)


def test_a_change_is_a_new_status_progress_image_or_failure() -> None:
    row = PollRow("t", "u", 1, "IN_PROGRESS", "25%", "http://up/1.png", None, 0, 3)
    same = Task("u", TaskAction.IMAGINE, TaskStatus.IN_PROGRESS, progress="25%", image_url="http://up/1.png")
    assert change_for(row, same) is None
    done = Task("u", TaskAction.IMAGINE, TaskStatus.SUCCESS, progress="100%", image_url="http://up/2.png",
                properties={"finalPrompt": "x", "discordInstanceId": "1"})
    change = change_for(row, done)
    assert change is not None and (change.status, change.finished, change.version) == ("SUCCESS", True, 3)
    assert change.properties == {"finalPrompt": "x"}  # the upstream's accounts stay out


def _channel(**options: Any) -> ChannelRecord:
    return ChannelRecord(1, "mj", "midjourney", "http://mj.test", ("secret",), ("midjourney",), {}, ("g",), 0, 1, None,
                         "enabled", None, MidjourneyOptions(**options))


def test_the_provider_sends_the_secret_and_the_mode_its_way() -> None:
    provider = MidjourneyProvider()
    spec = CallSpec(MIDJOURNEY, "/mj-relax/mj/submit/imagine", {"prompt": "a"}, "midjourney", False, False)
    sent = provider.build(_channel(), "secret", spec)
    assert (sent.method, sent.url, sent.headers["mj-api-secret"]) == ("POST", "http://mj.test/mj-relax/mj/submit/imagine",
                                                                      "secret")
    assert provider.build(_channel(mode_prefix=False), "secret", spec).url == "http://mj.test/mj/submit/imagine"
    seed = CallSpec(MIDJOURNEY, "/mj/task/42/image-seed", {}, "midjourney", False, False)
    assert (provider.build(_channel(), "s", seed).method, provider.build(_channel(), "s", seed).body) == ("GET", None)
    assert provider.answer(spec, b'{"code": 24, "description": "banned"}').usage.calls == 0  # type: ignore[union-attr]
    assert provider.answer(spec, b'{"code": 22, "result": "9"}').usage.calls == 1  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        provider.answer(spec, b"<html>")
    refusal = provider.refusal(404, orjson.dumps({"code": 3, "description": "no task", "result": None}))
    assert (refusal.code, refusal.message) == ("3", "no task")
    spring = provider.refusal(400, b'{"timestamp": "x", "status": 400, "error": "Bad Request", "path": "/mj"}')
    assert (spring.code, spring.message) == (None, "the upstream answered HTTP 400 (Bad Request)")


@pytest.mark.parametrize(("error", "status", "code"), [
    (BadRequest("prompt is required"), 400, 4), (NotFound("no task"), 404, 3), (UpstreamFailed("down"), 502, 9),
    (UpstreamClientError(400, "banned", type_="midjourney_error", code="24", param=None), 400, 24),
])
def test_errors_take_midjourney_proxys_shape(error: Any, status: int, code: int) -> None:
    resp = midjourney_error_response(error, "req_1")
    assert resp.status == status and resp.headers["X-Request-Id"] == "req_1"
    assert orjson.loads(resp.body) == {"code": code, "description": error.message, "result": None,  # type: ignore
                                       "properties": {}}


def test_key_errors_stay_openai_shaped() -> None:
    resp = midjourney_error_response(Unauthorized("bad key"), "req_1")
    assert resp.status == 401 and orjson.loads(resp.body)["error"]["code"] == "invalid_api_key"  # type: ignore


@pytest.mark.parametrize(("headers", "key"), [
    ({"mj-api-secret": "sk-a"}, "sk-a"),
    ({"Authorization": "Bearer midjourney-proxy", "mj-api-secret": "sk-a"}, "sk-a"),
    ({"Authorization": "Bearer ", "mj-api-secret": "sk-a"}, "sk-a"),
    ({"Authorization": "midjourney-proxy", "mj-api-secret": "sk-a"}, "sk-a"),  # new-api takes it bare too
    ({"mj-api-secret": "Bearer sk-a"}, "sk-a"),
    ({"Authorization": "Bearer midjourney-proxy", "mj-api-secret": "bearer  sk-a "}, "sk-a"),
    ({"Authorization": "Basic abc", "mj-api-secret": "sk-a"}, ""),
    ({"Authorization": "Bearer sk-b", "mj-api-secret": "sk-a"}, "sk-b"),
    ({"Authorization": "Bearer midjourney-proxy"}, "midjourney-proxy"),
    ({"x-api-key": "sk-c", "mj-api-secret": "sk-a"}, "sk-c"),
    ({}, None),
])
def test_mj_api_secret_counts_when_authorization_is_absent_or_a_placeholder(headers: dict[str, str],
                                                                            key: str | None) -> None:
    assert key_from_headers(headers) == key


def test_every_action_has_a_default_price_in_every_mode() -> None:
    for action in TaskAction:
        for mode in Mode:
            price = DEFAULT_PRICES[price_name(action, mode)]
            assert price.per_call is not None
    assert DEFAULT_PRICES["mj-imagine-relax"].per_call == 0.05 and DEFAULT_PRICES["mj-imagine-turbo"].per_call == 0.2


def _list_answer(tasks: dict[str, dict[str, Any]]) -> Any:
    def handle(req: UpstreamRequest) -> Reply:
        assert req.url == "http://mj.test/mj/task/list-by-condition" and req.headers["mj-api-secret"] == "secret"
        ids = orjson.loads(req.body)["ids"]  # type: ignore[arg-type]
        return Reply(chunks=[orjson.dumps([tasks[i] for i in ids if i in tasks])])
    return handle


def test_a_round_asks_in_batches_and_writes_only_what_changed(tmp_path: Path) -> None:
    async def main() -> None:
        db = Database(f"sqlite:///{tmp_path}/poll.db")
        db.migrate()
        operator = Operator(db)
        user = await operator.create_user(s.UserIn(name="u", balance=10))
        key = await operator.create_key(s.KeyIn(user_id=user.id))
        channel = await operator.create_channel(s.ChannelIn(name="mj", type="midjourney", base_url="http://mj.test",
                                                            credentials=["secret"], models=["midjourney"]))
        now = time.time()
        for i in range(5):
            await db.run(lambda c, i=i: insert_task(c, TaskRow(  # type: ignore[misc]
                f"t{i}", f"u{i}", channel.id, key.id, user.id, f"r{i}", "IMAGINE", "fast", "NOT_START",
                int(now * 1000), now, notify_hook="http://hook.test/" if i == 0 else None)))
        upstream = {f"u{i}": {"id": f"u{i}", "status": "NOT_START"} for i in range(5)}
        transport = MockTransport(_list_answer(upstream))
        catalogs = CatalogCache(db, unpriced=None, poll_interval=60)
        await catalogs.reload()
        woken: list[int] = []
        poller = TaskPoller(db=db, catalogs=catalogs, transport=transport, health=ProcessChannelHealth(5),
                            lease=Lease(db, "mj-tasks", ttl=10), settings=PollSettings(interval=0.01, batch=2),
                            snapshot=snapshot, on_queued=lambda: woken.append(1), metrics=TaskMetrics())
        first = await poller.round()
        assert (first.unfinished, first.calls, first.asked, first.written) == (5, 3, 5, [])
        assert [len(orjson.loads(r.body)["ids"]) for r in transport.requests] == [2, 2, 1]  # type: ignore[arg-type]
        upstream["u0"] = {"id": "u0", "status": "IN_PROGRESS", "progress": "50%"}
        await asyncio.sleep(0.02)
        second = await poller.round()
        assert [row.id for row in second.written] == ["t0"] and woken == [1]
        assert (second.written[0].status, second.written[0].progress, second.written[0].version) == (
            "IN_PROGRESS", "50%", 1)
        queued = await db.run(lambda c: c.exec_driver_sql("SELECT task_id, version FROM mj_notifications").all())
        assert [tuple(r) for r in queued] == [("t0", 1)]
        upstream["u1"] = {"id": "u1", "status": "SUCCESS", "imageUrl": "http://mj.test/1.png",
                          "buttons": [{"customId": "MJ::JOB::upsample::1::h", "label": "U1"}]}
        upstream["u2"] = {"id": "u2", "status": "FAILURE", "failReason": "banned"}
        await asyncio.sleep(0.02)
        third = await poller.round()
        assert sorted(row.id for row in third.written) == ["t1", "t2"] and third.refunded == 1
        states = await db.run(lambda c: c.exec_driver_sql("SELECT id, status, billing, finished FROM mj_tasks "
                                                          "ORDER BY id").all())
        assert [tuple(r) for r in states][:3] == [("t0", "IN_PROGRESS", "charged", 0), ("t1", "SUCCESS", "kept", 1),
                                                 ("t2", "FAILURE", "refunded", 1)]
        db.close()

    asyncio.run(main())
