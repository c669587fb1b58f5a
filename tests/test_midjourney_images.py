"""/mj/image/{id}: a task's image through relaygate behind an unguessable signed link that needs no key and expires;
images on the channel's own host are fetched as operator configuration, any other through the fetcher's rules."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest

from relaygate.tasks.links import ImageLinks
from tests.conftest import Relaygate
from tests.midjourney_env import MjTenant, mj_relaygate
from tests.upstreams.midjourney_mock import MockMidjourney
from tests.upstreams.midjourney_wire import png

SECRET = "test-image-secret"


@pytest.fixture(scope="module")
def rg(tmp_path_factory: pytest.TempPathFactory, midjourney_upstream: MockMidjourney) -> Iterator[Relaygate]:
    gate = mj_relaygate(tmp_path_factory.mktemp("mj-images"), midjourney_upstream, RELAYGATE_MJ_IMAGE_SECRET=SECRET,
                        RELAYGATE_FETCH_ALLOW=f"localhost:{midjourney_upstream.port}")
    yield gate
    gate.close()


def _finished(t: MjTenant) -> dict[str, str]:
    task = t.finished(t.ok("submit/imagine", {"prompt": "a fox"})["result"])
    assert task["status"] == "SUCCESS"
    return task


def test_an_image_link_works_without_credentials(t: MjTenant, mj: MockMidjourney) -> None:
    task = _finished(t)
    resp = httpx.get(task["imageUrl"])  # as an <img src>: no key, no header
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    upstream_id = next(iter(mj.tasks))
    assert resp.content == png(f"{upstream_id}/grid")
    assert "immutable" in resp.headers["cache-control"]
    assert mj.calls("image")[-1].headers.get("mj-api-secret") is None  # no secret sent for an image
    again = t.task(task["id"])["imageUrl"]
    assert again == task["imageUrl"]  # one link while the task is polled again and again


def test_a_tampered_or_expired_link_is_refused(t: MjTenant, mj: MockMidjourney) -> None:
    task = _finished(t)
    other = _finished(t)
    parts = urlsplit(task["imageUrl"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{parts.scheme}://{parts.netloc}"
    flipped = query["sig"][:-1] + ("A" if query["sig"][-1] != "A" else "B")
    later = int(query["expires"]) + 3600
    for url in (
        f"{base}/mj/image/{task['id']}?expires={query['expires']}&sig={flipped}",
        f"{base}/mj/image/{task['id']}?expires={later}&sig={query['sig']}",
        f"{base}/mj/image/{other['id']}?expires={query['expires']}&sig={query['sig']}",
        f"{base}/mj/image/{task['id']}?expires={query['expires']}",
        f"{base}/mj/image/{task['id']}",
        f"{base}/mj/image/{task['id']}?expires=x&sig=%E2%98%83",
    ):
        resp = httpx.get(url)
        assert resp.status_code == 403, url
        assert resp.json()["error"]["code"] == "invalid_link" and resp.headers["X-Request-Id"]
    past = int(time.time()) - 10  # signed right, with the operator's secret, but its time is up
    sig = ImageLinks(SECRET, 60).signature(task["id"], past)
    resp = httpx.get(f"{base}/mj/image/{task['id']}?expires={past}&sig={sig}")
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "link_expired")
    assert httpx.get(task["imageUrl"]).status_code == 200


def test_an_image_elsewhere_goes_through_the_fetcher_rules(rg: Relaygate, t: MjTenant, mj: MockMidjourney) -> None:
    mj.image_base = f"http://localhost:{mj.port}"  # another host than the channel's: allow-listed here
    allowed = _finished(t)
    resp = httpx.get(allowed["imageUrl"])
    assert resp.status_code == 200 and resp.content.startswith(b"\x89PNG")
    mj.image_base = f"http://127.0.0.2:{mj.port}"  # loopback, not allow-listed
    refused = _finished(t)
    before = len(mj.calls("image"))
    resp = httpx.get(refused["imageUrl"])
    assert resp.status_code == 502 and resp.json()["code"] == 9
    assert "private, loopback" in resp.json()["description"]
    assert len(mj.calls("image")) == before


def test_a_task_without_an_image_has_no_link(t: MjTenant, mj: MockMidjourney) -> None:
    mj.step_seconds = None
    task_id = t.ok("submit/imagine", {"prompt": "a fox"})["result"]
    assert t.task(task_id)["imageUrl"] is None
    links = ImageLinks(SECRET, 60)
    url = links.url(t.rg.url, task_id, time.time())
    resp = httpx.get(url)
    assert (resp.status_code, resp.json()["code"]) == (404, 3)
