"""The hostile set end to end through the relay: each URL or file an all-tools request names is refused with the
right 4xx in OpenAI's error shape, the "internal" server never sees a connection, the upstream is never called,
nothing is charged, and a normal file question is answered right after."""

from __future__ import annotations

import random
import socket
from collections.abc import Callable

import openai
import pytest

from tests import documents
from tests.conftest import FileRelay, Tenant, make_tenant
from tests.documents import MARKER
from tests.fileserver import FileServer, InternalServer
from tests.upstreams.openai_mock import MockOpenAI

Case = tuple[str, Callable[[FileServer, int], str], int, str]

FILES: dict[str, Callable[[], bytes]] = {
    "report.pdf": documents.elf_executable,
    "setup.pdf": documents.pe_executable,
    "movie.pdf": documents.mp4_video,
    "random.pdf": lambda: random.Random(7).randbytes(4096),
    "bomb.docx": documents.zip_bomb_docx,
    "huge.pdf": lambda: documents.claims_pages_pdf(50_000_000),
    "empty.pdf": lambda: b"",
    "latin1.txt": lambda: "Voilà une phrase très française, déjà écrite.".encode("cp1252"),
}


def _file(name: str) -> Callable[[FileServer, int], str]:
    return lambda server, _: f"{server.base_url}/files/hostile/{name}"


def _internal(url: str) -> Callable[[FileServer, int], str]:
    return lambda server, port: url.format(port=port, files=server.base_url)


