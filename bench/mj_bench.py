"""MidJourney: submit latency relaygate adds at c=16, then polling N unfinished tasks — upstream calls, relaygate CPU
and database writes per round, with nothing changing and with every task changing each round.

    nice .venv/bin/python bench/mj_bench.py [--tasks 10000] [--concurrency 16] [--direct 2000] [--rounds 5]
                                            [--interval 2] [--database-url postgresql://...]

The fake midjourney-proxy (tests/upstreams/midjourney_mock.py) runs in this process with tasks that move only
when told, so every task stays unfinished. Submit latency is measured the same way against the fake directly
(`--direct` submissions) and through relaygate (`--tasks` submissions, which become the tasks polled); "added" is
the difference of the percentiles. Relaygate's CPU is read from /proc for its process alone; the poller's own
counters come from /metrics (relaygate_mj_poll_*). Idle CPU (catalog checks, leases, WAL upkeep) is measured
first and reported beside the rounds.
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

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import MJ_UPSTREAM_SECRET, Relaygate  # noqa: E402
from tests.upstreams.midjourney_mock import MockMidjourney  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
WARM_UP = 100
"""Submissions each way before measuring (the ones through relaygate are polled with the rest)."""
ROUNDS, CALLS, ASKED, WRITTEN = ("relaygate_mj_poll_rounds_total", "relaygate_mj_poll_upstream_calls_total",
                                 "relaygate_mj_polled_tasks_total", "relaygate_mj_poll_rows_written_total")
METRICS = (ROUNDS, CALLS, ASKED, WRITTEN)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def submit_load(url: str, headers: dict[str, str], count: int, concurrency: int) -> list[float]:
    """`count` imagine submissions at `concurrency`; their latencies in ms."""
    latencies: list[float] = []
    left = iter(range(count))

    async def worker(session: aiohttp.ClientSession) -> None:
        for i in left:
            started = time.perf_counter()
            async with session.post(url, json={"prompt": f"a fox number {i}"}, headers=headers) as resp:
                body = await resp.json()
            latencies.append((time.perf_counter() - started) * 1000)
            assert resp.status == 200 and body["code"] == 1, body

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return latencies


def metrics(rg: Relaygate) -> dict[str, float]:
    values = dict.fromkeys(METRICS, 0.0)
    for line in rg.http.get("/metrics").text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in values and not line.startswith("#") and 'outcome="failed"' not in line:
            values[name] += float(line.rsplit(" ", 1)[1])
    return values


def report(label: str, start: dict[str, float], now: dict[str, float], cpu: float, seconds: float,
           tasks: int) -> None:
    done = now[ROUNDS] - start[ROUNDS]
    if not done:
        print(f"{label:<34}{'no round ran':>10}")
        return

    def per_round(name: str) -> float:
        return (now[name] - start[name]) / done

    asked = per_round(ASKED)
    print(f"{label:<34}{done:>7.0f}{per_round(CALLS):>10.1f}{asked:>10.0f}{cpu / done * 1000:>10.1f}"
          f"{cpu / done / tasks * 1e6:>12.2f}{(cpu / done / asked * 1e6) if asked else 0:>12.2f}"
          f"{per_round(WRITTEN):>9.0f}{seconds / done:>8.2f}")


def quiet_rounds(label: str, rg: Relaygate, pid: int, seconds: float, tasks: int) -> None:
    """Rounds over a `seconds` window; /metrics is read only at its ends, so scraping costs nothing inside it."""
    start, cpu0, wall0 = metrics(rg), cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    report(label, start, metrics(rg), cpu_seconds(pid) - cpu0, time.monotonic() - wall0, tasks)


def changing_rounds(label: str, rg: Relaygate, mj: MockMidjourney, pid: int, rounds: int, tasks: int,
                    interval: float) -> None:
    """Every task moves on before each round: a round ends when the fake has answered its list calls (counted in
    this process), then the tasks move on again while relaygate writes and waits for the next."""
    per_round = -(-tasks // 100)
    start, cpu0, wall0 = metrics(rg), cpu_seconds(pid), time.monotonic()
    seen = mj.list_calls
    for _ in range(rounds):
        mj.advance()
        deadline = time.monotonic() + 120
        while mj.list_calls < seen + per_round:
            if time.monotonic() > deadline:
                raise RuntimeError("the poller did not ask about every task")
            time.sleep(0.01)
        seen += per_round
        time.sleep(interval / 4)
    report(label, start, metrics(rg), cpu_seconds(pid) - cpu0, time.monotonic() - wall0, tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--direct", type=int, default=2_000, help="submissions straight to the fake (the baseline)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the steady scenario")
    parser.add_argument("--interval", type=float, default=2.0, help="RELAYGATE_MJ_POLL_INTERVAL")
    parser.add_argument("--database-url", default="", help="PostgreSQL (default: SQLite in a temporary directory)")
    args = parser.parse_args()

    mj = MockMidjourney(secret=MJ_UPSTREAM_SECRET).start()
    mj.step_seconds = None
    workdir = Path(tempfile.mkdtemp(prefix="mj-bench-"))
    # production's intervals (the test harness's Relaygate polls its catalog and probes far more often)
    env = {"RELAYGATE_MJ_POLL_INTERVAL": str(args.interval), "RELAYGATE_UPSTREAM_TIMEOUT": "300",
           "RELAYGATE_CONFIG_POLL_INTERVAL": "1", "RELAYGATE_PROBE_INTERVAL": "30"}
    if args.database_url:
        env["RELAYGATE_DATABASE_URL"] = args.database_url
    rg = Relaygate(workdir, env=env).start()
    try:
        assert rg.proc is not None
        pid = rg.proc.pid
        user = rg.ok("POST", "/api/users", {"name": "bench", "balance": 10**12})
        rg.ok("POST", "/api/channels", {"name": "mj", "type": "midjourney", "base_url": mj.base_url,
                                        "credentials": [MJ_UPSTREAM_SECRET], "models": ["midjourney"]})
        key = rg.ok("POST", "/api/keys", {"user_id": user["id"]})["key"]
        time.sleep(1.5)
        cpu0 = cpu_seconds(pid)
        time.sleep(5)
        print(f"relaygate idle CPU: {(cpu_seconds(pid) - cpu0) / 5 * 1000:.1f} ms/s")

        direct_url, direct_auth = mj.base_url + "/mj-fast/mj/submit/imagine", {"mj-api-secret": MJ_UPSTREAM_SECRET}
        asyncio.run(submit_load(direct_url, direct_auth, WARM_UP, args.concurrency))  # connections, caches
        asyncio.run(submit_load(rg.url + "/mj/submit/imagine", {"mj-api-secret": key}, WARM_UP, args.concurrency))
        direct = asyncio.run(submit_load(direct_url, direct_auth, args.direct, args.concurrency))
        mj.requests.clear()
        started = time.perf_counter()
        relayed = asyncio.run(submit_load(rg.url + "/mj/submit/imagine", {"mj-api-secret": key}, args.tasks,
                                          args.concurrency))
        took = time.perf_counter() - started
        print(f"\nsubmit at c={args.concurrency}: {args.tasks} through relaygate in {took:.1f} s "
              f"({args.tasks / took:.0f}/s)")
        print(f"{'':<14}{'p50 ms':>9}{'p99 ms':>9}")
        for label, lat in (("fake direct", direct), ("relaygate", relayed)):
            print(f"{label:<14}{statistics.median(lat):>9.2f}{percentile(lat, 0.99):>9.2f}")
        print(f"{'added':<14}{statistics.median(relayed) - statistics.median(direct):>9.2f}"
              f"{percentile(relayed, 0.99) - percentile(direct, 0.99):>9.2f}")

        rg.stop()  # a restarted lease holder asks about every task at once: the first round below
        rg.start()
        assert rg.proc is not None
        pid = rg.proc.pid
        total = args.tasks + WARM_UP
        print(f"\npolling {total} unfinished tasks (interval {args.interval:g} s, batches of 100)")
        print(f"{'scenario':<34}{'rounds':>7}{'calls/r':>10}{'asked/r':>10}{'CPU ms/r':>10}{'µs/task':>12}"
              f"{'µs/asked':>12}{'writes/r':>9}{'s/round':>8}")
        mj.requests.clear()
        quiet_rounds("first round after a restart", rg, pid, 1.5 * args.interval, total)
        changing_rounds("every task changing each round", rg, mj, pid, 3, total, args.interval)
        quiet_rounds("nothing changing (backing off)", rg, pid, args.rounds * args.interval, total)
        fetches = mj.fetch_calls
        print(f"\nper-task fetch calls made upstream: {fetches}; list-by-condition calls: {mj.list_calls}")
    finally:
        rg.close()
        mj.stop()


if __name__ == "__main__":
    main()
