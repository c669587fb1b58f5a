"""Audio and image relaying, measured: TTS time to first audio byte added over going direct and gateway CPU per MB of
audio; the relay's peak RSS with 10 concurrent 20 MiB uploads in flight (and a 200 MiB upload refused at the cap);
the copies a 20 MB b64_json answer holds and the gateway CPU it costs.

    nice .venv/bin/python scripts/bench-media.py [--speech 60] [--uploads 10] [--upload-mib 20]

A real `relaygate serve` (fresh SQLite, every production feature on) in front of the tests' fake OpenAI upstream,
which runs in this process; the relay's CPU and memory are read from /proc for its own process only. Peak RSS is
VmHWM after resetting it (clear_refs), so "grew" is what the scenario added over the relay's resident size before;
the relay runs with a fixed glibc mmap threshold so that a freed large buffer leaves RSS at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import UPSTREAM_KEY, Relaygate, make_tenant  # noqa: E402
from tests.test_uploads import _Upload  # noqa: E402
from tests.upstreams import media_bytes  # noqa: E402
from tests.upstreams.openai_mock import MockOpenAI  # noqa: E402

MIB = 1024 * 1024
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def reset_peak(pid: int) -> float:
    """Reset the peak RSS to the current RSS; returns the current RSS in MiB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return status_mib(pid, "VmRSS")


def first_byte(client: httpx.Client, url: str, key: str, body: dict[str, object]) -> float:
    started = time.perf_counter()
    with client.stream("POST", url, json=body, headers={"Authorization": f"Bearer {key}"}) as resp:
        assert resp.status_code == 200, resp.read()
        chunks = resp.iter_raw()
        next(chunks)
        elapsed = time.perf_counter() - started
        for _ in chunks:
            pass
    return elapsed


def speech(rg: Relaygate, mock: MockOpenAI, key: str, runs: int) -> None:
    mock.reset()
    mock.media.speech_seconds, mock.media.chunk_bytes, mock.media.chunk_delay = 2.0, 4096, 0.002
    body = {"model": "tts-1", "input": "hello there", "voice": "alloy"}
    with httpx.Client(timeout=30) as client:
        for _ in range(5):  # warm both paths: connections, imports, caches
            first_byte(client, mock.base_url + "/audio/speech", UPSTREAM_KEY, body)
            first_byte(client, rg.base_url + "/audio/speech", key, body)
        direct, relayed = [], []
        for _ in range(runs):  # interleaved, so both see the same machine
            direct.append(first_byte(client, mock.base_url + "/audio/speech", UPSTREAM_KEY, body))
            relayed.append(first_byte(client, rg.base_url + "/audio/speech", key, body))
    added = [(r - d) * 1000 for d, r in zip(direct, relayed, strict=True)]
    print(f"TTS first audio byte, {runs} runs each way: direct p50 {statistics.median(direct) * 1000:.2f} ms, "
          f"through relaygate p50 {statistics.median(relayed) * 1000:.2f} ms; added p50 "
          f"{statistics.median(added):.2f} ms, p90 {statistics.quantiles(added, n=10)[-1]:.2f} ms")
    mock.media.speech_seconds, mock.media.chunk_bytes, mock.media.chunk_delay = 60.0, 65536, 0.0
    big = {**body, "response_format": "wav"}
    assert rg.proc is not None
    with httpx.Client(timeout=60) as client:
        first_byte(client, rg.base_url + "/audio/speech", key, big)
        cpu, total = cpu_seconds(rg.proc.pid), 0
        for _ in range(20):
            with client.stream("POST", rg.base_url + "/audio/speech", json=big,
                               headers={"Authorization": f"Bearer {key}"}) as resp:
                total += sum(len(c) for c in resp.iter_raw())
        cpu = cpu_seconds(rg.proc.pid) - cpu
    print(f"TTS relaying: 20 x {total / 20 / MIB:.1f} MiB of wav, gateway CPU {cpu / (total / MIB) * 1000:.2f} ms "
          f"per MiB (whole requests: auth, reserve, settle and log included)")


