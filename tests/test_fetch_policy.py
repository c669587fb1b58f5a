"""The fetcher's address and URL rules on their own: every spelling of a private address is one, and is refused."""

from __future__ import annotations

import ipaddress

import pytest

from relaygate.config import Settings
from relaygate.core.errors import (
    BadRequest,
    FetchFailed,
    FetchRefused,
    FileTooLarge,
    RelayError,
    UnreadableFile,
    UnsupportedFile,
    UpstreamFailed,
)
from relaygate.fetch.addresses import InvalidHost, is_public, parse_host_address
from relaygate.fetch.allow import parse_allow_entry, parse_allow_list
from relaygate.fetch.limits import ExtractLimits
from relaygate.fetch.policy import FetchPolicy, admitted_addresses, check_url
from relaygate.fetch.resolver import parse_host_table

LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.mark.parametrize("spelling", [
    "127.0.0.1", "127.1", "2130706433", "0x7f000001", "0x7F.0.0.1", "0177.0.0.1", "0177.1", "127.0.0.1.",
    "127.000.000.001",
])
def test_every_spelling_of_loopback_is_read_as_the_address_it_is(spelling: str) -> None:
    assert parse_host_address(spelling) == LOOPBACK


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3.4.5", "0x1g.1", "127.0.0.0x", "256.256.256.256"])
def test_a_host_ending_in_a_number_that_is_no_address_is_invalid_not_a_name(host: str) -> None:
    with pytest.raises(InvalidHost):
        parse_host_address(host)


@pytest.mark.parametrize("host", ["example.com", "files.example.org.", "1.example", "a1b2", "xn--bcher-kva.de"])
def test_host_names_are_left_to_the_resolver(host: str) -> None:
    assert parse_host_address(host) is None


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.9", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.0.1",
    "169.254.169.254", "169.254.0.1", "100.64.0.1", "100.100.100.200", "100.127.255.255", "0.0.0.0", "0.1.2.3",
    "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.2.10", "198.18.0.1", "192.0.0.192",
    "::", "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "fec0::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1",
    "2002:7f00:1::", "2002:a9fe:a9fe::1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2001::1",
])
def test_private_loopback_link_local_metadata_and_reserved_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8",
                                     "2002:808:808::1", "64:ff9b::808:808", "172.32.0.1", "100.128.0.1"])
def test_ordinary_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://example.com/file.pdf", "gopher://example.com:70/1", "data:text/plain,hi",
    "javascript:alert(1)", "http://user:hunter2@example.com/a.pdf", "http://user@example.com/a.pdf",
    "http://@example.com/a.pdf", "https://:secret@example.com/", "http:///a.pdf", "http://999.1.1.1/",
    "http://a\\@127.0.0.1/", "not a url", "http://example.com:0/",
])
def test_urls_that_are_not_plain_http_or_carry_credentials_are_refused(url: str) -> None:
    with pytest.raises(FetchRefused) as refused:
        check_url(url)
    assert refused.value.code == "url_not_allowed" and refused.value.status == 400
    assert "hunter2" not in refused.value.message and "secret" not in refused.value.message


def test_a_url_is_split_into_host_header_tls_name_and_port() -> None:
    target = check_url("https://Files.Example.COM:8443/docs/a%20b.pdf?x=1#frag")
    assert (target.hostname, target.port, target.address) == ("files.example.com", 8443, None)
    assert target.host_header == "files.example.com:8443"
    assert str(target.url) == "https://files.example.com:8443/docs/a%20b.pdf?x=1"
    assert check_url("http://[::ffff:127.0.0.1]:81/").hostname == "::ffff:7f00:1"
    assert check_url("http://[::1]/").host_header == "[::1]"
    assert check_url("http://0x7f000001/").hostname == "127.0.0.1"


def test_the_default_policy_admits_only_public_addresses() -> None:
    policy = FetchPolicy()
    for url in ["http://127.0.0.1:8080/", "http://10.1.2.3/", "http://[::1]/"]:
        target = check_url(url)
        assert target.address is not None
        with pytest.raises(FetchRefused, match="private, loopback"):
            admitted_addresses(target, [target.address], policy)
    public = check_url("http://files.example/")
    assert admitted_addresses(public, [ipaddress.ip_address("8.8.8.8")], policy) == [ipaddress.ip_address("8.8.8.8")]


def test_of_a_name_resolving_to_public_and_private_addresses_only_the_public_one_is_used() -> None:
    target = check_url("http://mixed.example/")
    addresses = [ipaddress.ip_address("10.0.0.5"), ipaddress.ip_address("8.8.4.4")]
    assert admitted_addresses(target, addresses, FetchPolicy()) == [ipaddress.ip_address("8.8.4.4")]
    with pytest.raises(FetchRefused, match="resolves only to private"):
        admitted_addresses(target, addresses[:1], FetchPolicy())


