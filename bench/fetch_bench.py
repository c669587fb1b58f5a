"""Extraction time and peak memory for a 100-page PDF, a 10,000-row XLSX and a 50-slide PPTX; the fetcher's CPU per MB.

    nice .venv/bin/python bench/fetch_bench.py [--runs 3] [--fetch-mib 16] [--fetches 8]

Documents are generated as the tests make them (tests/documents.py). Times are the median of `--runs`: "wall" is
Extractor.extract as a caller sees it (pipes, fork, parse, JSON back), "parse" the worker child's own time. Peak
memory is the child's peak RSS; "baseline" is that of a child reading a one-line text, i.e. what the imported
parsers already hold, so peak - baseline is what the document itself needed. The fetcher downloads a file from
`python -m http.server` in another process, so this process's CPU time is the fetcher's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relaygate.fetch import ExtractLimits, Extractor, FetchPolicy, GuardedFetcher, Upload  # noqa: E402
from relaygate.fetch.allow import parse_allow_list  # noqa: E402
from tests import documents  # noqa: E402
from tests.conftest import free_port  # noqa: E402

MIB = 1024 * 1024


async def extraction(runs: int) -> None:
    extractor = Extractor(ExtractLimits(workers=1))
    await extractor.warm_up()
    baseline = await extractor.extract(Upload("tiny.txt", b"one line"))
    assert baseline.stats is not None
    base = baseline.stats.peak_memory_bytes
    print(f"worker child baseline peak RSS: {base / MIB:.0f} MiB")
    print(f"{'document':<18}{'bytes':>10}{'parts':>7}{'chars':>10}{'wall ms':>9}{'parse ms':>9}{'peak MiB':>9}"
          f"{'+MiB':>6}")
    cases = [("100-page PDF", documents.pdf(100, filler=30)), ("10,000-row XLSX", documents.wide_xlsx(10_000)),
             ("50-slide PPTX", documents.pptx_file(50))]
    for label, data in cases:
        walls, parses, peaks, parts, chars = [], [], [], 0, 0
        for _ in range(runs):
            started = time.perf_counter()
            document = await extractor.extract(Upload(label, data))
            walls.append(time.perf_counter() - started)
            assert document.stats is not None
            parses.append(document.stats.seconds)
            peaks.append(document.stats.peak_memory_bytes)
            parts, chars = len(document.parts), sum(len(p.text) for p in document.parts)
        peak = max(peaks)
        print(f"{label:<18}{len(data):>10,}{parts:>7}{chars:>10,}{statistics.median(walls) * 1000:>9.0f}"
              f"{statistics.median(parses) * 1000:>9.0f}{peak / MIB:>9.0f}{(peak - base) / MIB:>6.0f}")
    await extractor.close()


async def fetching(mib: int, fetches: int) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "blob.bin").write_bytes(b"\x00relaygate" * (mib * MIB // 10))
        server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                   "--directory", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await asyncio.sleep(1.0)
            policy = FetchPolicy(allow=parse_allow_list(f"127.0.0.1:{port}"), max_bytes=(mib + 1) * MIB)
            fetcher = GuardedFetcher(policy)
            url = f"http://127.0.0.1:{port}/blob.bin"
            await fetcher.fetch(url)  # warm: session, imports
            cpu, wall = time.process_time(), time.perf_counter()
            total = 0
            for _ in range(fetches):
                total += (await fetcher.fetch(url)).size
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            await fetcher.close()
        finally:
            server.terminate()
            server.wait(10)
    megabytes = total / MIB
    print(f"fetcher: {fetches} x {mib} MiB: {cpu / megabytes * 1000:.1f} ms CPU per MiB "
          f"({megabytes / wall:.0f} MiB/s wall, the server in another process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fetch-mib", type=int, default=16)
    parser.add_argument("--fetches", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(extraction(args.runs))
    asyncio.run(fetching(args.fetch_mib, args.fetches))


if __name__ == "__main__":
    main()
