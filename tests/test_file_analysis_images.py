"""Images and other upstreams: an image URL for a vision base model (a clear 400 without vision), image URLs sent
as bytes to upstreams that cannot download them (Gemini always, Claude for http), operator marks through the
admin API onto Claude and Gemini models, the files-per-request cap and the allow-list kept in the store."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import openai
import pytest

from tests import documents
from tests.conftest import UPSTREAM_KEY, FileRelay, Tenant, make_tenant
from tests.documents import MARKER
from tests.file_relay import png, user_text
from tests.fileserver import FileServer
from tests.upstreams.anthropic_mock import MockAnthropic
from tests.upstreams.gemini_mock import MockGemini
from tests.upstreams.openai_mock import MockOpenAI

GEMINI = "gemini-2.0-flash"
CLAUDE = "claude-3-5-haiku-20241022"


@pytest.fixture
def files(file_relay: FileRelay, files_upstream: MockOpenAI) -> Tenant:
    files_upstream.reset()
    return make_tenant(file_relay.rg, [files_upstream.base_url], models=["gpt-4", "gpt-4o"])


@pytest.fixture(scope="module")
def gemini() -> Iterator[MockGemini]:
    server = MockGemini(api_keys=[UPSTREAM_KEY], models=[GEMINI]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def claude() -> Iterator[MockAnthropic]:
    server = MockAnthropic(api_keys=[UPSTREAM_KEY], models=[CLAUDE]).start()
    yield server
    server.stop()


def _refusal(call: object) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as refused:
        call()
    return refused.value


def test_an_image_url_becomes_an_image_part_of_exactly_its_bytes_for_a_vision_base_model(
        file_relay: FileRelay, files: Tenant, files_upstream: MockOpenAI) -> None:
    image = png(5, 4)
    url = file_relay.files.add("img/chart.bin", image, "application/octet-stream")
    answer = file_relay.rg.client(files.key).chat.completions.create(
        model="gpt-4o-all", messages=[{"role": "user", "content": f"{url} What colour is this chart?"}])
    assert answer.model == "gpt-4o"
    content = files_upstream.requests[-1].json["messages"][0]["content"]
    assert [p["type"] for p in content] == ["text", "image_url"]
    assert content[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(image).decode()
    assert "File 1: an image (PNG" in content[0]["text"]
    assert content[0]["text"].endswith("Question:\nWhat colour is this chart?")


def test_an_uploaded_image_file_part_reaches_a_vision_model_as_an_image(file_relay: FileRelay, files: Tenant,
                                                                        files_upstream: MockOpenAI) -> None:
    image = png(2, 9)
    part = {"type": "file", "file": {"filename": "scan.png", "file_data": base64.b64encode(image).decode()}}
    file_relay.rg.client(files.key).chat.completions.create(model="gpt-4o-all", messages=[{"role": "user", "content": [
        {"type": "text", "text": "Read the label."}, part]}])
    content = files_upstream.requests[-1].json["messages"][0]["content"]
    assert content[1] == {"type": "image_url",
                          "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()}}
    assert "File 1: an image (PNG" in content[0]["text"] and "from a file part (scan.png)" in content[0]["text"]


def test_an_image_for_a_base_model_without_vision_is_a_clear_400(file_relay: FileRelay, files: Tenant,
                                                                 files_upstream: MockOpenAI) -> None:
    url = file_relay.files.add("img/no-vision.png", png(), "image/png")
    client = file_relay.rg.client(files.key)
    by_url = _refusal(lambda: client.chat.completions.create(
        model="gpt-4-all", messages=[{"role": "user", "content": f"{url} what is this?"}]))
    part = {"type": "image_url", "image_url": {"url": url}}
    as_part = _refusal(lambda: client.chat.completions.create(
        model="gpt-4-all", messages=[{"role": "user", "content": [{"type": "text", "text": "what?"}, part]}]))
    for refused in (by_url, as_part):
        assert refused.status_code == 400
        error = refused.response.json()["error"]
        assert error["code"] == "image_input_not_supported" and "gpt-4" in error["message"]
        assert set(error) == {"message", "type", "param", "code"} and refused.response.headers["X-Request-Id"]
    assert files_upstream.requests == []


def test_gemini_gets_image_urls_as_inline_bytes_fetched_by_the_guarded_fetcher(
        file_relay: FileRelay, gemini: MockGemini) -> None:
    gemini.reset()
    t = make_tenant(file_relay.rg, [gemini.base_url], models=[GEMINI], channel_fields={"type": "gemini"})
    image = png(7, 7, (0, 90, 200))
    url = file_relay.files.add("gemini/cat.webp", image, "image/webp")
    client = file_relay.rg.client(t.key)
    answer = client.chat.completions.create(model=GEMINI, messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": url}}]}])
    assert "1 image" in (answer.choices[0].message.content or "")
    part = gemini.requests[-1].json["contents"][0]["parts"][1]
    assert part == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(image).decode()}}
    refused = _refusal(lambda: client.chat.completions.create(model=GEMINI, messages=[{"role": "user", "content": [
        {"type": "text", "text": "and this?"},
        {"type": "image_url", "image_url": {"url": "http://10.0.0.1/private.png"}}]}]))
    assert (refused.status_code, refused.response.json()["error"]["code"]) == (400, "url_not_allowed")
    secret = {"type": "image_url", "image_url": {"url": f"http://u:hunter2@127.0.0.1:{file_relay.files.port}/x.png"}}
    with_password = _refusal(lambda: client.chat.completions.create(model=GEMINI, messages=[
        {"role": "user", "content": [{"type": "text", "text": "and this?"}, secret]}]))
    error = with_password.response.json()["error"]
    assert (with_password.status_code, error["code"]) == (400, "url_not_allowed") and "hunter2" not in error["message"]
    assert f"Image 1 of the request (http://127.0.0.1:{file_relay.files.port}/x.png)" in error["message"]
    assert len(gemini.requests) == 1


def test_a_translated_responses_request_gets_its_image_urls_fetched_as_chat_does(
        file_relay: FileRelay, gemini: MockGemini, claude: MockAnthropic) -> None:
    """/v1/responses on Gemini (never downloads a URL) and Claude (https only): an input_image by http URL reaches
    the upstream as exactly the bytes the guarded fetcher read; one it refuses is a 400 naming `input`."""
    gemini.reset()
    claude.reset()
    rg = file_relay.rg
    image = png(5, 5, (10, 160, 40))
    url = file_relay.files.add("responses/leaf.png", image, "image/png")
    data = base64.b64encode(image).decode()
    for kind, model, fake in (("gemini", GEMINI, gemini), ("anthropic", CLAUDE, claude)):
        t = make_tenant(rg, [fake.base_url], models=[model], channel_fields={"type": kind})
        client = rg.client(t.key)
        ask = [{"role": "user", "content": [{"type": "input_text", "text": "what is this?"},
                                            {"type": "input_image", "image_url": url, "detail": "auto"}]}]
        answer = client.responses.create(model=model, input=ask)  # type: ignore[arg-type]
        assert answer.status == "completed"
        if kind == "gemini":
            assert "1 image" in answer.output_text
            part = gemini.requests[-1].json["contents"][0]["parts"][1]
            assert part == {"inlineData": {"mimeType": "image/png", "data": data}}
        else:
            block = claude.requests[-1].json["messages"][0]["content"][1]
            assert block["source"] == {"type": "base64", "media_type": "image/png", "data": data}
        asked = len(fake.requests)
        refused = _refusal(lambda: client.responses.create(model=model, input=[{"role": "user", "content": [  # noqa: B023
            {"type": "input_image", "image_url": "http://10.0.0.1/private.png", "detail": "auto"}]}]))
        error = refused.response.json()["error"]
        assert (refused.status_code, error["code"], error["param"]) == (400, "url_not_allowed", "input")
        assert len(fake.requests) == asked


def test_claude_gets_an_http_image_url_as_base64_and_marks_reach_claude_and_gemini_through_translation(
        file_relay: FileRelay, claude: MockAnthropic, gemini: MockGemini) -> None:
    claude.reset()
    gemini.reset()
    rg = file_relay.rg
    t = make_tenant(rg, [claude.base_url], models=[CLAUDE], channel_fields={"type": "anthropic"})
    g = make_tenant(rg, [gemini.base_url], models=[GEMINI], channel_fields={"type": "gemini"})
    rg.ok("PUT", "/api/all-tools/claude-files", {"base_model": CLAUDE})
    rg.ok("PUT", "/api/all-tools/gemini-files", {"base_model": GEMINI, "context_tokens": 32_000})
    image = png(3, 3)
    image_url = file_relay.files.add("claude/photo.png", image, "image/png")
    doc_url = file_relay.files.add("claude/guide.docx", documents.docx_file())
    answer = rg.client(t.key).chat.completions.create(model="claude-files", messages=[
        {"role": "user", "content": f"{doc_url} {image_url} What do these show?"}])
    assert answer.model == CLAUDE
    blocks = claude.requests[-1].json["messages"][0]["content"]
    assert [b["type"] for b in blocks] == ["text", "image"] and MARKER in blocks[0]["text"]
    assert blocks[1]["source"] == {"type": "base64", "media_type": "image/png",
                                   "data": base64.b64encode(image).decode()}
    answer = rg.client(g.key).chat.completions.create(model="gemini-files", messages=[
        {"role": "user", "content": f"{doc_url} What does the guide say?"}])
    parts = gemini.requests[-1].json["contents"][0]["parts"]
    assert MARKER in parts[0]["text"] and parts[0]["text"].endswith("Question:\nWhat does the guide say?")
    listed = {m["model"]: m for m in rg.ok("GET", "/api/all-tools")}
    assert listed["gemini-files"] == {"model": "gemini-files", "base_model": GEMINI, "vision": True,
                                      "context_tokens": 32_000, "enabled": True, "builtin": False}
    assert listed["gpt-4-all"]["builtin"] and listed["gpt-4-all"]["base_model"] == "gpt-4"
    models = {m.id for m in rg.client(g.key).models.list()}
    assert {"gemini-files", GEMINI} <= models and "claude-files" not in models


def test_a_mark_turned_off_or_removed_reads_nothing(file_relay: FileRelay, files: Tenant,
                                                    files_upstream: MockOpenAI) -> None:
    rg = file_relay.rg
    url = file_relay.files.add("marks/doc.pdf", documents.pdf(), "application/pdf")
    rg.ok("PUT", "/api/all-tools/my-files", {"base_model": "gpt-4o"})
    client = rg.client(files.key)
    messages: list[dict[str, str]] = [{"role": "user", "content": f"{url} what is it?"}]
    assert client.chat.completions.create(model="my-files", messages=messages).model == "gpt-4o"
    rg.ok("PUT", "/api/all-tools/my-files", {"base_model": "gpt-4o", "enabled": False})
    downloads = file_relay.files.paths().count("/files/marks/doc.pdf")
    off = _refusal(lambda: client.chat.completions.create(model="my-files", messages=messages))
    assert (off.status_code, off.response.json()["error"]["code"]) == (404, "model_not_found")
    assert rg.ok("DELETE", "/api/all-tools/my-files") == {"ok": True}
    assert rg.admin("DELETE", "/api/all-tools/my-files").status_code == 404
    assert file_relay.files.paths().count("/files/marks/doc.pdf") == downloads == 1
    bad = rg.admin("PUT", "/api/all-tools/nobody-all", {})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "base_model"
    assert rg.admin("PUT", "/api/all-tools/x", {"base_model": "gpt-4o", "context_tokens": 5}).status_code == 400


def test_more_files_than_the_cap_are_a_clear_400_before_anything_is_fetched(
        file_relay: FileRelay, files: Tenant, files_upstream: MockOpenAI) -> None:
    urls = [file_relay.files.add(f"cap/{i}.txt", f"file {i}".encode(), "text/plain") for i in range(4)]
    refused = _refusal(lambda: file_relay.rg.client(files.key).chat.completions.create(
        model="gpt-4o-all", messages=[{"role": "user", "content": " ".join(urls) + " compare them"}]))
    error = refused.response.json()["error"]
    assert (refused.status_code, error["code"], error["param"]) == (400, "too_many_files", "messages")
    assert "4 files" in error["message"] and "at most 3" in error["message"]
    assert not any(p.startswith("/files/cap/") for p in file_relay.files.paths()) and files_upstream.requests == []


def test_the_allow_list_in_the_store_opens_an_intranet_source_and_closes_it_again(
        file_relay: FileRelay, files: Tenant, files_upstream: MockOpenAI) -> None:
    rg = file_relay.rg
    with FileServer() as other:
        url = other.add("wiki/page.md", f"# Wiki\n\n{MARKER}\n".encode(), "text/markdown")
        client = rg.client(files.key)
        messages: list[dict[str, str]] = [{"role": "user", "content": f"{url} what does the wiki say?"}]

        def ask() -> str:
            """The answering model, or the code of the refusal."""
            try:
                return client.chat.completions.create(model="gpt-4o-all", messages=messages).model
            except openai.APIStatusError as err:
                return str(err.response.json()["error"]["code"])

        assert ask() == "url_not_allowed"
        added = rg.ok("POST", "/api/fetch-allow", {"entry": f"127.0.0.1:{other.port}", "note": "the wiki"})
        assert ask() == "gpt-4o" and MARKER in user_text(files_upstream.requests[-1])
        listed = rg.ok("GET", "/api/fetch-allow")
        assert {"id": None, "entry": f"127.0.0.1:{file_relay.files.port}", "note": "RELAYGATE_FETCH_ALLOW",
                "source": "environment"} in listed
        assert {"id": added["id"], "entry": f"127.0.0.1:{other.port}", "note": "the wiki", "source": "store"} in listed
        assert rg.ok("DELETE", f"/api/fetch-allow/{added['id']}") == {"ok": True}
        assert ask() == "url_not_allowed"  # and the cache forgot what the entry let in
        assert other.paths() == ["/files/wiki/page.md"]
        for wrong in ("not an entry", "example.com", "10.0.0.0/33"):
            bad = rg.admin("POST", "/api/fetch-allow", {"entry": wrong})
            assert bad.status_code == 400 and bad.json()["error"]["param"] == "entry"

