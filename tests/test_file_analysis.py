"""The all-tools models read the files their messages name: every document type through the openai SDK, what
reached the upstream (text, references, base model, the question verbatim), the seed example, the cache, billing,
and models not marked all-tools passing URLs through untouched."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest

from relaygate.billing.pricing import quota_cost
from relaygate.core.records import PriceRecord
from relaygate.core.types import Usage
from tests import documents
from tests.conftest import UPSTREAM_KEY, FileRelay, Tenant, make_tenant
from tests.documents import MARKER
from tests.file_relay import SEED_MARKER, SEED_MARKER_PAGE, SEED_URL, user_text
from tests.upstreams.openai_mock import MockOpenAI

QUESTION = "What does the file say about adding a domain?"


@pytest.fixture
def files(file_relay: FileRelay, files_upstream: MockOpenAI) -> Tenant:
    files_upstream.reset()
    return make_tenant(file_relay.rg, [files_upstream.base_url], models=["gpt-4", "gpt-4o", "gpt-4o-mini"])


def _logs(relay: FileRelay, t: Tenant) -> list[dict[str, Any]]:
    return relay.rg.ok("GET", f"/api/logs?key_id={t.key_id}")


DOCUMENTS: list[tuple[str, Callable[[], bytes], str, str, str]] = [
    ("api-doc.pdf", documents.pdf, "PDF", "[page 2]", MARKER),
    ("guide.docx", documents.docx_file, "Word document (DOCX)", "[section «Adding a domain»]", MARKER),
    ("prices.xlsx", documents.xlsx_file, "Excel workbook (XLSX)", "[sheet «Prices» rows 2–6]", "marker-cell-Q7"),
    ("legacy.xls", documents.xls_file, "Excel workbook (XLS)", "[sheet «Legacy» rows 2–3]", "LIS-marker-xls"),
    ("deck.pptx", documents.pptx_file, "PowerPoint deck (PPTX)", "[slide 2]", MARKER),
    ("page.html", documents.html_page, "web page (HTML)", "[section «Adding a domain»]", MARKER),
    ("notes.md", lambda: f"# Notes\n\n{MARKER}\n".encode(), "text", "[lines 1–3]", MARKER),
    ("main.py", lambda: f'def domain():\n    """{MARKER}"""\n'.encode(), "text", "[lines 1–2]", MARKER),
    ("table.csv", lambda: b"k,v\nmarker,marker-cell-Q7\nx,y\n", "CSV table", "[rows 2–3]", "marker-cell-Q7"),
    ("data.json", lambda: b'{"marker": "marker-cell-Q7"}', "JSON", "[lines 1–1]", "marker-cell-Q7"),
    ("feed.xml", lambda: f"<?xml version='1.0'?><doc><p>{MARKER}</p></doc>".encode(), "XML", "[lines", MARKER),
]


@pytest.mark.parametrize(("name", "make", "kind", "ref", "marker"), DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_every_document_type_reaches_the_base_model_as_text_with_references_and_the_question_verbatim(
        name: str, make: Callable[[], bytes], kind: str, ref: str, marker: str, file_relay: FileRelay,
        files: Tenant, files_upstream: MockOpenAI) -> None:
    url = file_relay.files.add(f"all/{name}", make(), "application/octet-stream")
    answer = file_relay.rg.client(files.key).chat.completions.create(
        model="gpt-4o-all", messages=[{"role": "user", "content": f"{url} {QUESTION}"}])
    assert answer.object == "chat.completion" and answer.model == "gpt-4o"
    assert answer.choices[0].message.content
    [sent] = files_upstream.requests
    assert sent.path == "/v1/chat/completions" and sent.json["model"] == "gpt-4o"
    text = user_text(sent)
    assert f"File 1: {name} ({kind}," in text and "http://127.0.0.1" in text
    assert ref in text and marker in text
    assert text.endswith("Question:\n" + QUESTION) and url not in text.split("Question:")[-1]
    assert answer.usage is not None and answer.usage.prompt_tokens > len(QUESTION.split())


def test_the_seed_example_works_verbatim(file_relay: FileRelay, files: Tenant, files_upstream: MockOpenAI) -> None:
    if file_relay.seed is None:  # it listens on port 443 of a loopback address: root, or a low unprivileged start
        reason = f"the seed's https://www.bt.cn stand-in: {file_relay.seed_problem}"
        pytest.fail(reason) if os.environ.get("CI") == "true" else pytest.skip(reason)
    body = {"model": "gpt-4-all",
            "messages": [{"role": "user", "content": "https://www.bt.cn/data/api-doc.pdf 添加域名的api是什么?"}],
            "max_tokens": 1688, "temperature": 0.5, "stream": False}
    resp = httpx.post(file_relay.rg.base_url + "/chat/completions", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {files.key}", "Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["object"] == "chat.completion" and answer["model"] == "gpt-4"
    assert answer["choices"][0]["message"]["role"] == "assistant" and answer["choices"][0]["finish_reason"]
    assert set(answer["usage"]) >= {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert file_relay.seed.paths() == [SEED_URL.removeprefix("https://www.bt.cn")]
    [sent] = files_upstream.requests
    assert (sent.json["model"], sent.json["max_tokens"], sent.json["temperature"]) == ("gpt-4", 1688, 0.5)
    text = user_text(sent)
    # 60 pages cannot fit gpt-4's context: the page the question is about is chosen, the rest named as left out
    assert f"[page {SEED_MARKER_PAGE}]" in text and SEED_MARKER in text
    assert "Left out: pages" in text and "[page 60]" not in text
    assert text.endswith("Question:\n添加域名的api是什么?")
    rows = _logs(file_relay, files)
    assert rows[0]["model"] == "gpt-4-all" and rows[0]["upstream_model"] == "gpt-4" and rows[0]["cost"] > 0


def test_a_follow_up_question_reads_the_file_from_the_cache(file_relay: FileRelay, files: Tenant,
                                                            files_upstream: MockOpenAI) -> None:
    url = file_relay.files.add("cache/guide.pdf", documents.pdf(pages=4, marker_page=3), "application/pdf")
    client = file_relay.rg.client(files.key)
    first = client.chat.completions.create(model="gpt-4o-all", messages=[
        {"role": "user", "content": f"{url} Summarise the file."}])
    downloads = file_relay.files.paths().count("/files/cache/guide.pdf")
    follow_up = client.chat.completions.create(model="gpt-4o-all", messages=[
        {"role": "user", "content": f"{url} Summarise the file."},
        {"role": "assistant", "content": first.choices[0].message.content or ""},
        {"role": "user", "content": "And which page says how to add a domain?"}])
    assert follow_up.model == "gpt-4o" and downloads == 1
    assert file_relay.files.paths().count("/files/cache/guide.pdf") == 1
    sent = files_upstream.requests[-1]
    assert MARKER in user_text(sent, 0) and user_text(sent, -1) == "And which page says how to add a domain?"


def test_the_file_server_sees_relaygates_user_agent_and_nothing_of_the_clients_request(
        file_relay: FileRelay, files: Tenant, files_upstream: MockOpenAI) -> None:
    url = file_relay.files.add("headers/doc.md", f"# Doc\n\n{MARKER}\n".encode(), "text/markdown")
    client = file_relay.rg.client(files.key, default_headers={
        "Cookie": "session=client-cookie", "X-Client-Secret": "client-secret", "Referer": "https://client.test/",
        "User-Agent": "client-agent/1.0", "Accept-Language": "zh-CN"})
    client.chat.completions.create(model="gpt-4o-all", messages=[{"role": "user", "content": f"{url} {QUESTION}"}])
    [fetched] = [r for r in file_relay.files.requests if r.path == "/files/headers/doc.md"]
    assert fetched.method == "GET" and fetched.headers["User-Agent"].startswith("relaygate/")
    assert set(fetched.headers) <= {"Host", "User-Agent", "Accept", "Accept-Encoding", "Connection"}
    seen = " ".join(fetched.headers.values())
    assert files.key not in seen and "client" not in seen and UPSTREAM_KEY not in seen
    assert MARKER in user_text(files_upstream.requests[-1])


def test_a_model_not_marked_all_tools_passes_a_url_through_untouched(file_relay: FileRelay, files: Tenant,
                                                                    files_upstream: MockOpenAI) -> None:
    url = file_relay.files.add("plain/doc.pdf", documents.pdf(), "application/pdf")
    content = f"{url} What is in this file? Also see {url}"
    answer = file_relay.rg.client(files.key).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": content}])
    assert answer.model == "gpt-4o"
    assert files_upstream.requests[-1].json["messages"] == [{"role": "user", "content": content}]
    assert "/files/plain/doc.pdf" not in file_relay.files.paths()


def test_the_injected_text_is_billed_at_the_all_tools_price_when_set_else_the_base_models(
        file_relay: FileRelay, files: Tenant, files_upstream: MockOpenAI) -> None:
    rg = file_relay.rg
    url = file_relay.files.add("billed/a.pdf", documents.pdf(pages=5), "application/pdf")
    client = rg.client(files.key)
    messages: Any = [{"role": "user", "content": f"{url} {QUESTION}"}]
    plain = client.chat.completions.create(model="gpt-4o-all", messages=messages)
    assert plain.usage is not None and plain.usage.prompt_tokens > 200  # the PDF's words, counted by the upstream
    rg.ok("PUT", "/api/prices/gpt-4o-all", {"input_per_1m": 100.0, "output_per_1m": 200.0})
    try:
        priced = client.chat.completions.create(model="gpt-4o-all", messages=messages)
    finally:
        rg.ok("DELETE", "/api/prices/gpt-4o-all")
    assert priced.usage is not None
    rg.wait_for(lambda: len(_logs(file_relay, files)) == 2)
    newest, oldest = _logs(file_relay, files)
    base_price = PriceRecord("gpt-4o", 2.5, 10.0)
    for row, usage, price in ((oldest, plain.usage, base_price), (newest, priced.usage,
                                                                 PriceRecord("gpt-4o-all", 100.0, 200.0))):
        assert row["model"] == "gpt-4o-all" and row["prompt_tokens"] == usage.prompt_tokens
        assert row["cost"] == quota_cost(price, Usage(usage.prompt_tokens, usage.completion_tokens))


def test_streaming_answers_come_from_the_base_model_too(file_relay: FileRelay, files: Tenant,
                                                        files_upstream: MockOpenAI) -> None:
    url = file_relay.files.add("stream/a.docx", documents.docx_file(), "application/octet-stream")
    chunks = list(file_relay.rg.client(files.key).chat.completions.create(
        model="gpt-4o-all", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": f"{url} {QUESTION}"}]))
    assert {c.model for c in chunks} == {"gpt-4o"} and "".join(c.choices[0].delta.content or "" for c in chunks
                                                                if c.choices)
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 20
    assert MARKER in user_text(files_upstream.requests[-1])


def test_a_file_part_with_base64_data_and_urls_inside_the_text_are_read(file_relay: FileRelay, files: Tenant,
                                                                       files_upstream: MockOpenAI) -> None:
    linked = file_relay.files.add("inline/notes.md", f"# Notes\n\nSecond file: {MARKER}\n".encode(), "text/plain")
    pdf = "data:application/pdf;base64," + base64.b64encode(documents.pdf(pages=2, marker_page=1)).decode()
    question = f"Compare the attached report with {linked}, and ignore `https://example.invalid/code` please."
    answer = file_relay.rg.client(files.key).chat.completions.create(model="gpt-4o-all", messages=[
        {"role": "user", "content": [{"type": "text", "text": question},
                                     {"type": "file", "file": {"filename": "report.pdf", "file_data": pdf}}]}])
    assert answer.model == "gpt-4o"
    text = user_text(files_upstream.requests[-1])
    assert "File 1: notes.md (text," in text and "File 2: report.pdf (PDF," in text and "[page 1]" in text
    assert text.endswith("Question:\n" + question) and "example.invalid" not in text.split("Question:")[0]


def test_a_scanned_pdf_is_said_to_have_no_text_rather_than_given_invented_text(
        file_relay: FileRelay, files: Tenant, files_upstream: MockOpenAI) -> None:
    url = file_relay.files.add("scan/letter.pdf", documents.scanned_pdf(pages=2), "application/pdf")
    file_relay.rg.client(files.key).chat.completions.create(
        model="gpt-4o-all", messages=[{"role": "user", "content": f"{url} What does the letter say?"}])
    text = user_text(files_upstream.requests[-1])
    assert "File 1: letter.pdf (PDF," in text and "no text layer" in text
    assert "[page 1]" not in text and text.endswith("Question:\nWhat does the letter say?")

