"""The console in real headless Chromium, used as a person uses it: by roles, labels and visible text, at
1280×800 and 390×844, against a relaygate started here with the strict fake OpenAI upstream behind it.

Every page must load without a browser-console error or a request answered 400 or more (the few refusals a
test provokes on purpose are cleared where it provokes them), label every field, and not scroll sideways on a
phone. One browser serves the whole module (the only one that drives one)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest

from tests.browser import (
    DESKTOP,
    PHONE,
    Watch,
    chromium_context,
    fields_without_labels,
    screenshot,
    scrolls_sideways,
    watched_page,
)
from tests.conftest import UPSTREAM_KEY, Relaygate
from tests.upstreams.openai_mock import MockOpenAI

pytestmark = pytest.mark.browser
ADMIN_PASSWORD = "admin console password"
ALICE_PASSWORD = "alice's password"
ADMIN_PAGES = ["Dashboard", "Channels", "Keys", "Users", "Logs", "Prices", "Redemption codes"]
USER_PAGES = ["Dashboard", "Keys", "Logs", "Redeem"]


@dataclass
class Site:
    rg: Relaygate
    alice_id: int
    alice_key: str
    request_id: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mock: MockOpenAI) -> Iterator[Site]:
    rg = Relaygate(tmp_path_factory.mktemp("console"), env={"RELAYGATE_ADMIN_PASSWORD": ADMIN_PASSWORD}).start()
    try:
        rg.ok("POST", "/api/channels", {"name": "upstream-ok", "base_url": mock.base_url, "credentials": [UPSTREAM_KEY],
                                        "models": ["gpt-4o-mini", "gpt-4o"]})
        alice = rg.ok("POST", "/api/users", {"name": "alice", "password": ALICE_PASSWORD, "balance": 5_000_000})
        key = rg.ok("POST", "/api/keys", {"user_id": alice["id"], "name": "alice-laptop"})["key"]
        rg.wait_for(lambda: rg.http.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200)
        for _ in range(3):
            answer = httpx.post(rg.base_url + "/chat/completions", headers={"Authorization": f"Bearer {key}"},
                                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
            assert answer.status_code == 200
        yield Site(rg, alice["id"], key, answer.headers["X-Request-Id"])
    finally:
        rg.close()


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    with chromium_context() as ctx:
        yield ctx


@dataclass
class Visit:
    page: Any
    watch: Watch
    site: Site

    def url(self, path: str) -> str:
        return self.site.rg.url + path

    def login(self, username: str, password: str) -> None:
        self.page.goto(self.url("/login"))
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        expect(self.page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible(timeout=3000)

    def open(self, name: str) -> None:
        nav = self.page.get_by_role("navigation", name="Main")
        if not nav.is_visible():
            self.page.get_by_role("button", name="Menu").click()
        nav.get_by_role("link", name=name, exact=True).click()
        expect(self.page.get_by_role("heading", name=name, exact=True)).to_be_visible()

    def row(self, text: str) -> Any:
        return self.page.get_by_role("row").filter(has_text=text)


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture
def visit(context: Any, site: Site) -> Iterator[Visit]:
    watch = Watch()
    page = watched_page(context, watch)
    page.set_viewport_size(DESKTOP)
    yield Visit(page, watch, site)
    page.wait_for_load_state("networkidle")
    problems = watch.errors + watch.failed
    page.close()
    context.clear_cookies()
    assert not problems, problems


def test_the_first_visit_shows_the_log_in_form_quickly_and_cleanly(visit: Visit) -> None:
    started = time.monotonic()
    visit.page.goto(visit.url("/"))
    expect(visit.page.get_by_role("button", name="Log in")).to_be_visible(timeout=3000)
    assert time.monotonic() - started < 3
    assert visit.page.url.endswith("/login")
    expect(visit.page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(visit.page.get_by_label("Username")).to_be_editable()
    expect(visit.page.get_by_label("Password")).to_have_attribute("type", "password")
    scripts = visit.page.evaluate("() => [...document.scripts].map((s) => s.src)")
    icon = visit.page.evaluate("() => document.querySelector('link[rel=icon]').href")
    assert all(src.startswith(visit.url("/")) for src in [*scripts, icon])
    assert all(not r.split(" ", 1)[1].startswith("http") or visit.url("/") in r for r in visit.watch.requests)
    favicon = httpx.get(visit.url("/favicon.ico"))
    assert favicon.status_code == 200 and favicon.headers["content-type"].startswith("image/")
    assert fields_without_labels(visit.page) == []
    screenshot(visit.page, "login", "desktop")
    visit.page.set_viewport_size(PHONE)
    assert not scrolls_sideways(visit.page)
    screenshot(visit.page, "login", "phone")


def test_a_wrong_password_says_so_and_grants_nothing(visit: Visit) -> None:
    page = visit.page
    page.goto(visit.url("/login"))
    for username in ("admin", "nobody-at-all"):
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_have_text("invalid username or password")
    assert not [c for c in visit.page.context.cookies() if c["name"] == "relaygate_session"]
    page.goto(visit.url("/dashboard"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert all(re.match(r"401 POST .*/api/auth/login$", f) for f in visit.watch.failed)
    visit.watch.clear()  # the two refusals this test asked for


def test_the_admin_logs_in_to_the_dashboard_and_logging_out_ends_the_session(visit: Visit) -> None:
    started = time.monotonic()
    visit.login("admin", ADMIN_PASSWORD)
    assert time.monotonic() - started < 4
    page = visit.page
    [cookie] = [c for c in page.context.cookies() if c["name"] == "relaygate_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] in ("Lax", "Strict")
    assert page.evaluate("() => Object.keys(localStorage).length + Object.keys(sessionStorage).length") == 0
    assert page.evaluate("() => document.cookie") == ""
    requests = page.locator("dt", has_text="Requests today").locator("xpath=following-sibling::dd")
    expect(requests).to_have_text(re.compile(r"^3"))
    spend = page.locator("dt", has_text="Spend today").locator("xpath=following-sibling::dd")
    expect(spend).to_contain_text(re.compile(r"\$\d+\.\d{2}"))
    expect(spend).to_contain_text("quota units")
    expect(page.locator("svg.chart rect.bar").first).to_be_attached()
    expect(page.get_by_role("img", name=re.compile("Usage chart"))).to_be_visible()
    expect(page.get_by_role("table", name="Models used today")).to_contain_text("gpt-4o-mini")
    page.get_by_label("Range").select_option("24h")
    expect(page.get_by_role("img", name=re.compile("per hour"))).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    replay = httpx.get(visit.url("/api/users"), cookies={"relaygate_session": cookie["value"]})
    assert replay.status_code == 401


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_admin_page_has_its_heading_labelled_fields_and_no_sideways_scroll(visit: Visit, size: str) -> None:
    page = visit.page
    page.set_viewport_size(DESKTOP if size == "desktop" else PHONE)
    visit.login("admin", ADMIN_PASSWORD)
    if size == "phone":
        expect(page.get_by_role("link", name="Channels")).to_be_hidden()
    for name in ADMIN_PAGES:
        visit.open(name)
        page.wait_for_load_state("networkidle")
        opener = page.get_by_role("button", name=re.compile(r"^(Add|Create|New) "))
        if opener.count():
            opener.first.click()
        assert fields_without_labels(page) == [], name
        assert not scrolls_sideways(page), name
        assert page.get_by_role("heading", name=name).count() == 1, name  # unambiguous without exact=True
        screenshot(page, name.lower().replace(" ", "-"), size)
    visit.open("Dashboard")
    screenshot(page, "dashboard", size)


def test_channels_are_added_tested_disabled_and_enabled(visit: Visit, mock: MockOpenAI) -> None:
    page = visit.page
    visit.login("admin", ADMIN_PASSWORD)
    visit.open("Channels")
    expect(page.get_by_role("columnheader").first).to_be_visible()
    header = [h.strip() for h in page.get_by_role("columnheader").all_inner_texts()]
    assert header[:3] == ["Name", "Type", "Status"]
    for name, key in (("browser-good", UPSTREAM_KEY), ("browser-bad", "sk-wrong-key")):
        page.get_by_role("button", name="Add channel").click()
        page.get_by_label("Name").fill(name)
        page.get_by_label("Type").select_option("openai")
        page.get_by_label("Base URL").fill(mock.base_url)
        page.get_by_label("Key").fill(key)
        page.get_by_label("Models").fill("gpt-4o-mini, gpt-4o")
        page.get_by_role("button", name="Save").click()
        expect(visit.row(name)).to_contain_text("enabled")
    good, bad = visit.row("browser-good"), visit.row("browser-bad")
    expect(good).to_contain_text("openai")
    good.get_by_role("button", name="Test").click()
    expect(good).to_contain_text(re.compile(r"OK · \d+ ms"))
    bad.get_by_role("button", name="Test").click()
    expect(bad).to_contain_text("failed")
    bad.get_by_role("button", name="Disable").click()
    expect(visit.row("browser-bad")).to_contain_text("disabled")
    visit.row("browser-bad").get_by_role("button", name="Enable").click()
    expect(visit.row("browser-bad").get_by_role("button", name="Disable")).to_be_visible()
    page.get_by_role("button", name="Test all").click()
    expect(page.get_by_text(re.compile(r"Tested \d+ channels: \d+ OK, 1 failed"))).to_be_visible()
    visit.row("browser-good").get_by_role("button", name="Edit").click()
    page.get_by_role("button", name="Show type options").click()
    assert fields_without_labels(page) == []
    page.get_by_label("Priority").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(visit.row("browser-good")).to_contain_text("5")


def test_a_new_key_is_shown_once_with_copy_then_only_its_hint(visit: Visit) -> None:
    page = visit.page
    visit.login("admin", ADMIN_PASSWORD)
    visit.open("Keys")
    page.get_by_role("button", name="Create key").click()
    page.get_by_label("User").select_option(label="alice")
    page.get_by_label("Name").fill("from-the-console")
    page.get_by_label("Quota").fill("2.5")
    page.get_by_label("Models").fill("gpt-4o-mini")
    page.get_by_role("button", name="Save").click()
    secret = page.locator("code.secret")
    expect(secret).to_have_text(re.compile(r"^sk-[A-Za-z0-9]{48}$"))
    full = secret.inner_text()
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    row = visit.row("from-the-console")
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("$2.50")
    expect(row).to_contain_text(full[:6])
    page.reload()
    expect(visit.row("from-the-console")).to_be_visible()
    assert full not in page.content()
    visit.row("from-the-console").get_by_role("button", name="Revoke").click()
    expect(visit.row("from-the-console")).to_contain_text("revoked")


def test_users_are_created_topped_up_and_disabled(visit: Visit) -> None:
    page = visit.page
    visit.login("admin", ADMIN_PASSWORD)
    visit.open("Users")
    page.get_by_role("button", name="Create user").click()
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("bob's password")
    page.get_by_label("Balance").fill("1.25")
    page.get_by_role("button", name="Save").click()
    bob = visit.row("bob")
    expect(bob).to_contain_text("$1.25")
    bob.get_by_role("button", name="Top up").click()
    page.get_by_label("Amount").fill("2")
    page.get_by_role("button", name="Save").click()
    expect(visit.row("bob")).to_contain_text("$3.25")
    visit.row("bob").get_by_role("button", name="Disable").click()
    expect(visit.row("bob")).to_contain_text("disabled")


def test_logs_are_filtered_and_a_request_id_is_looked_up(visit: Visit) -> None:
    page = visit.page
    visit.login("admin", ADMIN_PASSWORD)
    visit.open("Logs")
    expect(page.get_by_role("columnheader").first).to_be_visible()
    header = [h.strip() for h in page.get_by_role("columnheader").all_inner_texts()]
    assert {"Time", "Model", "Tokens", "Cost", "Status"} <= set(header)
    page.get_by_label("Request ID").fill(visit.site.request_id)
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("row").filter(has_text=visit.site.request_id)
    expect(rows).to_have_count(1)
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Request ID").fill("")
    page.get_by_label("Model").fill("gpt-4o")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No requests match.")).to_be_visible()


def test_log_filters_apply_on_enter_and_as_they_change(visit: Visit) -> None:
    page = visit.page
    visit.login("admin", ADMIN_PASSWORD)
    visit.open("Logs")
    expect(page.locator("tbody tr").first).to_be_visible()
    page.get_by_label("Request ID").fill(visit.site.request_id)
    page.get_by_label("Request ID").press("Enter")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text(visit.site.request_id)
    page.get_by_label("Request ID").fill("")
    page.get_by_label("Model").fill("no-such-model")  # no button, no Enter: applied after a pause
    expect(page.get_by_text("No requests match.")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Model")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(0)
    page.get_by_label("Model").fill("gpt-4o-mini")
    page.get_by_label("Status").select_option("error")  # a choice applies at once
    expect(page.get_by_text("No requests match.")).to_be_visible()
    page.get_by_label("Status").select_option("ok")
    expect(page.locator("tbody tr").first).to_contain_text("gpt-4o-mini")


def test_an_empty_list_is_a_table_and_a_code_is_redeemed_on_the_redeem_page(visit: Visit) -> None:
    rg, page = visit.site.rg, visit.page
    rg.ok("POST", "/api/users", {"name": "carol", "password": "carol's password"})
    [code] = rg.ok("POST", "/api/redemptions", {"count": 1, "amount": 200_000})["codes"]
    visit.login("carol", "carol's password")
    visit.open("Keys")
    header = [h.strip() for h in page.get_by_role("columnheader").all_inner_texts()]
    assert {"Name", "Key", "Status"} <= set(header), header
    expect(page.get_by_text("No keys yet")).to_be_visible()
    expect(page.get_by_role("table", name="Keys").locator("tbody tr")).to_have_count(0)
    visit.open("Redeem")
    used = page.get_by_role("table", name="Codes you used")
    expect(used.get_by_role("columnheader", name="Amount")).to_be_visible()
    expect(used.locator("tbody tr")).to_have_count(0)
    page.get_by_label("Redemption code").fill(code)
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("status").filter(has_text="Redeemed")).to_contain_text("$0.40")
    expect(used.locator("tbody tr")).to_have_count(1)
    expect(used.locator("tbody tr")).to_contain_text("$0.40")
    page.get_by_label("Redemption code").fill(code)
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_text("already used")).to_be_visible()
    assert all(re.match(r"409 POST .*/api/self/redeem$", f) for f in visit.watch.failed)
    visit.watch.clear()  # the refusal this test asked for


def test_a_built_in_price_is_marked_and_edited(visit: Visit) -> None:
    page = visit.page
    visit.login("admin", ADMIN_PASSWORD)
    visit.open("Prices")
    page.get_by_label("Find a price").fill("4o-mini")
    expect(page.get_by_role("table", name="Prices", exact=True).locator("tbody tr")
           .filter(has_not_text="4o-mini")).to_have_count(0)
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name="gpt-4o-mini", exact=True))
    expect(row).to_contain_text("built-in")
    row.get_by_role("button", name="Edit").click()
    page.get_by_label("Input").fill("0.5")
    page.get_by_label("Output").fill("1.5")
    page.get_by_role("button", name="Save").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name="gpt-4o-mini", exact=True))
    expect(row).to_contain_text("operator")
    expect(row).to_contain_text("$0.50")
    expect(row).to_contain_text("$1.50")
    price = visit.site.rg.ok("GET", "/api/prices")
    assert [(p["input_per_1m"], p["output_per_1m"]) for p in price if p["model"] == "gpt-4o-mini"] == [(0.5, 1.5)]


def test_codes_are_created_downloaded_and_redeemed_once(visit: Visit) -> None:
    page = visit.page
    visit.login("admin", ADMIN_PASSWORD)
    visit.open("Redemption codes")
    page.get_by_role("button", name="Create codes").click()
    page.get_by_label("Count").fill("2")
    page.get_by_label("Amount").fill("1.5")
    page.get_by_role("button", name="Save").click()
    codes = page.get_by_role("list", name="New redemption codes").get_by_role("listitem").all_inner_texts()
    assert len(codes) == 2 and all(re.fullmatch(r"[A-Za-z0-9_-]{12,}", c) for c in codes)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    saved = download.value.path().read_text()
    assert all(code in saved for code in codes)
    page.get_by_role("button", name="Log out").click()
    before = visit.site.rg.ok("GET", f"/api/users/{visit.site.alice_id}")["balance"]
    visit.login("alice", ALICE_PASSWORD)
    page.get_by_label("Redemption code").fill(codes[0])
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("status").filter(has_text="Redeemed")).to_contain_text("$1.50")
    assert visit.site.rg.ok("GET", f"/api/users/{visit.site.alice_id}")["balance"] == before + 750_000
    balance = page.locator("dt", has_text="Balance").locator("xpath=following-sibling::dd")
    expect(balance).to_contain_text(f"${(before + 750_000) / 500_000:,.2f}")
    page.get_by_label("Redemption code").fill(codes[0])
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_role("alert").filter(has_text="already used")).to_be_visible()
    assert visit.site.rg.ok("GET", f"/api/users/{visit.site.alice_id}")["balance"] == before + 750_000
    assert all(re.match(r"409 POST .*/api/self/redeem$", f) for f in visit.watch.failed)
    visit.watch.clear()  # the refusal this test asked for


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_user_sees_their_own_pages_and_admin_pages_refuse_them(visit: Visit, size: str) -> None:
    page = visit.page
    page.set_viewport_size(DESKTOP if size == "desktop" else PHONE)
    visit.login("alice", ALICE_PASSWORD)
    if size == "phone":
        page.get_by_role("button", name="Menu").click()
        assert not scrolls_sideways(page)  # nor with the menu open
    links = page.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()
    assert links == USER_PAGES
    balance = page.locator("dt", has_text="Balance").locator("xpath=following-sibling::dd")
    expect(balance).to_contain_text("$")
    for name in USER_PAGES:
        visit.open(name)
        page.wait_for_load_state("networkidle")
        assert fields_without_labels(page) == [] and not scrolls_sideways(page), name
        assert page.get_by_role("heading", name=name).count() == 1, name  # "Redeem" too, beside its form
        screenshot(page, f"user-{name.lower()}", size)
    visit.open("Logs")
    expect(page.locator("tbody")).to_contain_text("gpt-4o-mini")
    expect(page.locator("tbody")).to_contain_text("redemption code")
    for path in ("/channels", "/users", "/prices", "/redemptions"):
        page.goto(visit.url(path))
        expect(page.get_by_role("alert")).to_contain_text("admin only")
    assert not [r for r in visit.watch.requests if re.search(r"/api/(channels|users|prices|redemptions|keys)\b", r)]
    if size == "phone":  # only the navigation waits behind Menu: Log out is in the bar
        expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_a_user_creates_their_own_key(visit: Visit) -> None:
    page = visit.page
    visit.login("alice", ALICE_PASSWORD)
    visit.open("Keys")
    expect(visit.row("alice-laptop")).to_be_visible()
    page.get_by_role("button", name="Create key").click()
    page.get_by_label("Name").fill("alice-phone")
    page.get_by_role("button", name="Save").click()
    key = page.locator("code.secret").inner_text()
    answer = httpx.post(visit.url("/v1/chat/completions"), headers={"Authorization": f"Bearer {key}"},
                        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 200, answer.text
    expect(visit.row("alice-phone")).to_contain_text("unlimited")