def test_an_allow_list_host_port_entry_opens_that_port_only() -> None:
    policy = FetchPolicy(allow=parse_allow_list("127.0.0.1:8080"))
    assert policy.admits("127.0.0.1", LOOPBACK, 8080)
    assert not policy.admits("127.0.0.1", LOOPBACK, 8081)
    assert not policy.admits("127.0.0.2", ipaddress.ip_address("127.0.0.2"), 8080)
    # The same destination written as IPv4-mapped IPv6 is the same destination.
    assert policy.admits("::ffff:7f00:1", ipaddress.ip_address("::ffff:127.0.0.1"), 8080)


def test_allow_list_cidr_and_host_name_entries() -> None:
    policy = FetchPolicy(allow=parse_allow_list("10.20.0.0/16, files.corp:443 ,[fd00::5]:8443"))
    assert policy.admits("x", ipaddress.ip_address("10.20.3.4"), 1234)
    assert not policy.admits("x", ipaddress.ip_address("10.21.0.1"), 1234)
    assert policy.admits("files.corp", ipaddress.ip_address("10.9.9.9"), 443)
    assert not policy.admits("files.corp", ipaddress.ip_address("10.9.9.9"), 80)
    assert policy.admits("y", ipaddress.ip_address("fd00::5"), 8443)


def test_no_allow_list_entry_opens_unspecified_multicast_or_broadcast() -> None:
    policy = FetchPolicy(allow=parse_allow_list("0.0.0.0/0,::/0"))
    for address in ["0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "ff02::1", "::ffff:0.0.0.0"]:
        assert not policy.admits("h", ipaddress.ip_address(address), 80)
    assert policy.admits("h", ipaddress.ip_address("10.0.0.1"), 80)


@pytest.mark.parametrize("entry", ["127.0.0.1:99999", "localhost", "files.corp", "[::1", "10.0.0.0/33", "a b:80",
                                   "host/x:80", ":80"])
def test_malformed_allow_list_entries_are_rejected(entry: str) -> None:
    with pytest.raises(ValueError):
        parse_allow_entry(entry)


def test_the_allow_list_setting_is_validated_when_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYGATE_FETCH_ALLOW", "127.0.0.1:8080,10.0.0.0/8")
    policy = FetchPolicy.from_settings(Settings())
    assert [str(entry) for entry in policy.allow] == ["127.0.0.1:8080", "10.0.0.0/8"]
    assert policy.user_agent.startswith("relaygate/")
    monkeypatch.setenv("RELAYGATE_FETCH_ALLOW", "127.0.0.1:notaport")
    with pytest.raises(ValueError, match="not a port"):
        Settings()


def test_pinned_host_names_are_parsed_and_checked_when_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_host_table(" Files.Intranet.=10.1.2.3|10.1.2.4 , wiki=fd00::5,") == {
        "files.intranet": ["10.1.2.3", "10.1.2.4"], "wiki": ["fd00::5"]}
    for wrong in ("files.intranet", "=10.0.0.1", "files=", "files=not-an-ip", "a/b=10.0.0.1", "a:80=10.0.0.1"):
        with pytest.raises(ValueError, match="fetch hosts entry"):
            parse_host_table(wrong)
    monkeypatch.setenv("RELAYGATE_FETCH_HOSTS", "wiki=999.1.1.1")
    with pytest.raises(ValueError, match="not an IP address"):
        Settings()


def test_the_fetch_settings_have_safe_defaults() -> None:
    policy = FetchPolicy.from_settings(Settings())
    assert policy.allow == ()
    assert policy.max_bytes == 20 * 1024 * 1024 and policy.total_timeout == 30 and policy.max_redirects == 5
    assert (policy.connect_timeout, policy.first_byte_timeout) == (5, 10)
    settings = Settings()
    assert (settings.file_analysis_max_files, settings.fetch_cache_ttl) == (3, 900)
    limits = ExtractLimits.from_settings(settings)
    assert limits == ExtractLimits()  # the settings' defaults are the extractor's own safe ones
    assert (limits.max_pages, limits.max_sheets, limits.max_rows, limits.max_slides) == (500, 50, 100_000, 500)
    assert (limits.max_unpacked_bytes, limits.max_archive_entries) == (256 * 1024 * 1024, 10_000)
    assert (limits.memory_bytes, limits.timeout) == (1024 * 1024 * 1024, 30)


def test_fetch_errors_sit_in_the_one_error_tree_with_their_statuses() -> None:
    expected = [(FetchRefused, 400, "url_not_allowed"), (FileTooLarge, 413, "file_too_large"),
                (UnsupportedFile, 415, "unsupported_file_type"), (UnreadableFile, 422, "unreadable_file")]
    for cls, status, code in expected:
        error = cls("m")
        assert isinstance(error, FetchRefused) and isinstance(error, BadRequest)
        assert (error.status, error.code, error.type) == (status, code, "invalid_request_error")
    failed = FetchFailed("m")
    assert isinstance(failed, RelayError) and not isinstance(failed, UpstreamFailed | BadRequest)
    assert (failed.status, failed.code) == (502, "fetch_failed")
    assert FileTooLarge("m", code="too_many_pages").code == "too_many_pages"
