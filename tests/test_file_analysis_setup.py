"""Setting file analysis up and its refusals: all-tools marks and the allow-list from the YAML file and the CLI,
the Anthropic front door, and the clear 4xx a request gets when its files cannot be read as asked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests import documents
from tests.conftest import UPSTREAM_KEY, FileRelay, Relaygate, Tenant, make_tenant
from tests.documents import MARKER
from tests.file_relay import user_text
from tests.fileserver import FileServer
from tests.upstreams.openai_mock import MockOpenAI


@pytest.fixture
def files(file_relay: FileRelay, files_upstream: MockOpenAI) -> Tenant:
    files_upstream.reset()
    return make_tenant(file_relay.rg, [files_upstream.base_url], models=["gpt-4", "gpt-4o"])


def _refused(call: Any) -> dict[str, Any]:
    with pytest.raises(openai.APIStatusError) as refused:
        call()
    error: dict[str, Any] = refused.value.response.json()["error"]
    error["status"] = refused.value.status_code
    return error


def test_the_yaml_file_declares_all_tools_models_and_the_allow_list(tmp_path: Path, files_upstream: MockOpenAI,
                                                                     file_server: FileServer) -> None:
    files_upstream.reset()
    config = tmp_path / "relaygate.yaml"
    config.write_text(f"""
