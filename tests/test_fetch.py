"""The guarded fetcher against real servers on 127.0.0.1: what it fetches, what it refuses unconnected, its caps."""

from __future__ import annotations

import gzip
import hashlib
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from aiohttp import web

from relaygate.core.errors import FetchFailed, FetchRefused, FileTooLarge, RelayError
from relaygate.fetch import Fetched, FetchPolicy, GuardedFetcher, StaticResolver, SystemResolver
from relaygate.fetch.allow import parse_allow_list
from relaygate.fetch.resolver import Resolver
from tests.conftest import free_port
from tests.fileserver import ConnectLog, FileServer, InternalServer, LoopThread


def _policy(server: FileServer, *extra: str, **caps: Any) -> FetchPolicy:
    return FetchPolicy(allow=parse_allow_list(",".join([f"127.0.0.1:{server.port}", *extra])), **caps)


def fetch(aio: LoopThread, policy: FetchPolicy, url: str, resolver: Resolver | None = None,
          ssl_context: ssl.SSLContext | None = None) -> Fetched:
    async def go() -> Fetched:
        fetcher = GuardedFetcher(policy, resolver, ssl_context)
        try:
            return await fetcher.fetch(url)
        finally:
            await fetcher.close()
    return aio.run(go())


def refused(aio: LoopThread, policy: FetchPolicy, url: str, resolver: Resolver | None = None) -> RelayError:
    with pytest.raises(RelayError) as caught:
        fetch(aio, policy, url, resolver)
    return caught.value


@pytest.fixture
def log(connect_log: ConnectLog) -> Iterator[ConnectLog]:
    connect_log.clear()
    yield connect_log


def test_a_file_is_fetched_with_relaygates_user_agent_and_no_other_client_headers(
        aio: LoopThread, file_server: FileServer) -> None:
    url = file_server.add("hello.txt", b"hello, file", "text/plain; charset=utf-8")
    got = fetch(aio, _policy(file_server), url)
    assert (got.data, got.name, got.content_type, got.charset) == (b"hello, file", "hello.txt", "text/plain", "utf-8")
    assert got.sha256 == hashlib.sha256(b"hello, file").hexdigest() and got.url == url and got.redirects == ()
    headers = file_server.requests[-1].headers
    assert headers["User-Agent"] == "relaygate/0.1.0"
    assert headers["Host"] == f"127.0.0.1:{file_server.port}"
    assert set(headers) <= {"Host", "User-Agent", "Accept", "Accept-Encoding", "Connection"}


def test_the_file_name_comes_from_content_disposition(aio: LoopThread, file_server: FileServer) -> None:
    url = file_server.add("download", b"%PDF-1.4", "application/pdf",
                          **{"Content-Disposition": 'attachment; filename="api-doc.pdf"'})
    assert fetch(aio, _policy(file_server), url).name == "api-doc.pdf"


def test_redirects_are_followed_and_cookies_never_sent_back(aio: LoopThread, file_server: FileServer) -> None:
    file_server.add("target.txt", b"arrived")
    file_server.add("cookie", b"", **{"Set-Cookie": "session=abc; Path=/"})
    got = fetch(aio, _policy(file_server), f"{file_server.base_url}/redirect?to=/files/target.txt&status=301")
    assert got.data == b"arrived" and got.url == f"{file_server.base_url}/files/target.txt"
    assert got.redirects == (f"{file_server.base_url}/files/target.txt",)
    fetch(aio, _policy(file_server), f"{file_server.base_url}/redirect?to=/files/cookie")
    assert all("Cookie" not in r.headers for r in file_server.requests[-2:])


