"""Bucket a py-spy raw (collapsed) profile of relaygate into areas, in µs per request.

    python bench/profile_summary.py PROFILE.txt --cpu-us-per-request 198 [--top 15]

Each sample is attributed to the innermost frame that belongs to a known area (scanning from the leaf
towards the root), so time spent in, say, the logging module on behalf of the pipeline counts as
logging, and time in the pipeline's own lines counts as the relay pipeline.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

# (area, pattern on "function (file:line)") — first match scanning from the leaf wins.
AREAS: list[tuple[str, re.Pattern[str]]] = [
    (area, re.compile(pattern)) for area, pattern in [
        ("logging (JSON access log)", r"(^|[ (/])logging/|relaygate/server/logs\.py"),
        ("metrics (prometheus)", r"prometheus_client/|relaygate/relay/metrics\.py"),
        ("database thread (SQL, commit)", r"sqlite3|psycopg|relaygate/store/|concurrent/futures/thread\.py"),
        ("billing (reserve, settle, price)", r"relaygate/billing/"),
        ("token counting (tiktoken)", r"tiktoken"),
        ("auth (key lookup, IP/model checks)", r"relaygate/relay/auth\.py"),
        ("rate limiter", r"relaygate/limits/"),
        ("routing (channel choice)", r"relaygate/relay/(routing|catalog)\.py"),
        ("upstream client (aiohttp client, pool)", r"aiohttp/(client|connector|client_proto|client_reqrep)|"
                                                   r"relaygate/relay/upstream\.py|relaygate/providers/"),
        ("JSON and wire translation", r"orjson|(^|[ (/])json/|relaygate/protocols/|relaygate/relay/dialects\.py|"
                                      r"relaygate/relay/inbound\.py"),
        ("streaming pump", r"relaygate/relay/streaming\.py"),
        ("relay pipeline (own code)", r"relaygate/relay/pipeline\.py|relaygate/relay/sink\.py|"
                                      r"relaygate/server/sink\.py"),
        ("HTTP server (aiohttp web, routes)", r"aiohttp/|relaygate/server/"),
        ("asyncio event loop", r"asyncio/|uvloop"),
    ]
]
LINE = re.compile(r"^(.*) (\d+)$")


def summarize(path: Path, cpu_us: float, top: int) -> str:
    areas: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for raw in path.read_text().splitlines():
        m = LINE.match(raw)
        if not m:
            continue
        frames, count = m.group(1).split(";"), int(m.group(2))
        total += count
        leaves[re.sub(r":\d+\)$", ")", frames[-1])] += count
        for frame in reversed(frames):
            area = next((name for name, rx in AREAS if rx.search(frame)), None)
            if area is not None:
                areas[area] += count
                break
        else:
            areas["other"] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples; {cpu_us:.0f} µs of gateway CPU per request", "",
             "| area | share | µs/request |", "|---|---:|---:|"]
    for area, n in areas.most_common():
        lines.append(f"| {area} | {100 * n / total:.1f} % | {cpu_us * n / total:.0f} |")
    lines += ["", f"Top {top} leaf functions:", "", "| function | share |", "|---|---:|"]
    for fn, n in leaves.most_common(top):
        lines.append(f"| `{fn}` | {100 * n / total:.1f} % |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile", type=Path)
    p.add_argument("--cpu-us-per-request", type=float, required=True)
    p.add_argument("--top", type=int, default=15)
    a = p.parse_args()
    print(summarize(a.profile, a.cpu_us_per_request, a.top))


if __name__ == "__main__":
    main()
