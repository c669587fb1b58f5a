"""No admin input gets a 500 or leaves a row that cannot be read back, on SQLite and PostgreSQL: every number is
bounded, a taken name is a 409, and every error is OpenAI-shaped with a request id."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from relaygate.core.bounds import INT32_MAX, MAX_QUOTA
from tests.conftest import ADMIN_KEY, UPSTREAM_KEY, Relaygate, make_tenant
from tests.upstreams.openai_mock import MockOpenAI

HUGE = [2**31, 2**53, 2**63 - 1, 2**63, 2**64, 10**30, -1, -(2**63) - 1]
READABLE = ("/api/users", "/api/keys", "/api/channels", "/api/groups", "/api/prices", "/api/audit", "/api/logs",
            "/api/all-tools", "/api/fetch-allow", "/api/redemptions", "/api/channel-types")


@pytest.fixture
def rg(shared_store: Relaygate) -> Relaygate:
    return shared_store


def admin_error(resp: httpx.Response, status: int, param: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers["X-Request-Id"].startswith("req_")
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if param is not None:
        assert err["param"] == param, err
    return dict(err)


def send(rg: Relaygate, method: str, path: str, content: bytes) -> httpx.Response:
    return rg.http.request(method, path, content=content, headers={"Authorization": f"Bearer {ADMIN_KEY}",
                                                                   "Content-Type": "application/json"})


def assert_readable(rg: Relaygate) -> None:
    for path in READABLE:
        resp = rg.admin("GET", path)
        assert resp.status_code == 200, (path, resp.text)


def _name() -> str:
    return "in-" + secrets.token_hex(5)


def test_the_issue_top_up_is_refused_and_every_listing_still_reads(rg: Relaygate, mock: MockOpenAI) -> None:
    t = make_tenant(rg, [mock.base_url], balance=1_000)
    admin_error(rg.admin("POST", f"/api/users/{t.user_id}/topup", {"amount": 9223372036854775807}), 400, "amount")
    assert rg.ok("GET", f"/api/users/{t.user_id}")["balance"] == 1_000
    assert rg.http.get("/api/self", headers={"Authorization": f"Bearer {t.key}"}).json()["balance"] == 1_000
    assert_readable(rg)


@pytest.mark.parametrize("amount", [MAX_QUOTA + 1, 2**63 - 1, 2**63, 2**64, 10**30])
def test_a_top_up_past_what_a_balance_holds_is_400(rg: Relaygate, amount: int) -> None:
    user = rg.ok("POST", "/api/users", {"name": _name(), "balance": 7})
    admin_error(rg.admin("POST", f"/api/users/{user['id']}/topup", {"amount": amount}), 400, "amount")
    assert rg.ok("GET", f"/api/users/{user['id']}")["balance"] == 7


def test_a_sum_past_the_bound_is_400_and_the_bound_itself_is_held_exactly(rg: Relaygate) -> None:
    user = rg.ok("POST", "/api/users", {"name": _name(), "balance": MAX_QUOTA - 5})
    assert rg.ok("POST", f"/api/users/{user['id']}/topup", {"amount": 5})["balance"] == MAX_QUOTA
    err = admin_error(rg.admin("POST", f"/api/users/{user['id']}/topup", {"amount": 1}), 400, "amount")
    assert "at most 0" in err["message"]
    listed = [u for u in rg.ok("GET", "/api/users") if u["id"] == user["id"]]
    assert listed[0]["balance"] == MAX_QUOTA and isinstance(listed[0]["balance"], int)
    assert rg.ok("PUT", f"/api/users/{user['id']}/balance", {"balance": 3})["balance"] == 3


def _user(rg: Relaygate, field: str, value: int) -> httpx.Response:
    return rg.admin("POST", "/api/users", {"name": _name(), field: value})


def _key(rg: Relaygate, field: str, value: int) -> httpx.Response:
    user_id = rg.ok("POST", "/api/users", {"name": _name()})["id"]
    return rg.admin("POST", "/api/keys", {"user_id": user_id, field: value})


def _key_patch(rg: Relaygate, field: str, value: int) -> httpx.Response:
    user_id = rg.ok("POST", "/api/users", {"name": _name()})["id"]
    key_id = rg.ok("POST", "/api/keys", {"user_id": user_id})["id"]
    return rg.admin("PATCH", f"/api/keys/{key_id}", {field: value})


def _channel(rg: Relaygate, field: str, value: int) -> httpx.Response:
    body: dict[str, Any] = {"name": _name(), "base_url": "https://upstream.example", "credentials": ["k"],
                            "models": ["m"]}
    if field == "default_max_tokens":
        body["options"] = {field: value}
    else:
        body[field] = value
    return rg.admin("POST", "/api/channels", body)


def _money(rg: Relaygate, field: str, value: int) -> httpx.Response:
    user_id = rg.ok("POST", "/api/users", {"name": _name()})["id"]
    if field == "amount":
        return rg.admin("POST", f"/api/users/{user_id}/topup", {"amount": value})
    return rg.admin("PUT", f"/api/users/{user_id}/balance", {"balance": value})


INT_FIELDS: list[tuple[Callable[[Relaygate, str, int], httpx.Response], str, int, int]] = [
    (_user, "balance", 0, MAX_QUOTA),
    (_key, "quota", 0, MAX_QUOTA),
    (_key, "rpm", 1, INT32_MAX),
    (_key, "tpm", 1, INT32_MAX),
    (_key, "user_id", 1, INT32_MAX),
    (_key_patch, "quota", 0, MAX_QUOTA),
    (_key_patch, "tpm", 1, INT32_MAX),
    (_channel, "priority", -(2**31), INT32_MAX),
    (_channel, "weight", 1, INT32_MAX),
    (_channel, "default_max_tokens", 1, INT32_MAX),
    (_money, "amount", 1, MAX_QUOTA),
    (_money, "balance", 0, MAX_QUOTA),
]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(("make", "field", "low", "high"), INT_FIELDS,
                         ids=[f"{m.__name__.strip('_')}.{f}" for m, f, _, _ in INT_FIELDS])
def test_integers_are_bounded_to_what_both_databases_hold(rg: Relaygate, make: Callable[..., httpx.Response],
                                                          field: str, low: int, high: int, value: int) -> None:
    resp = make(rg, field, value)
    if low <= value <= high:
        expected = 404 if field == "user_id" else 200  # a valid id nobody has
        assert resp.status_code == expected, resp.text
    else:
        admin_error(resp, 400)
        assert field in resp.json()["error"]["message"]
    assert_readable(rg)


FLOATS = [b"1e309", b"-1e309", b"1e308", b"1e400", b"-0.5", b"NaN", b"Infinity", b"-Infinity", b'"nan"', b'"inf"']


@pytest.mark.parametrize("literal", FLOATS)
@pytest.mark.parametrize("field", ["input_per_1m", "output_per_1m", "per_call", "completion_ratio",
                                   "cache_read_per_1m", "cache_write_per_1m"])
def test_non_finite_or_absurd_prices_are_refused_and_requests_stay_priced(rg: Relaygate, mock: MockOpenAI,
                                                                          field: str, literal: bytes) -> None:
    model = f"priced-{secrets.token_hex(4)}"
    t = make_tenant(rg, [mock.base_url], models=[model], mapping={model: "gpt-4o-mini"})
    rg.ok("PUT", f"/api/prices/{model}", {"input_per_1m": 1.0, "output_per_1m": 2.0})
    admin_error(send(rg, "PUT", f"/api/prices/{model}", b'{"%s": %s}' % (field.encode(), literal)), 400, field)
    price = next(p for p in rg.ok("GET", "/api/prices") if p["model"] == model)
    assert (price["input_per_1m"], price["output_per_1m"]) == (1.0, 2.0)
    rg.wait_for(lambda: _chat(rg, t.key, model).status_code == 200)


def _chat(rg: Relaygate, key: str, model: str) -> httpx.Response:
    return rg.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                        json={"model": model, "messages": [{"role": "user", "content": "hi"}]})


@pytest.mark.parametrize("literal", FLOATS)
@pytest.mark.parametrize(("route", "field"), [("group", "multiplier"), ("key", "expires_at"),
                                              ("channel", "timeout")])
def test_non_finite_multipliers_expiries_and_timeouts_are_refused(rg: Relaygate, route: str, field: str,
                                                                  literal: bytes) -> None:
    if route == "group":
        resp = send(rg, "PUT", "/api/groups", b'{"name": "%s", "multiplier": %s}' % (_name().encode(), literal))
    elif route == "key":
        user_id = rg.ok("POST", "/api/users", {"name": _name()})["id"]
        resp = send(rg, "POST", "/api/keys", b'{"user_id": %d, "expires_at": %s}' % (user_id, literal))
    else:
        resp = send(rg, "POST", "/api/channels", b'{"name": "%s", "base_url": "https://x.example", "credentials": '
                    b'["k"], "models": ["m"], "timeout": %s}' % (_name().encode(), literal))
    admin_error(resp, 400, field)  # 1e308 is a number, but no multiplier, year or timeout
    assert_readable(rg)


def test_a_group_multiplier_past_the_bound_is_refused_and_the_group_keeps_its_value(rg: Relaygate) -> None:
    name = _name()
    rg.ok("PUT", "/api/groups", {"name": name, "multiplier": 1.5})
    admin_error(rg.admin("PUT", "/api/groups", {"name": name, "multiplier": 1001}), 400, "multiplier")
    assert next(g for g in rg.ok("GET", "/api/groups") if g["name"] == name)["multiplier"] == 1.5


BAD_IDS = ["99999999999999999999999", "2147483648", "0", "-1", "1.5", "abc", "9" * 5000, "%00", "1e3",
           "1_0", "%201", "+1", "\uff11"]  # int() alone takes these last four: 10, 1, 1 and a full-width 1


@pytest.mark.parametrize("value", BAD_IDS)
@pytest.mark.parametrize(("method", "template"), [
    ("GET", "/api/users/{}"), ("PATCH", "/api/users/{}"), ("DELETE", "/api/users/{}"),
    ("POST", "/api/users/{}/topup"), ("GET", "/api/channels/{}"), ("DELETE", "/api/channels/{}"),
    ("POST", "/api/channels/{}/test"), ("GET", "/api/keys/{}"), ("POST", "/api/keys/{}/rotate"),
])
def test_path_ids_past_their_bounds_are_400(rg: Relaygate, method: str, template: str, value: str) -> None:
    resp = rg.admin(method, template.format(value), {"amount": 1} if "topup" in template else {})
    admin_error(resp, 400, "id")


@pytest.mark.parametrize("query", [
    "key_id=99999999999999999999999", "user_id=2147483648", "key_id=0", "user_id=-4", "limit=0", "limit=1001",
    "limit=-5", "limit=abc", "since=nan", "since=inf", "since=-1", "since=1e400", "since=x", "model=" + "m" * 200,
    "request_id=%00", "model=", "limit=1_0", "key_id=%EF%BC%91", "since=1_0", "since=%201",
])
@pytest.mark.parametrize("path", ["/api/logs", "/api/self/logs", "/api/audit", "/api/keys"])
def test_query_values_past_their_bounds_are_400(rg: Relaygate, mock: MockOpenAI, path: str, query: str) -> None:
    name = query.split("=", 1)[0]
    known = {"/api/logs": {"key_id", "user_id", "limit", "since", "model", "request_id"},
             "/api/self/logs": {"key_id", "limit", "since", "model", "request_id"},
             "/api/audit": {"limit", "since"}, "/api/keys": {"user_id"}}[path]
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    if path == "/api/self/logs":
        headers = {"Authorization": f"Bearer {make_tenant(rg, [mock.base_url]).key}"}
    resp = rg.http.get(f"{path}?{query}", headers=headers)
    if name in known:
        admin_error(resp, 400, name)
    else:
        assert resp.status_code == 200, resp.text  # a parameter the route does not read is ignored


def test_a_kind_that_is_neither_client_nor_admin_is_400(rg: Relaygate) -> None:
    admin_error(rg.admin("GET", "/api/keys?kind=root"), 400, "kind")


def test_a_name_that_exists_is_409_wherever_it_is_given(rg: Relaygate, mock: MockOpenAI) -> None:
    t, other = make_tenant(rg, [mock.base_url]), make_tenant(rg, [mock.base_url])
    taken_user = rg.ok("GET", f"/api/users/{other.user_id}")["name"]
    taken_channel = rg.ok("GET", f"/api/channels/{other.channel_ids[0]}")["name"]
    admin_error(rg.admin("POST", "/api/users", {"name": taken_user}), 409, "name")
    admin_error(rg.admin("PATCH", f"/api/users/{t.user_id}", {"name": taken_user}), 409, "name")
    own = {"Authorization": f"Bearer {t.key}"}
    admin_error(rg.http.patch("/api/self", headers=own, json={"name": taken_user}), 409, "name")
    admin_error(rg.admin("POST", "/api/channels", {"name": taken_channel, "base_url": mock.base_url,
                                                   "credentials": [UPSTREAM_KEY], "models": ["m"]}), 409, "name")
    admin_error(rg.admin("PATCH", f"/api/channels/{t.channel_ids[0]}", {"name": taken_channel}), 409, "name")
    value = "sk-imported-" + secrets.token_hex(8)
    rg.ok("POST", "/api/keys", {"user_id": t.user_id, "key": value})
    admin_error(rg.admin("POST", "/api/keys", {"user_id": other.user_id, "key": value}), 409)
    assert rg.ok("PATCH", f"/api/users/{t.user_id}", {"name": rg.ok("GET", f"/api/users/{t.user_id}")["name"]})
    assert_readable(rg)


@pytest.mark.parametrize(("method", "path", "content", "param"), [
    ("POST", "/api/users", b'{"name": "a\\u0000b"}', "name"),
    ("POST", "/api/users", b'{"name": "\\ud800"}', None),
    ("POST", "/api/users", b'{"name": "' + b"n" * 129 + b'"}', "name"),
    ("POST", "/api/users", b'{"name": "ok", "group": "no spaces"}', "group"),
    ("POST", "/api/channels", b'{"name": "c", "base_url": "https://x", "credentials": ["a\\u0000"], "models": ["m"]}',
     "credentials[0]"),
    ("POST", "/api/channels", b'{"name": "c", "base_url": "https://x", "credentials": ["k"], "models": ["m\\u0000"]}',
     "models[0]"),
    ("POST", "/api/channels", b'{"name": "c", "base_url": "https://' + b"x" * 600 + b'", "credentials": ["k"], '
     b'"models": ["m"]}', "base_url"),
    ("POST", "/api/channels", b'{"name": "c", "base_url": "https://x", "credentials": ["k"], "models": ["m"], '
     b'"model_mapping": {"m": "' + b"u" * 129 + b'"}}', "model_mapping.m"),
    *[("POST", "/api/channels", b'{"name": "c", "base_url": "%s", "credentials": ["k"], "models": ["m"]}' % url,
       "base_url") for url in (b"https://x:99999", b"https:///v1", b"https://x/v1?api-version=1", b"http://[::1")],
    ("POST", "/api/keys", b'{"user_id": 1, "key": "has space in it"}', "key"),
    ("POST", "/api/keys", b'{"user_id": 1, "allowed_ips": ["10.0.0.0/33"]}', "allowed_ips[0]"),
    ("PUT", "/api/prices/" + "m" * 129, b"{}", "model"),
    ("PUT", "/api/prices/a%00b", b"{}", "model"),
    ("DELETE", "/api/groups/a%00b", b"", "name"),
    ("DELETE", "/api/prices/" + "m" * 129, b"", "model"),
])
def test_strings_a_database_cannot_hold_are_400(rg: Relaygate, method: str, path: str, content: bytes,
                                               param: str | None) -> None:
    admin_error(send(rg, method, path, content), 400, param)
    assert_readable(rg)


@pytest.mark.parametrize("content", [
    b"[]", b"null", b"5", b'"x"', b"{", b"\xff\xfe", b'{"name": "x"}{"name": "y"}',
    b"[" * 10_000 + b"]" * 10_000, b'{"name": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3001,
    b'{"name": "x", "balance": "lots"}', b'{"name": "x", "balance": 1.5}', b'{"name": "x", "balance": true}',
    b'{"name": ["x"]}', b'{"name": "x", "role": "root"}', b'{"name": "x", "id": 1}',
])
def test_bodies_that_are_not_the_expected_object_are_400(rg: Relaygate, content: bytes) -> None:
    admin_error(send(rg, "POST", "/api/users", content), 400)
    assert_readable(rg)


def test_unknown_admin_urls_and_methods_are_json_404s(rg: Relaygate) -> None:
    for method, path in (("GET", "/api/nothing"), ("DELETE", "/api/users"), ("PUT", "/api/channels/1/test")):
        err = admin_error(rg.admin(method, path), 404)
        assert err["code"] == "unknown_url"


def test_a_failed_change_leaves_the_audit_log_as_it_was(rg: Relaygate) -> None:
    before = rg.ok("GET", "/api/audit?limit=1")
    admin_error(rg.admin("POST", "/api/users", {"name": _name(), "balance": 2**63}), 400)
    assert rg.ok("GET", "/api/audit?limit=1") == before


def test_the_list_of_readable_routes_covers_every_admin_listing() -> None:
    from relaygate.server.admin_routes import ROUTES

    listings = {r.path for r in ROUTES if r.method == "GET" and r.many and r.audience == "admin"}
    assert listings == set(READABLE)
    assert orjson.dumps(sorted(listings))


def test_an_admin_body_over_the_size_limit_is_a_json_413(rg: Relaygate) -> None:
    big = b'{"name": "' + b"n" * (21 * 1024 * 1024) + b'"}'
    admin_error(send(rg, "POST", "/api/users", big), 413)


def test_a_model_name_with_slashes_is_set_and_removed_through_its_path(rg: Relaygate) -> None:
    vendor = "vendor-" + secrets.token_hex(4)
    for model, path in ((f"{vendor}/gpt-4o", f"{vendor}/gpt-4o"), (f"{vendor}/o1", f"{vendor}%2Fo1")):
        assert rg.ok("PUT", f"/api/prices/{path}", {"input_per_1m": 2.5})["model"] == model
        assert any(p["model"] == model and p["source"] == "operator" for p in rg.ok("GET", "/api/prices"))
        marked = rg.ok("PUT", f"/api/all-tools/{path}-all", {"base_model": model})
        assert (marked["model"], marked["base_model"]) == (f"{model}-all", model)
        assert rg.ok("DELETE", f"/api/all-tools/{path}-all") == {"ok": True}
        assert rg.ok("DELETE", f"/api/prices/{path}") == {"ok": True}
        admin_error(rg.admin("DELETE", f"/api/prices/{path}"), 404)
