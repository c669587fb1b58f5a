"""The Responses API's stateful routes through relaygate (the openai SDK against a real process): every follow-up of
a response — previous_response_id, retrieve, delete, cancel, input items, input tokens — goes to the channel that
made it, even among equal channels, and only for the key that made it; a background response is billed its usage
once, when first seen finished."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import openai
import orjson
import pytest

from tests.conftest import UPSTREAM_KEY, Relaygate, Tenant, make_tenant
from tests.test_responses import parse_events
from tests.upstreams.anthropic_mock import MockAnthropic
from tests.upstreams.openai_mock import MockOpenAI

PRICE = {"input_per_1m": 2.5, "output_per_1m": 10.0}
FOLLOW_UPS = ("/responses/", "/input_items", "/cancel", "/input_tokens")


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[MockOpenAI, MockOpenAI]]:
    a = MockOpenAI(api_keys=[UPSTREAM_KEY], models=["gpt-4o-mini"]).start()
    b = MockOpenAI(api_keys=[UPSTREAM_KEY], models=["gpt-4o-mini"]).start()
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
def pair(relaygate: Relaygate, fakes: tuple[MockOpenAI, MockOpenAI]) -> Iterator[tuple[Tenant, openai.OpenAI]]:
    """A tenant with two equal channels (same priority and weight), one on each fake."""
    for fake in fakes:
        fake.reset()
    tenant = make_tenant(relaygate, [f.base_url for f in fakes], models=["gpt-4o-mini"], quota=10**9)
    relaygate.ok("PUT", "/api/prices/gpt-4o-mini", PRICE)
    with relaygate.client(tenant.key) as client:
        yield tenant, client


def maker(fakes: tuple[MockOpenAI, MockOpenAI], response_id: str) -> MockOpenAI:
    (fake,) = [f for f in fakes if response_id in f.responses.stored]
    return fake


def follow_ups(fake: MockOpenAI) -> int:
    return sum(1 for r in fake.requests if r.path != "/v1/responses")


def cost(usage: Any) -> int:
    usd = usage.input_tokens * Fraction(str(PRICE["input_per_1m"])) + usage.output_tokens * Fraction(
        str(PRICE["output_per_1m"]))
    return math.ceil(usd / 10**6 * 500_000)


def spent(relaygate: Relaygate, tenant: Tenant) -> int:
    return 10**9 - int(relaygate.ok("GET", f"/api/keys/{tenant.key_id}")["remain_quota"])


def test_every_follow_up_goes_to_the_channel_that_made_the_response(
        pair: tuple[Tenant, openai.OpenAI], fakes: tuple[MockOpenAI, MockOpenAI]) -> None:
    """Twelve conversations over two equal channels: unpinned, a follow-up would miss its response half the time."""
    _, client = pair
    for n in range(12):
        first = client.responses.create(model="gpt-4o-mini", input=f"hello {n}")
        fake = maker(fakes, first.id)
        second = client.responses.create(model="gpt-4o-mini", input="and again", previous_response_id=first.id)
        assert second.id in fake.responses.stored and second.previous_response_id == first.id
        assert client.responses.retrieve(second.id).output_text == second.output_text
        items = client.responses.input_items.list(second.id, order="asc", limit=5)
        assert [i.content[0].text for i in items.data] == ["and again"]  # type: ignore[union-attr]
        count = client.responses.input_tokens.count(model="gpt-4o-mini", input="more", previous_response_id=second.id)
        assert count.input_tokens > 0
    # every follow-up found its response (a fake asked about another's answers 404/400, which the SDK raises)
    assert sum(follow_ups(f) for f in fakes) == 36
    assert all(f.responses.stored for f in fakes)  # both channels were used


def test_input_items_and_retrieve_forward_their_query_and_nothing_else(
        relaygate: Relaygate, pair: tuple[Tenant, openai.OpenAI], fakes: tuple[MockOpenAI, MockOpenAI]) -> None:
    tenant, client = pair
    resp = client.responses.create(model="gpt-4o-mini", input=[
        {"role": "user", "content": "one"}, {"role": "user", "content": "two"}, {"role": "user", "content": "three"}])
    fake = maker(fakes, resp.id)
    page = client.responses.input_items.list(resp.id, limit=2, order="desc")
    assert [i.content[0].text for i in page.data] == ["three", "two"]  # type: ignore[union-attr]
    assert page.has_more
    after = client.responses.input_items.list(resp.id, after=page.data[-1].id, order="desc")
    assert [i.content[0].text for i in after.data] == ["one"]  # type: ignore[union-attr]
    headers = {"Authorization": f"Bearer {tenant.key}"}
    relaygate.http.get(f"/v1/responses/{resp.id}?include[]=message.output_text.logprobs&api-version=x&secret=1",
                       headers=headers)
    assert fake.requests[-1].path == f"/v1/responses/{resp.id}"
    assert fake.requests[-1].query == "include[]=message.output_text.logprobs"


def test_another_key_cannot_see_continue_or_delete_a_response(
        relaygate: Relaygate, pair: tuple[Tenant, openai.OpenAI], fakes: tuple[MockOpenAI, MockOpenAI]) -> None:
    tenant, client = pair
    resp = client.responses.create(model="gpt-4o-mini", input="my secret")
    other = relaygate.ok("POST", "/api/keys", {"user_id": tenant.user_id, "name": "other"})["key"]
    relaygate.wait_for(lambda: relaygate.http.get("/v1/models", headers={"Authorization": f"Bearer {other}"})
                       .status_code == 200)
    before = [len(f.requests) for f in fakes]
    with relaygate.client(other) as intruder:
        for attempt in (lambda: intruder.responses.retrieve(resp.id), lambda: intruder.responses.delete(resp.id),
                        lambda: intruder.responses.cancel(resp.id),
                        lambda: intruder.responses.input_items.list(resp.id)):
            with pytest.raises(openai.NotFoundError) as caught:
                attempt()
            assert caught.value.response.json()["error"]["message"] == f"Response with id '{resp.id}' not found."
        with pytest.raises(openai.BadRequestError) as refused:
            intruder.responses.create(model="gpt-4o-mini", input="tell me", previous_response_id=resp.id)
        assert refused.value.code == "previous_response_not_found"
        with pytest.raises(openai.BadRequestError):
            intruder.responses.input_tokens.count(model="gpt-4o-mini", previous_response_id=resp.id)
        # exactly what an unknown id gets
        unknown_id = "resp_" + "0" * 48
        with pytest.raises(openai.NotFoundError) as unknown:
            intruder.responses.retrieve(unknown_id)
        assert unknown.value.response.json()["error"]["message"] == f"Response with id '{unknown_id}' not found."
    assert [len(f.requests) for f in fakes] == before  # nothing reached an upstream
    assert client.responses.retrieve(resp.id).output_text == resp.output_text


def test_a_deleted_response_is_forgotten(pair: tuple[Tenant, openai.OpenAI],
                                         fakes: tuple[MockOpenAI, MockOpenAI]) -> None:
    _, client = pair
    resp = client.responses.create(model="gpt-4o-mini", input="forget me")
    fake = maker(fakes, resp.id)
    client.responses.delete(resp.id)
    assert resp.id not in fake.responses.stored
    asked = len(fake.requests)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(resp.id)
    assert len(fake.requests) == asked  # relaygate answered: it forgot the response with its deletion


def test_an_unstored_response_is_not_remembered(pair: tuple[Tenant, openai.OpenAI],
                                                fakes: tuple[MockOpenAI, MockOpenAI]) -> None:
    _, client = pair
    resp = client.responses.create(model="gpt-4o-mini", input="ephemeral", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(resp.id)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-4o-mini", input="next", previous_response_id=resp.id)
    assert sum(follow_ups(f) for f in fakes) == 0


def test_a_background_response_is_billed_once_when_first_seen_finished(
        relaygate: Relaygate, pair: tuple[Tenant, openai.OpenAI], fakes: tuple[MockOpenAI, MockOpenAI]) -> None:
    tenant, client = pair
    for fake in fakes:
        fake.responses.background_seconds = 0.5
    queued = client.responses.create(model="gpt-4o-mini", input="work on it", background=True)
    assert queued.status == "queued" and queued.usage is None
    assert spent(relaygate, tenant) == 0
    assert client.responses.retrieve(queued.id).status == "in_progress"
    time.sleep(0.6)
    done = client.responses.retrieve(queued.id)
    assert done.status == "completed" and done.usage is not None
    assert client.responses.retrieve(queued.id).status == "completed"
    rows = relaygate.ok("GET", f"/api/logs?key_id={tenant.key_id}")
    assert sorted(r["endpoint"] for r in rows) == ["responses", "responses.retrieve", "responses.retrieve",
                                                   "responses.retrieve"]
    assert sorted(r["cost"] for r in rows) == [0, 0, 0, cost(done.usage)]
    assert spent(relaygate, tenant) == cost(done.usage)


def test_a_background_response_can_be_cancelled_and_streamed_again(
        relaygate: Relaygate, pair: tuple[Tenant, openai.OpenAI], fakes: tuple[MockOpenAI, MockOpenAI]) -> None:
    tenant, client = pair
    for fake in fakes:
        fake.responses.background_seconds = 30
    slow = client.responses.create(model="gpt-4o-mini", input="take your time", background=True)
    cancelled = client.responses.cancel(slow.id)
    assert cancelled.status == "cancelled"
    for fake in fakes:
        fake.responses.background_seconds = 0.0
    quick = client.responses.create(model="gpt-4o-mini", input="quick", background=True)
    time.sleep(0.05)
    events = list(client.responses.retrieve(quick.id, stream=True, starting_after=2))
    assert events[0].sequence_number == 3 and events[-1].type == "response.completed"
    assert events[-1].response.usage is not None
    headers = {"Authorization": f"Bearer {tenant.key}"}
    with relaygate.http.stream("GET", f"/v1/responses/{quick.id}?stream=true", headers=headers) as resp:
        raw = resp.read()
    assert raw == maker(fakes, quick.id).responses.streamed[quick.id]
    assert parse_events(raw)[0]["type"] == "response.created"
    assert spent(relaygate, tenant) == cost(events[-1].response.usage)  # billed once, by the first stream


def test_a_background_stream_the_client_leaves_is_billed_once_when_seen_finished(
        relaygate: Relaygate, pair: tuple[Tenant, openai.OpenAI], fakes: tuple[MockOpenAI, MockOpenAI]) -> None:
    """The response runs on upstream after the client left: the retrieve that sees it finished bills its usage, and
    the abandoned stream bills nothing on top (not the tokens it counted on the way)."""
    tenant, client = pair
    for fake in fakes:
        fake.stream_delay = 0.05
    headers = {"Authorization": f"Bearer {tenant.key}"}
    body = {"model": "gpt-4o-mini", "input": "a long story", "background": True, "stream": True}
    with relaygate.http.stream("POST", "/v1/responses", headers=headers, json=body) as resp:
        lines = resp.iter_lines()
        created = next(line for line in lines if line.startswith("data: "))
        next(line for line in lines if '"response.output_text.delta"' in line)
    response_id = orjson.loads(created.removeprefix("data: "))["response"]["id"]
    relaygate.wait_for(lambda: len(relaygate.ok("GET", f"/api/logs?key_id={tenant.key_id}")) == 1)
    [left] = relaygate.ok("GET", f"/api/logs?key_id={tenant.key_id}")
    assert (left["status"], left["cost"]) == (499, 0)
    done = client.responses.retrieve(response_id)
    assert done.status == "completed" and done.usage is not None
    assert spent(relaygate, tenant) == cost(done.usage)


def test_input_tokens_are_counted_upstream_and_cost_nothing(relaygate: Relaygate,
                                                            pair: tuple[Tenant, openai.OpenAI]) -> None:
    tenant, client = pair
    count = client.responses.input_tokens.count(model="gpt-4o-mini", input="four words go here",
                                                instructions="two more")
    assert count.input_tokens == 3 + 4 + 2
    row = relaygate.ok("GET", f"/api/logs?key_id={tenant.key_id}")[0]
    assert (row["endpoint"], row["cost"]) == ("responses.input_tokens", 0)
    assert spent(relaygate, tenant) == 0


def test_responses_are_remembered_on_both_store_backends(store_relaygate: Relaygate,
                                                         fakes: tuple[MockOpenAI, MockOpenAI]) -> None:
    """SQLite and PostgreSQL: pinned follow-ups, key isolation, a relayed conversation, billing a background response
    once, forgetting a deleted one."""
    rg = store_relaygate
    for fake in fakes:
        fake.reset()
        fake.responses.background_seconds = 0.0
    tenant = make_tenant(rg, [f.base_url for f in fakes], models=["gpt-4o-mini"], quota=10**9)
    rg.ok("PUT", "/api/prices/gpt-4o-mini", PRICE)
    with MockAnthropic(api_keys=[UPSTREAM_KEY], models=["claude-sonnet-4-20250514"]) as claude, \
            rg.client(tenant.key) as client:
        rg.ok("POST", "/api/channels", {"name": f"{tenant.group}-claude", "type": "anthropic",
                                        "base_url": claude.base_url, "credentials": [UPSTREAM_KEY],
                                        "models": ["claude-sonnet-4-20250514"], "groups": [tenant.group]})
        rg.ok("PUT", "/api/prices/claude-sonnet-4-20250514", PRICE)
        rg.wait_for(lambda: rg.http.post("/v1/responses", headers={"Authorization": f"Bearer {tenant.key}"}, json={
            "model": "claude-sonnet-4-20250514", "input": "ping", "store": False}).status_code == 200)
        first = client.responses.create(model="gpt-4o-mini", input="hello")
        second = client.responses.create(model="gpt-4o-mini", input="again", previous_response_id=first.id)
        assert second.id in maker(fakes, first.id).responses.stored
        talk = client.responses.create(model="claude-sonnet-4-20250514", input="My name is Ada.")
        client.responses.create(model="claude-sonnet-4-20250514", input="Name?", previous_response_id=talk.id)
        assert claude.requests[-1].json["messages"][0]["content"][0]["text"] == "My name is Ada."
        queued = client.responses.create(model="gpt-4o-mini", input="later", background=True)
        time.sleep(0.05)
        done = client.responses.retrieve(queued.id)
        client.responses.retrieve(queued.id)
        client.responses.delete(first.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(first.id)
    other = rg.ok("POST", "/api/keys", {"user_id": tenant.user_id, "name": "other"})["key"]
    rg.wait_for(lambda: rg.http.get("/v1/models", headers={"Authorization": f"Bearer {other}"}).status_code == 200)
    with rg.client(other) as intruder, pytest.raises(openai.NotFoundError):
        intruder.responses.retrieve(second.id)
    rows = rg.ok("GET", f"/api/logs?key_id={tenant.key_id}")
    billed = [(r["status"], r["cost"]) for r in rows if r["endpoint"] == "responses.retrieve"]
    assert sorted(billed) == [(200, 0), (200, cost(done.usage)), (404, 0)]
