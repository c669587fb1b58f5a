"""Property: no admin request built from hostile JSON (huge ints, floats, NaN/inf, deep nesting, wrong types,
duplicate names) gets a 5xx or leaves a row that cannot be read back, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from relaygate.server.admin_routes import ROUTES
from tests.conftest import ADMIN_KEY, Relaygate
from tests.test_admin_input import READABLE

NAMES = ["dup-a", "dup-b", "vip", "default", "gpt-4o", "https://x.example", "10.0.0.0/8", "sk-imported-0001", ""]
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 7, 2**31 - 1, 2**31, 2**53 - 1, 2**53, 2**63 - 1, 2**63, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, 1e-308, -0.0, 0.5, 1.0, 1e6, 1e6 + 1]),
    st.sampled_from(NAMES),
    st.text(max_size=20),
    st.sampled_from(["a\x00b", "\ud800", "x" * 600, "user", "admin", "client", "enabled", "disabled"]),
)
hostile = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(NAMES) | st.text(max_size=8), inner, max_size=3), max_leaves=12)

# Routes that change things, with ids; probing a channel calls the network and is left out.
CHANGING = [r for r in ROUTES if r.method != "GET" and not r.path.endswith("/test") and r.audience == "admin"]


# A valid body per route: hostile values replace some of its fields, so stored rows get exercised too.
VALID: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/channels"): {"name": "dup-a", "base_url": "https://x.example", "credentials": ["k"],
                                "models": ["m"]},
    ("POST", "/api/keys"): {"user_id": 2},
    ("POST", "/api/users"): {"name": "dup-a"},
    ("POST", "/api/users/{id}/topup"): {"amount": 5},
    ("PUT", "/api/users/{id}/balance"): {"balance": 5},
    ("PUT", "/api/groups"): {"name": "vip"},
}
plausible = st.one_of(st.sampled_from(NAMES), st.integers(min_value=0, max_value=9), st.booleans(),
                      st.lists(st.sampled_from(NAMES), max_size=2), st.sampled_from([0.5, 2.0, 1e6]))


def _body(route_index: int) -> st.SearchStrategy[bytes]:
    route = CHANGING[route_index]
    fields = list(route.body.model_fields) if route.body is not None else ["x"]
    base = VALID.get((route.method, route.path), {})
    one_field = st.dictionaries(st.sampled_from(fields), plausible | hostile, min_size=1, max_size=1)
    changed = st.dictionaries(st.sampled_from(fields) | st.text(max_size=6), hostile | plausible, max_size=2)
    documents = st.one_of(st.just(base), one_field.map(lambda d: {**base, **d}), changed.map(lambda d: {**base, **d}),
                          hostile)
    nested = st.integers(min_value=1, max_value=3000).map(lambda n: ("[" * n + "]" * n).encode())
    return st.one_of(documents.map(lambda d: json.dumps(d, allow_nan=True).encode()), nested)


def _path(template: str) -> st.SearchStrategy[str]:
    # ids from 2 on: the bootstrap admin (user 1, key 1) stays, so the test can keep calling
    seeded = st.integers(min_value=2, max_value=12)
    ids = st.one_of(seeded, seeded, st.integers(min_value=-(2**70), max_value=2**70).filter(lambda i: i != 1),
                    st.sampled_from(["abc", "1.5", "9" * 40, "%00"]))
    names = st.one_of(st.sampled_from(NAMES[:5]), st.sampled_from(["a%00b", "m" * 140, "%F0%9F%98%80"]))
    return st.builds(lambda i, n: template.replace("{id}", str(i)).replace("{name}", n).replace("{model}", n),
                     ids, names)


requests = st.integers(min_value=0, max_value=len(CHANGING) - 1).flatmap(
    lambda i: st.tuples(st.just(CHANGING[i]), _path(CHANGING[i].path), _body(i)))


@pytest.fixture(scope="module", autouse=True)
def _seeded(store_relaygate: Relaygate) -> None:
    """Rows for the hostile requests to hit: users, keys and channels 2 to 8, a group and a price."""
    for i in range(7):
        user = store_relaygate.ok("POST", "/api/users", {"name": f"seed-{i}", "balance": 1000})
        store_relaygate.ok("POST", "/api/keys", {"user_id": user["id"], "quota": 100})
        store_relaygate.ok("POST", "/api/channels", {"name": f"seed-{i}", "base_url": "https://x.example",
                                                     "credentials": ["k"], "models": ["m"]})
    store_relaygate.ok("PUT", "/api/groups", {"name": "vip", "multiplier": 2})
    store_relaygate.ok("PUT", "/api/prices/gpt-4o", {"input_per_1m": 1})


def _readable(rg: Relaygate, resp: httpx.Response) -> None:
    for path in READABLE:
        listing = rg.admin("GET", path)
        assert listing.status_code == 200, (path, listing.text)
    if resp.status_code == 200 and isinstance(resp.json(), dict) and "id" in resp.json():
        kind = resp.request.url.path.split("/")[2]
        shown = rg.admin("GET", f"/api/{kind}/{resp.json()['id']}")
        assert shown.status_code == 200, shown.text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(request=requests)
def test_no_hostile_admin_request_gets_a_5xx_or_leaves_an_unreadable_row(
        store_relaygate: Relaygate, request: tuple[Any, str, bytes]) -> None:
    route, path, body = request
    resp = store_relaygate.http.request(route.method, path, content=body, headers={
        "Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"})
    assert resp.status_code < 500, (route.method, path, body[:300], resp.text)
    event(f"{route.method} {route.path} {resp.status_code}")
    assert resp.headers["X-Request-Id"].startswith("req_")
    if resp.status_code >= 400:
        assert set(resp.json()["error"]) == {"message", "type", "param", "code"}
    _readable(store_relaygate, resp)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(["key_id", "user_id", "model", "request_id", "since", "limit", "kind",
                                              "target", "action", "actor_user_id"]),
                             scalars.map(lambda v: str(v).encode("utf-8", "replace").decode()), max_size=4),
       path=st.sampled_from([r.path for r in ROUTES if r.method == "GET" and "{" not in r.path]))
def test_no_hostile_query_gets_a_5xx(store_relaygate: Relaygate, query: dict[str, str], path: str) -> None:
    resp = store_relaygate.http.get(path, params=query, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert resp.status_code in (200, 400), (path, query, resp.text)
    assert resp.headers["X-Request-Id"].startswith("req_")