CASES: list[Case] = [
    ("127.0.0.1 on another port", _internal("http://127.0.0.1:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("localhost", _internal("http://localhost:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("[::1]", _internal("http://[::1]:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("0.0.0.0", _internal("http://0.0.0.0:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("decimal IP", _internal("http://2130706433:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("hex IP", _internal("http://0x7f000001:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("short IP", _internal("http://127.1:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("octal IP", _internal("http://0177.0.0.1:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("IPv4-mapped IPv6", _internal("http://[::ffff:127.0.0.1]:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("IPv4-mapped IPv6 in hex", _internal("http://[::ffff:7f00:1]:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("IPv4-compatible IPv6", _internal("http://[::127.0.0.1]:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("IPv4-mapped metadata service", _internal("http://[::ffff:169.254.169.254]/latest/meta-data/"), 400,
     "url_not_allowed"),
    ("metadata service", _internal("http://169.254.169.254/latest/meta-data/iam/"), 400, "url_not_allowed"),
    ("10/8", _internal("http://10.0.0.1/a.pdf"), 400, "url_not_allowed"),
    ("172.16/12", _internal("http://172.16.5.4/a.pdf"), 400, "url_not_allowed"),
    ("192.168/16", _internal("http://192.168.0.10/a.pdf"), 400, "url_not_allowed"),
    ("a name resolving to 10/8", _internal("http://wiki.test/a.pdf"), 400, "url_not_allowed"),
    ("a name resolving to loopback", _internal("http://intranet.test:{port}/a.pdf"), 400, "url_not_allowed"),
    ("a redirect to a private server", _internal("{files}/redirect?to=http://127.0.0.1:{port}/"), 400,
     "url_not_allowed"),
    ("a redirect to [::1]", _internal("{files}/redirect?to=http://[::1]:{port}/"), 400, "url_not_allowed"),
    ("a redirect to the metadata service", _internal("{files}/redirect?to=http://169.254.169.254/latest/"), 400,
     "url_not_allowed"),
    ("too many redirects", _internal("{files}/chain/9"), 400, "too_many_redirects"),
    ("an endless body", _internal("{files}/endless"), 413, "file_too_large"),
    ("a slow drip", _internal("{files}/drip"), 400, "fetch_timeout"),
    ("a zip-bomb DOCX", _file("bomb.docx"), 413, "archive_too_large"),
    ("a huge-page-count PDF", _file("huge.pdf"), 413, "too_many_pages"),
    ("an ELF executable renamed .pdf", _file("report.pdf"), 415, "unsupported_file_type"),
    ("a Windows executable renamed .pdf", _file("setup.pdf"), 415, "unsupported_file_type"),
    ("a video renamed .pdf", _file("movie.pdf"), 415, "unsupported_file_type"),
    ("random bytes", _file("random.pdf"), 415, "unsupported_file_type"),
    ("a 0-byte file", _file("empty.pdf"), 415, "empty_file"),
    ("non-UTF-8 text", _file("latin1.txt"), 415, "unsupported_text_encoding"),
    ("file://", _internal("file:///etc/passwd"), 400, "url_not_allowed"),
    ("ftp://", _internal("ftp://127.0.0.1:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("gopher://", _internal("gopher://127.0.0.1:{port}/_doc"), 400, "url_not_allowed"),
    ("user:pass@", _internal("http://user:pass@127.0.0.1:{port}/doc.pdf"), 400, "url_not_allowed"),
    ("a file server failing", _internal("{files}/status/500"), 502, "fetch_failed"),
]


@pytest.fixture(scope="module")
def hostile(file_relay: FileRelay, files_upstream: MockOpenAI) -> Tenant:
    for name, make in FILES.items():
        file_relay.files.add(f"hostile/{name}", make(), "application/pdf")
    return make_tenant(file_relay.rg, [files_upstream.base_url], models=["gpt-4", "gpt-4o"])


def _balance(relay: FileRelay, t: Tenant) -> int:
    return int(relay.rg.ok("GET", f"/api/users/{t.user_id}")["balance"])


def test_the_internal_server_would_count_a_connection_on_either_loopback(internal_server: InternalServer) -> None:
    """What makes "the internal server saw nothing" mean something: it does see a connection, over IPv4 and IPv6."""
    before = internal_server.connections
    for host in internal_server.hosts:
        with socket.create_connection((host, internal_server.port), timeout=5) as conn:
            answer = b""
            while chunk := conn.recv(1024):
                answer += chunk
            assert answer.endswith(b"INTERNAL-SECRET")
    assert "127.0.0.1" in internal_server.hosts
    assert internal_server.connections == before + len(internal_server.hosts)


@pytest.mark.parametrize(("what", "url", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_url_or_file_is_refused_and_the_relay_answers_right_after(
        what: str, url: Callable[[FileServer, int], str], status: int, code: str, file_relay: FileRelay,
        hostile: Tenant, files_upstream: MockOpenAI, internal_server: InternalServer) -> None:
    target = url(file_relay.files, internal_server.port)
    client = file_relay.rg.client(hostile.key)
    connections, balance = internal_server.connections, _balance(file_relay, hostile)
    files_upstream.reset()
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="gpt-4o-all", messages=[
            {"role": "user", "content": f"{target} Summarise this document."}])
    error = refused.value.response.json()["error"]
    assert (refused.value.status_code, error["code"]) == (status, code), error
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == "messages"
    assert error["message"].startswith("File 1 (") and "INTERNAL-SECRET" not in error["message"]
    assert "SECRET-ERROR-BODY" not in error["message"] and "pass@" not in error["message"]
    assert refused.value.response.headers["X-Request-Id"].startswith("req_")
    assert internal_server.connections == connections and files_upstream.requests == []
    assert _balance(file_relay, hostile) == balance
    good = file_relay.files.add("hostile/good.md", f"# Good\n\n{MARKER}\n".encode(), "text/markdown")
    answer = client.chat.completions.create(model="gpt-4o-all", messages=[
        {"role": "user", "content": f"{good} Summarise this document."}])
    assert answer.model == "gpt-4o" and len(files_upstream.requests) == 1
    assert _balance(file_relay, hostile) < balance


def test_refused_requests_are_logged_uncharged(file_relay: FileRelay, hostile: Tenant) -> None:
    client = file_relay.rg.client(hostile.key)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o-all", messages=[
            {"role": "user", "content": "http://10.9.8.7/x.pdf what is it?"}])
    file_relay.rg.wait_for(lambda: any(r["error_code"] == "url_not_allowed"
                                       for r in file_relay.rg.ok("GET", f"/api/logs?key_id={hostile.key_id}")))
    refused = [r for r in file_relay.rg.ok("GET", f"/api/logs?key_id={hostile.key_id}") if r["status"] >= 400]
    assert refused and all(r["cost"] == 0 and r["channel_id"] is None for r in refused)