users: [{{name: ana, balance: 100000000}}]
channels: [{{name: base, base_url: "{files_upstream.base_url}", credentials: [{UPSTREAM_KEY}], models: [gpt-4o]}}]
keys: [{{key: sk-yaml-files-0001, user: ana}}]
all_tools: {{doc-reader: {{base_model: gpt-4o, context_tokens: 16000}}}}
fetch_allow: ["127.0.0.1:{file_server.port}", {{entry: "10.20.0.0/16", note: intranet}}]
""")
    url = file_server.add("yaml/notes.md", f"# Notes\n\n{MARKER}\n".encode(), "text/markdown")
    rg = Relaygate(tmp_path).start("--config", str(config))
    try:
        answer = rg.client("sk-yaml-files-0001").chat.completions.create(
            model="doc-reader", messages=[{"role": "user", "content": f"{url} what do the notes say?"}])
        assert answer.model == "gpt-4o" and MARKER in user_text(files_upstream.requests[-1])
        marks = {m["model"]: m for m in rg.ok("GET", "/api/all-tools")}
        assert marks["doc-reader"]["context_tokens"] == 16000 and not marks["doc-reader"]["builtin"]
        entries = [(e["entry"], e["note"], e["source"]) for e in rg.ok("GET", "/api/fetch-allow")]
        assert entries == [(f"127.0.0.1:{file_server.port}", "", "store"), ("10.20.0.0/16", "intranet", "store")]
    finally:
        rg.close()


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAYGATE_DATA_DIR": str(tmp_path / "data"), "RELAYGATE_FETCH_ALLOW": "192.168.7.0/24"}
    return subprocess.run([sys.executable, "-m", "relaygate.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)


def _lines(done: subprocess.CompletedProcess[str]) -> list[Any]:
    assert done.returncode == 0, done.stderr
    return [orjson.loads(line) for line in done.stdout.splitlines()]


def test_the_cli_marks_models_and_keeps_the_allow_list(tmp_path: Path) -> None:
    assert _cli(tmp_path, "migrate").returncode == 0
    [marked] = _lines(_cli(tmp_path, "all-tools", "set", "claude-all", "--base", "claude-3-5-haiku-20241022",
                           "--no-vision", "--context-tokens", "100000"))
    assert marked == {"model": "claude-all", "base_model": "claude-3-5-haiku-20241022", "vision": False,
                      "context_tokens": 100000, "enabled": True, "builtin": False}
    [off] = _lines(_cli(tmp_path, "all-tools", "set", "gpt-4-all", "--disable"))
    assert (off["base_model"], off["enabled"]) == ("gpt-4", False)
    listed = {m["model"]: m for m in _lines(_cli(tmp_path, "all-tools", "list"))}
    assert set(listed) == {"claude-all", "gpt-4-all", "gpt-4o-all"} and listed["gpt-4o-all"]["builtin"]
    assert _lines(_cli(tmp_path, "all-tools", "remove", "gpt-4-all")) == [{"ok": True}]
    [entry] = _lines(_cli(tmp_path, "fetch-allow", "add", "files.intranet:8443", "--note", "wiki"))
    assert (entry["entry"], entry["source"]) == ("files.intranet:8443", "store")
    assert [e["entry"] for e in _lines(_cli(tmp_path, "fetch-allow", "list"))] == ["192.168.7.0/24",
                                                                                  "files.intranet:8443"]
    assert _lines(_cli(tmp_path, "fetch-allow", "remove", str(entry["id"]))) == [{"ok": True}]
    bad = _cli(tmp_path, "fetch-allow", "add", "intranet-without-port")
    assert bad.returncode == 2 and "entry" in bad.stderr
    missing = _cli(tmp_path, "all-tools", "remove", "never-marked")
    assert missing.returncode == 1 and "never-marked" in missing.stderr


def test_an_anthropic_client_asks_an_all_tools_model_through_the_messages_api(
        file_relay: FileRelay, files: Tenant, files_upstream: MockOpenAI) -> None:
    url = file_relay.files.add("front/guide.docx", documents.docx_file())
    client = anthropic.Anthropic(base_url=file_relay.rg.url, api_key=files.key, max_retries=0, timeout=30)
    message = client.messages.create(model="gpt-4o-all", max_tokens=300, messages=[
        {"role": "user", "content": f"{url} How is a domain added?"}])
    assert message.type == "message" and message.content[0].type == "text" and message.content[0].text
    sent = files_upstream.requests[-1]
    assert sent.json["model"] == "gpt-4o" and sent.json["max_tokens"] == 300
    assert MARKER in user_text(sent) and user_text(sent).endswith("Question:\nHow is a domain added?")


def test_a_question_and_max_tokens_leaving_no_room_for_the_file_is_a_clear_400(
        file_relay: FileRelay, files: Tenant, files_upstream: MockOpenAI) -> None:
    url = file_relay.files.add("room/doc.pdf", documents.pdf(), "application/pdf")
    error = _refused(lambda: file_relay.rg.client(files.key).chat.completions.create(
        model="gpt-4-all", max_tokens=8000, messages=[{"role": "user", "content": f"{url} summarise"}]))
    assert (error["status"], error["code"], error["param"]) == (400, "context_length_exceeded", "max_tokens")
    assert "8,192-token context" in error["message"] and files_upstream.requests == []


def test_an_all_tools_model_whose_base_model_is_not_served_is_a_404_naming_both(
        file_relay: FileRelay, files_upstream: MockOpenAI) -> None:
    t = make_tenant(file_relay.rg, [files_upstream.base_url], models=["gpt-4o"])
    url = file_relay.files.add("unserved/doc.pdf", documents.pdf(), "application/pdf")
    before = file_relay.files.paths().count("/files/unserved/doc.pdf")
    error = _refused(lambda: file_relay.rg.client(t.key).chat.completions.create(
        model="gpt-4-all", messages=[{"role": "user", "content": f"{url} summarise"}]))
    assert (error["status"], error["code"]) == (404, "model_not_found")
    assert "'gpt-4-all'" in error["message"] and "'gpt-4'" in error["message"]
    assert file_relay.files.paths().count("/files/unserved/doc.pdf") == before == 0
    assert "gpt-4o-all" in {m.id for m in file_relay.rg.client(t.key).models.list()}


@pytest.mark.parametrize(("part", "status", "code"), [
    ({"type": "file", "file": {"file_id": "file-abc123"}}, 400, "invalid_request_error"),
    ({"type": "file", "file": {"filename": "x.pdf", "file_data": "%%% not base64"}}, 400, "invalid_request_error"),
    ({"type": "file", "file": {"filename": "x.exe", "file_data": "f0VMRgIBAQAAAAAAAAAAAA=="}}, 415,
     "unsupported_file_type"),
])
def test_a_file_part_relaygate_cannot_read_is_refused(part: dict[str, Any], status: int, code: str,
                                                      file_relay: FileRelay, files: Tenant,
                                                      files_upstream: MockOpenAI) -> None:
    error = _refused(lambda: file_relay.rg.client(files.key).chat.completions.create(
        model="gpt-4o-all", messages=[{"role": "user", "content": [{"type": "text", "text": "read it"}, part]}]))
    assert (error["status"], error["code"], error["param"]) == (status, code, "messages")
    assert files_upstream.requests == []
