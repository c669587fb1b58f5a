"""Plain chat latency while file questions are read: chat at c=16 alone, then with 20 file questions at once.

    nice .venv/bin/python bench/files_bench.py [--seconds 8] [--files 20] [--concurrency 16] [--pages 100]

One relaygate process (as `relaygate serve` runs it, SQLite) in front of the fake OpenAI upstream, and the tests'
file server (allow-listed) holding `--files` different PDFs of `--pages` pages each (so none is a cache hit). Plain
chat runs at `--concurrency` for `--seconds` ("before"); then it runs again while `--files` questions to gpt-4o-all,
one per PDF, are sent at once; "during" is the chat requests that started while any file question was in flight.
Both phases in the same session, so they compare; everything shares this machine's cores, so read the absolute
figures as this machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import documents  # noqa: E402
from tests.conftest import UPSTREAM_KEY, Relaygate, make_tenant  # noqa: E402
from tests.fileserver import FileServer  # noqa: E402
from tests.upstreams.openai_mock import MockOpenAI  # noqa: E402

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _chat_worker(session: aiohttp.ClientSession, url: str, stop: asyncio.Event,
                       samples: list[tuple[float, float]]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        async with session.post(url, json=CHAT) as resp:
            await resp.read()
            assert resp.status == 200, resp.status
        samples.append((started, time.perf_counter() - started))


async def _chat_load(base: str, key: str, concurrency: int, seconds: float,
                     during: asyncio.Future[None] | None = None) -> list[tuple[float, float]]:
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        workers = [asyncio.create_task(_chat_worker(session, base + "/chat/completions", stop, samples))
                   for _ in range(concurrency)]
        await asyncio.sleep(seconds)
        if during is not None:
            await during
            await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*workers)
    return samples


async def _file_question(session: aiohttp.ClientSession, base: str, url: str) -> tuple[float, float, int]:
    body = {"model": "gpt-4o-all", "messages": [{"role": "user", "content": f"{url} Which page names the API?"}]}
    started = time.perf_counter()
    async with session.post(base + "/chat/completions", json=body) as resp:
        await resp.read()
        return started, time.perf_counter() - started, resp.status


async def _files_at_once(base: str, key: str, urls: list[str], after: float) -> list[tuple[float, float, int]]:
    await asyncio.sleep(after)
    headers = {"Authorization": f"Bearer {key}"}
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        return await asyncio.gather(*(_file_question(session, base, url) for url in urls))


def _line(label: str, latencies: list[float]) -> str:
    ms = [x * 1000 for x in latencies]
    return (f"{label:<34}{len(ms):>7}{statistics.median(ms):>9.1f}{_percentile(ms, 0.99):>9.1f}"
            f"{max(ms):>9.1f}")


async def run(args: argparse.Namespace, rg: Relaygate, key: str, urls: list[str]) -> None:
    warm = await _files_at_once(rg.base_url, key, urls[:1], 0)  # starts the extraction workers
    assert warm[0][2] == 200, warm
    before = await _chat_load(rg.base_url, key, args.concurrency, args.seconds)
    files = asyncio.ensure_future(_files_at_once(rg.base_url, key, urls[1:], args.seconds / 4))
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    files.add_done_callback(lambda _: done.set_result(None))
    during_all = await _chat_load(rg.base_url, key, args.concurrency, args.seconds / 4, done)
    answered = files.result()
    assert all(status == 200 for _, _, status in answered), answered
    first, last = min(s for s, _, _ in answered), max(s + d for s, d, _ in answered)
    during = [d for s, d in during_all if first <= s <= last]
    print(f"{'':<34}{'n':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    print(_line(f"chat c={args.concurrency}, before", [d for _, d in before]))
    print(_line(f"chat c={args.concurrency}, during {len(answered)} files", during))
    print(_line(f"file questions ({args.pages}-page PDFs)", [d for _, d, _ in answered]))
    print(f"file questions in flight for {last - first:.2f} s; chat during them "
          f"{len(during) / (last - first):.0f} req/s, before {len(before) / args.seconds:.0f} req/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    upstream = MockOpenAI(api_keys=[UPSTREAM_KEY], models=["gpt-4o"]).start()
    server = FileServer().start()
    urls = [server.add(f"bench/{i}.pdf", documents.pdf(args.pages, marker_page=1 + i % args.pages, filler=8),
                       "application/pdf") for i in range(args.files + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        rg = Relaygate(Path(tmp), env={"RELAYGATE_FETCH_ALLOW": f"127.0.0.1:{server.port}",
                                       "RELAYGATE_ACCESS_LOG": "false", "RELAYGATE_LOG_LEVEL": "WARNING"}).start()
        try:
            tenant = make_tenant(rg, [upstream.base_url], models=["gpt-4o"])
            asyncio.run(run(args, rg, tenant.key, urls))
        finally:
            rg.close()
            server.stop()
            upstream.stop()


if __name__ == "__main__":
    main()