def test_a_redirect_to_a_private_server_is_refused_before_connecting(
        aio: LoopThread, file_server: FileServer, internal_server: InternalServer, log: ConnectLog) -> None:
    before = internal_server.connections
    for to in [f"http://127.0.0.1:{internal_server.port}/", f"http://2130706433:{internal_server.port}/",
               "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "file:///etc/passwd"]:
        error = refused(aio, _policy(file_server), f"{file_server.base_url}/redirect?to={to}")
        assert (error.status, error.code) == (400, "url_not_allowed"), to
        assert error.message.startswith("a redirect led to a refused")
    assert internal_server.connections == before
    assert set(log.ports()) == {file_server.port}


def test_more_redirects_than_the_cap_are_refused(aio: LoopThread, file_server: FileServer) -> None:
    assert fetch(aio, _policy(file_server), f"{file_server.base_url}/chain/5").data == b"the end of the chain"
    start = len(file_server.requests)
    error = refused(aio, _policy(file_server), f"{file_server.base_url}/chain/6")
    assert (error.status, error.code) == (400, "too_many_redirects")
    assert len(file_server.requests) - start == 6  # the first request and five redirects, no seventh
    error = refused(aio, _policy(file_server, max_redirects=0), f"{file_server.base_url}/chain/1")
    assert error.code == "too_many_redirects"


HOSTILE = [
    "http://127.0.0.1:{internal}/", "http://localhost:{internal}/", "http://[::1]:{internal}/",
    "http://0.0.0.0:{internal}/", "http://2130706433:{internal}/", "http://0x7f000001:{internal}/",
    "http://0177.0.0.1:{internal}/", "http://127.1:{internal}/", "http://[::ffff:127.0.0.1]:{internal}/",
    "http://[::ffff:7f00:1]:{internal}/", "http://[::127.0.0.1]:{internal}/", "http://127.0.0.1.:{internal}/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/", "http://10.0.0.1/", "http://10.255.0.7:8080/x.pdf",
    "http://172.16.0.1/", "http://172.31.255.1/", "http://192.168.0.1/", "http://192.168.1.254:{internal}/",
    "http://100.64.0.1/", "http://[fe80::1]/", "http://[fc00::1]/", "http://224.0.0.1/", "http://255.255.255.255/",
    "http://[2002:7f00:1::]:{internal}/", "http://[64:ff9b::7f00:1]:{internal}/",
    "file:///etc/passwd", "ftp://127.0.0.1:{internal}/", "gopher://127.0.0.1:{internal}/_GET",
    "http://user:pass@127.0.0.1:{file}/files/hello.txt", "http://user:pass@example.com/",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_urls_are_refused_without_a_single_connection(
        template: str, aio: LoopThread, file_server: FileServer, internal_server: InternalServer,
        log: ConnectLog) -> None:
    before = internal_server.connections
    error = refused(aio, _policy(file_server), template.format(internal=internal_server.port, file=file_server.port),
                    SystemResolver())
    assert isinstance(error, FetchRefused)
    assert (error.status, error.code, error.type) == (400, "url_not_allowed", "invalid_request_error")
    assert log.targets == [] and internal_server.connections == before


def test_a_host_name_resolving_to_a_private_address_is_refused(
        aio: LoopThread, file_server: FileServer, internal_server: InternalServer, log: ConnectLog) -> None:
    resolver = StaticResolver({"intranet.test": ["127.0.0.1"], "wiki.test": ["10.1.2.3"],
                               "meta.test": ["169.254.169.254"], "both.test": ["::1", "192.168.0.2"]})
    before = internal_server.connections
    for name in ["intranet.test", "wiki.test", "meta.test", "both.test"]:
        error = refused(aio, _policy(file_server), f"http://{name}:{internal_server.port}/", resolver)
        assert error.code == "url_not_allowed" and "resolves only to private" in error.message
    assert log.targets == [] and internal_server.connections == before


def test_a_name_pinned_by_the_resolver_is_connected_to_by_its_vetted_address(
        aio: LoopThread, file_server: FileServer, log: ConnectLog) -> None:
    file_server.add("named.txt", b"by name")
    resolver = StaticResolver({"files.test": ["127.0.0.1"]})
    got = fetch(aio, _policy(file_server), f"http://files.test:{file_server.port}/files/named.txt", resolver)
    assert got.data == b"by name"
    assert file_server.requests[-1].headers["Host"] == f"files.test:{file_server.port}"
    assert log.targets == [("127.0.0.1", file_server.port)]


def test_an_unknown_host_name_is_a_fetch_failure(aio: LoopThread, file_server: FileServer) -> None:
    error = refused(aio, _policy(file_server), "http://nowhere.test/", StaticResolver({}))
    assert isinstance(error, FetchFailed) and (error.status, error.code) == (502, "fetch_failed")


def test_an_allow_list_entry_opens_its_port_and_no_other(
        aio: LoopThread, file_server: FileServer, internal_server: InternalServer) -> None:
    file_server.add("intranet.txt", b"intranet doc")
    assert fetch(aio, _policy(file_server), f"http://localhost:{file_server.port}/files/intranet.txt").data == \
        b"intranet doc"
    error = refused(aio, _policy(file_server), f"http://127.0.0.1:{internal_server.port}/")
    assert error.code == "url_not_allowed"
    error = refused(aio, FetchPolicy(), file_server.add("x.txt", b"x"))
    assert error.code == "url_not_allowed"  # off by default: no allow-list, no loopback


def test_an_endless_body_stops_at_the_byte_cap(aio: LoopThread, file_server: FileServer) -> None:
    error = refused(aio, _policy(file_server), f"{file_server.base_url}/endless")
    assert isinstance(error, FileTooLarge) and (error.status, error.code) == (413, "file_too_large")
    error = refused(aio, _policy(file_server, max_bytes=1000), file_server.add("k.txt", b"k" * 1001))
    assert error.code == "file_too_large"
    assert fetch(aio, _policy(file_server, max_bytes=1000), file_server.add("j.txt", b"j" * 1000)).size == 1000


def test_a_declared_length_over_the_cap_is_refused_before_reading(aio: LoopThread, file_server: FileServer) -> None:
    error = refused(aio, _policy(file_server), f"{file_server.base_url}/lies/{30 * 1024 * 1024}")
    assert error.code == "file_too_large" and "20,971,520" in error.message


def test_a_slow_drip_ends_at_the_total_time_cap(aio: LoopThread, file_server: FileServer) -> None:
    error = refused(aio, _policy(file_server, total_timeout=1.0), f"{file_server.base_url}/drip")
    assert (error.status, error.code) == (400, "fetch_timeout") and "1 s" in error.message


def test_a_server_slow_to_answer_ends_at_the_first_byte_cap(aio: LoopThread, file_server: FileServer) -> None:
    error = refused(aio, _policy(file_server, first_byte_timeout=0.3), f"{file_server.base_url}/slow-headers/3")
    assert error.code == "fetch_timeout" and "did not answer within 0.3 s" in error.message


@pytest.mark.parametrize("status", [404, 403, 500, 503])
def test_an_error_status_is_a_fetch_failure_that_never_echoes_the_body(
        status: int, aio: LoopThread, file_server: FileServer) -> None:
    error = refused(aio, _policy(file_server), f"{file_server.base_url}/status/{status}")
    assert isinstance(error, FetchFailed) and (error.status, error.code) == (502, "fetch_failed")
    assert str(status) in error.message and "SECRET" not in error.message


def test_a_closed_port_is_a_fetch_failure(aio: LoopThread) -> None:
    port = free_port()
    error = refused(aio, FetchPolicy(allow=parse_allow_list(f"127.0.0.1:{port}")), f"http://127.0.0.1:{port}/")
    assert error.code == "fetch_failed" and "connect" in error.message


def test_a_gzip_body_is_decoded_and_a_gzip_bomb_stops_at_the_cap(aio: LoopThread, file_server: FileServer) -> None:
    file_server.add("zipped.txt", b"compressed text " * 100)
    assert fetch(aio, _policy(file_server), f"{file_server.base_url}/gzip/zipped.txt").data == b"compressed text " * 100
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024), compresslevel=1)
    url = file_server.add("bomb", bomb, **{"Content-Encoding": "gzip"})
    assert len(bomb) < 1024 * 1024
    error = refused(aio, _policy(file_server), url)
    assert error.code == "file_too_large"


def test_https_connects_to_the_vetted_address_and_verifies_the_certificate_for_the_host_name(
        aio: LoopThread, log: ConnectLog) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("files.test").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    port = free_port()
    seen: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        seen.append(request.headers["Host"])
        return web.Response(body=b"over tls")

    async def start() -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/doc", serve)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_context).start()
        return runner

    runner = aio.run(start())
    try:
        policy = FetchPolicy(allow=parse_allow_list(f"127.0.0.1:{port}"))
        resolver = StaticResolver({"files.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        got = fetch(aio, policy, f"https://files.test:{port}/doc", resolver, client_context)
        assert got.data == b"over tls" and seen == [f"files.test:{port}"]
        assert log.targets == [("127.0.0.1", port)]
        with pytest.raises(FetchFailed, match="TLS"):
            fetch(aio, policy, f"https://other.test:{port}/doc", resolver, client_context)
        with pytest.raises(FetchFailed, match="TLS"):
            fetch(aio, policy, f"https://files.test:{port}/doc", resolver)  # the system's CAs do not know ours
    finally:
        aio.run(runner.cleanup())