async def uploads(rg: Relaygate, mock: MockOpenAI, key: str, count: int, mib: int) -> None:
    mock.reset()
    mock.media.transcript_text = "ok"
    audio = media_bytes.wav(mib * MIB / 96_000, rate=48_000)
    assert rg.proc is not None
    pid = rg.proc.pid
    async with httpx.AsyncClient(timeout=120) as client:
        async def one() -> int:
            resp = await client.post(rg.base_url + "/audio/transcriptions", headers={"Authorization": f"Bearer {key}"},
                                     data={"model": "whisper-1", "response_format": "text"},
                                     files={"file": ("talk.wav", audio, "audio/wav")})
            return resp.status_code

        await one()
        before = reset_peak(pid)
        started = time.perf_counter()
        statuses = await asyncio.gather(*(one() for _ in range(count)))
        wall = time.perf_counter() - started
    assert statuses == [200] * count, statuses
    grew = status_mib(pid, "VmHWM") - before
    flight = count * len(audio) / MIB
    print(f"uploads: {count} concurrent x {len(audio) / MIB:.1f} MiB ({flight:.0f} MiB in flight) in {wall:.1f} s: "
          f"peak RSS grew {grew:.1f} MiB = {grew / flight:.3f} x the data in flight (before {before:.0f} MiB)")
    before = reset_peak(pid)
    upload = _Upload(rg, key, 200 * MIB)
    upload.run()
    assert upload.answer.startswith(b"HTTP/1.1 413")
    print(f"uploads: a 200 MiB streamed upload refused with 413 after {(upload.sent_at_answer or 0) / MIB:.0f} MiB "
          f"had been sent (cap 25 MiB; the rest is socket buffers): peak RSS grew "
          f"{status_mib(pid, 'VmHWM') - before:.1f} MiB")


def images(rg: Relaygate, mock: MockOpenAI, key: str) -> None:
    mock.reset()
    mock.mode = "huge_image"
    assert rg.proc is not None
    pid = rg.proc.pid
    body = {"model": "dall-e-2", "prompt": "noise", "response_format": "b64_json"}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=60) as client:
        client.post(rg.base_url + "/images/generations", json=body, headers=headers)
        growth, cpu = [], []
        for _ in range(3):
            before, spent = reset_peak(pid), cpu_seconds(pid)
            size = len(client.post(rg.base_url + "/images/generations", json=body, headers=headers).content)
            cpu.append(cpu_seconds(pid) - spent)
            growth.append((status_mib(pid, "VmHWM") - before) * MIB / size)
    print(f"images: a {size / 1e6:.1f} MB b64_json answer: peak RSS grew {max(growth):.2f} x its size "
          f"(runs {', '.join(f'{g:.2f}' for g in growth)}; one copy held plus the piece in flight), gateway CPU "
          f"{statistics.median(cpu) * 1000:.0f} ms per answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech", type=int, default=60, help="first-byte runs each way")
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--upload-mib", type=int, default=20)
    args = parser.parse_args()
    mock = MockOpenAI(api_keys=[UPSTREAM_KEY]).start()
    with tempfile.TemporaryDirectory() as folder:
        # a fixed mmap threshold: glibc then returns every large buffer to the system when it is freed, so each
        # scenario's peak RSS is what it held at once, not what an earlier one left in the heap
        rg = Relaygate(Path(folder), env={"RELAYGATE_ACCESS_LOG": "true", "MALLOC_MMAP_THRESHOLD_": "131072"}).start()
        try:
            t = make_tenant(rg, [mock.base_url], models=["tts-1", "whisper-1", "dall-e-2"])
            speech(rg, mock, t.key, args.speech)
            asyncio.run(uploads(rg, mock, t.key, args.uploads, args.upload_mib))
            images(rg, mock, t.key)
        finally:
            rg.close()
            mock.stop()


if __name__ == "__main__":
    main()
