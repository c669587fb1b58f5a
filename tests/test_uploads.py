"""Upload caps: a multipart body larger than RELAYGATE_MAX_UPLOAD_BYTES is refused with 413 as soon as it passes the
cap (declared or streamed), and the relay's memory does not grow by more than the cap while it reads one."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import Relaygate, Tenant
from tests.media import media_tenant, spent
from tests.upstreams import media_bytes
from tests.upstreams.openai_mock import MockOpenAI

MiB = 1024 * 1024
CAP = 25 * MiB
"""The default upload cap."""


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relaygate]:
    """A relaygate of its own, so its peak memory is this module's."""
    rg = Relaygate(tmp_path_factory.mktemp("uploads")).start()
    yield rg
    rg.close()


@pytest.fixture
def tenant(capped: Relaygate, upstream: MockOpenAI) -> Tenant:
    return media_tenant(capped, [upstream.base_url])


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _reset_peak(pid: int) -> None:
    """Start the process's peak RSS (VmHWM) afresh from its current RSS (Linux's clear_refs, value 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class _Upload:
    """A chunked multipart upload of a WAV file that never ends (unless `total` is reached), written on a raw socket
    while another thread waits for the answer: how far the body had gone when the answer came is recorded."""

    def __init__(self, rg: Relaygate, key: str, total: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", rg.port))
        self.key, self.total = key, total
        self.sent = 0
        self.sent_at_answer: int | None = None
        self.answer = b""

    def run(self) -> None:
        try:
            self._send()
        finally:
            self.sock.close()

    def _send(self) -> None:
        reader = threading.Thread(target=self._read, daemon=True)
        head = (f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {self.key}\r\n"
                "Content-Type: multipart/form-data; boundary=cap\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
        self.sock.sendall(head)
        reader.start()
        self._chunk(b'--cap\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--cap\r\n'
                    b'Content-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
                    + media_bytes.wav(1.0))
        piece = bytes(MiB)
        try:
            while self.sent < self.total and self.sent_at_answer is None:
                self._chunk(piece)
        except OSError:
            pass  # the relay closed the connection after answering
        reader.join(10)

    def _chunk(self, data: bytes) -> None:
        self.sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.sent += len(data)

    def _read(self) -> None:
        first = self.sock.recv(65536)
        self.sent_at_answer = self.sent
        self.answer = first


def test_a_200_mib_streamed_upload_is_refused_at_the_cap_without_the_memory_to_hold_it(
        capped: Relaygate, upstream: MockOpenAI, tenant: Tenant) -> None:
    assert capped.proc is not None
    pid = capped.proc.pid
    _reset_peak(pid)
    before = _status_kib(pid, "VmRSS")
    upload = _Upload(capped, tenant.key, 200 * MiB)
    upload.run()
    assert upload.answer.startswith(b"HTTP/1.1 413"), upload.answer[:200]
    assert b"request_too_large" in upload.answer and b"X-Request-Id: req_" in upload.answer
    assert upload.sent_at_answer is not None and upload.sent_at_answer < CAP + 8 * MiB, (
        f"the 413 came after {upload.sent_at_answer / MiB:.0f} MiB")
    grown = (_status_kib(pid, "VmHWM") - before) / 1024
    assert grown < CAP / MiB, f"the relay's peak memory grew by {grown:.0f} MiB reading a refused upload"
    assert upstream.media.requests == [] and spent(capped, tenant) == 0


def test_a_declared_length_over_the_cap_is_refused_before_reading_the_body(capped: Relaygate, upstream: MockOpenAI,
                                                                           tenant: Tenant) -> None:
    with socket.create_connection(("127.0.0.1", capped.port)) as sock:
        sock.sendall((f"POST /v1/images/edits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tenant.key}\r\n"
                      "Content-Type: multipart/form-data; boundary=cap\r\n"
                      f"Content-Length: {200 * MiB}\r\n\r\n").encode() + b"--cap\r\n")
        sock.settimeout(10)
        started = time.monotonic()
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 5
    assert upstream.media.requests == []


def test_an_upload_within_the_cap_goes_through_whole(capped: Relaygate, upstream: MockOpenAI,
                                                     tenant: Tenant) -> None:
    audio = media_bytes.wav(240.0, rate=48_000)  # 22 MiB
    assert 20 * MiB < len(audio) < CAP
    resp = httpx.post(capped.base_url + "/audio/transcriptions", data={"model": "whisper-1", "response_format": "text"},
                      files={"file": ("long.wav", audio, "audio/wav")}, timeout=60,
                      headers={"Authorization": f"Bearer {tenant.key}"})
    assert resp.status_code == 200, resp.text
    assert upstream.media.last.files("file")[0].data == audio and upstream.media.last.duration == 240.0


def test_the_cap_is_a_setting(tmp_path: Path, upstream: MockOpenAI) -> None:
    rg = Relaygate(tmp_path, env={"RELAYGATE_MAX_UPLOAD_BYTES": str(2 * MiB)}).start()
    try:
        t = media_tenant(rg, [upstream.base_url])

        def edit(image: bytes) -> httpx.Response:
            return httpx.post(rg.base_url + "/images/edits", data={"prompt": "a hat", "model": "gpt-image-1"},
                              files={"image": ("big.png", image, "image/png")}, timeout=30,
                              headers={"Authorization": f"Bearer {t.key}"})

        refused = edit(media_bytes.large_png(3 * MiB))
        assert refused.status_code == 413 and refused.json()["error"]["code"] == "request_too_large"
        assert str(2 * MiB) in refused.json()["error"]["message"]
        assert edit(media_bytes.large_png(MiB)).status_code == 200
    finally:
        rg.close()
