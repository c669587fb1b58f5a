"""/v1/responses against chat in one session: relaygate's CPU per request for each, and per event for a stream
translated from a Claude channel.

    python3 bench/responses_bench.py [--duration 10] [--runs 2] [--concurrency 1,16,64] [--chunks 20] [--check]

Runs the shared bench's mock upstream (`../shared/bench/mock_upstream.py`, or RELAYGATE_BENCH_DIR) taught two more
routes — POST /v1/responses (a Response, or its event stream with one text delta per chunk, as many as a chat
stream has chunks) and POST /v1/messages (Claude's event stream) — and relaygate through scripts/bench-gateway.sh
with bench/responses.yaml (gpt-4o-mini on an openai channel, claude-bench on an anthropic channel, both on the
mock). The gateway is pinned to CPU 0, the mock and wrk to CPU 1, as in shared/bench. Scenarios run interleaved,
`--runs` times each; the figure is the gateway's own CPU time (utime + stime from /proc) over the requests wrk
completed. `responses` leaves `store` unset (so each response is remembered for its follow-ups, one row in the
settlement's transaction); `responses-unstored` sends `store: false`. `--check` starts everything, sends each
scenario's request once and stops (no load).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RELAYGATE_BENCH_DIR") or next(
    (d for d in (ROOT.parent / "shared" / "bench", ROOT.parent.parent / "shared" / "bench") if d.is_dir()),
    ROOT.parent / "shared" / "bench"))
GATEWAY, UPSTREAM = 3000, 18080
PROMPT = "Say hello."
SCENARIOS: dict[str, tuple[str, dict[str, object]]] = {
    "chat": ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}],
                                      "max_tokens": 64}),
    "responses": ("/v1/responses", {"model": "gpt-4o-mini", "input": PROMPT, "max_output_tokens": 64}),
    "responses-unstored": ("/v1/responses", {"model": "gpt-4o-mini", "input": PROMPT, "max_output_tokens": 64,
                                             "store": False}),
    "chat-stream": ("/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True,
                                             "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64}),
    "responses-stream": ("/v1/responses", {"model": "gpt-4o-mini", "input": PROMPT, "stream": True,
                                           "max_output_tokens": 64}),
    "claude-responses-stream": ("/v1/responses", {"model": "claude-bench", "input": PROMPT, "stream": True,
                                                  "max_output_tokens": 64, "store": False}),
}
LUA = """
wrk.method = "POST"
wrk.path = %(path)s
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body) if status < 200 or status > 299 then non2xx = non2xx + 1 end end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  io.write(string.format('WRK_JSON {"requests":%%d,"non2xx":%%d,"errors":%%d}\\n', summary.requests, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


# ---------------------------------------------------------------- the upstream's two more routes

def upstream_main(argv: list[str]) -> None:
    """The shared mock, answering /v1/responses and /v1/messages too (run in its own process)."""
    sys.path.insert(0, str(SHARED))
    import mock_upstream as mock  # type: ignore[import-not-found]

    class Connection(mock.Connection):  # type: ignore[misc]
        def dispatch(self, method: str, path: str, body: bytes) -> None:
            if method == "POST" and path in ("/v1/responses", "/v1/messages"):
                self.up.stats.requests += 1
                payload = json.loads(body)
                answer = _response if path == "/v1/responses" else _message
                events, whole = answer(self.up, payload)
                if payload.get("stream"):
                    return self.stream_at_once(events)
                return self.respond(200, whole)
            return super().dispatch(method, path, body)

    args = mock.parse_args(argv)
    upstream = mock.Upstream(args)

    async def serve() -> None:
        import asyncio
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Connection(upstream), args.host, args.port, backlog=4096,
                                          reuse_address=True)
        async with server:
            await server.serve_forever()

    try:
        import uvloop
        uvloop.run(serve())
    except ImportError:
        import asyncio
        asyncio.run(serve())


def _sse(kind: str, data: dict[str, object]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def _response(up: object, payload: dict[str, object]) -> tuple[list[bytes], bytes]:
    """A Response and its events: created, in_progress, the message item with one delta per chunk, completed."""
    words: list[str] = up.words  # type: ignore[attr-defined]
    chunks: int = up.knobs.chunks  # type: ignore[attr-defined]
    ident = "resp_" + up.next_id()  # type: ignore[attr-defined]
    pieces = [words[i % len(words)] + " " for i in range(chunks)]
    text = "".join(pieces)
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    item = {"id": "msg_" + ident, "type": "message", "status": "completed", "role": "assistant", "content": [part]}
    usage = {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": chunks,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 5 + chunks}
    start = {"id": ident, "object": "response", "created_at": int(time.time()), "status": "in_progress",
             "model": payload.get("model"), "output": [], "usage": None}
    final = {**start, "status": "completed", "output": [item], "usage": usage}
    at = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    events = [("response.created", {"response": start}), ("response.in_progress", {"response": start}),
              ("response.output_item.added", {"output_index": 0, "item": {**item, "status": "in_progress",
                                                                          "content": []}}),
              ("response.content_part.added", {**at, "part": {**part, "text": ""}}),
              *[("response.output_text.delta", {**at, "delta": p, "logprobs": []}) for p in pieces],
              ("response.output_text.done", {**at, "text": text, "logprobs": []}),
              ("response.content_part.done", {**at, "part": part}),
              ("response.output_item.done", {"output_index": 0, "item": item}),
              ("response.completed", {"response": final})]
    return ([_sse(k, {"type": k, **d, "sequence_number": n}) for n, (k, d) in enumerate(events)],
            json.dumps(final).encode())


def _message(up: object, payload: dict[str, object]) -> tuple[list[bytes], bytes]:
    """Claude's answer and its events, one text delta per chunk."""
    words: list[str] = up.words  # type: ignore[attr-defined]
    chunks: int = up.knobs.chunks  # type: ignore[attr-defined]
    pieces = [words[i % len(words)] + " " for i in range(chunks)]
    message = {"id": "msg_" + up.next_id(), "type": "message", "role": "assistant",  # type: ignore[attr-defined]
               "model": payload.get("model"), "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": 5, "output_tokens": 1}}
    events = [_sse("message_start", {"type": "message_start", "message": message}),
              _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}}),
              *[_sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": {"type": "text_delta", "text": p}}) for p in pieces],
              _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
              _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                                        "stop_sequence": None},
                                     "usage": {"output_tokens": chunks}}),
              _sse("message_stop", {"type": "message_stop"})]
    whole = {**message, "content": [{"type": "text", "text": "".join(pieces)}], "stop_reason": "end_turn",
             "usage": {"input_tokens": 5, "output_tokens": chunks}}
    return events, json.dumps(whole).encode()


# ---------------------------------------------------------------- the harness

def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port}")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _events_per_answer(path: str, body: dict[str, object]) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{GATEWAY}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": "Bearer sk-bench", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    if resp.status != 200:
        raise SystemExit(f"{path} answered {resp.status}: {raw[:200]!r}")
    return raw.count(b"\n\n") if body.get("stream") else 1


def _wrk(lua: Path, concurrency: int, seconds: int, cpus: str) -> dict[str, int]:
    threads = max(1, min(concurrency, 2))
    out = subprocess.run(["taskset", "-c", cpus, "wrk", "-t", str(threads), "-c", str(concurrency), "-d",
                          f"{seconds}s", "-s", str(lua), f"http://127.0.0.1:{GATEWAY}"],
                         capture_output=True, text=True, check=True).stdout
    found = re.search(r"WRK_JSON (\{.*\})", out)
    if found is None:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--concurrency", default="1,16,64")
    p.add_argument("--chunks", type=int, default=20)
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--gateway-cpus", default="0")
    p.add_argument("--load-cpus", default="1")
    p.add_argument("--check", action="store_true", help="one request per scenario, no load")
    args = p.parse_args()
    env = {**os.environ, "MOCK_UPSTREAM_URL": f"http://127.0.0.1:{UPSTREAM}/v1", "RELAYGATE_PORT": str(GATEWAY),
           "RELAYGATE_BENCH_CONFIG": str(ROOT / "bench" / "responses.yaml")}
    upstream = subprocess.Popen(["taskset", "-c", args.load_cpus, sys.executable, __file__, "--upstream",
                                 "--port", str(UPSTREAM), "--chunks", str(args.chunks)], start_new_session=True)
    gateway = subprocess.Popen(["taskset", "-c", args.gateway_cpus, "bash", str(ROOT / "scripts" / "bench-gateway.sh")],
                               env=env, stdout=subprocess.DEVNULL, start_new_session=True)
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    try:
        _wait_port(UPSTREAM, upstream, "the mock upstream")
        _wait_port(GATEWAY, gateway, "relaygate")
        names = args.scenarios.split(",")
        events = {name: _events_per_answer(*SCENARIOS[name]) for name in names}
        if args.check:
            print("every scenario answered 200; events per answer:", events)
            return
        with tempfile.TemporaryDirectory() as folder:
            scripts = {}
            for name in names:
                path, body = SCENARIOS[name]
                scripts[name] = Path(folder) / f"{name}.lua"
                scripts[name].write_text(LUA % {"path": json.dumps(path), "body": json.dumps(json.dumps(body))})
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                for name in names:  # warm-up
                    _wrk(scripts[name], concurrency, 2, args.load_cpus)
                for run in range(args.runs):
                    for name in names:
                        cpu = _cpu_seconds(gateway.pid)
                        summary = _wrk(scripts[name], concurrency, args.duration, args.load_cpus)
                        used = _cpu_seconds(gateway.pid) - cpu
                        if summary["non2xx"] or summary["errors"]:
                            raise SystemExit(f"{name} c={concurrency} run {run}: {summary}")
                        rate = summary["requests"] / args.duration
                        results.setdefault((name, concurrency), []).append((used * 1e6 / summary["requests"], rate))
                        print(f"{name:<24} c={concurrency:<3} run {run + 1}: {rate:8.0f} req/s "
                              f"{results[(name, concurrency)][-1][0]:7.0f} µs/req", flush=True)
        _report(results, events)
    finally:
        for proc in (gateway, upstream):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


def _report(results: dict[tuple[str, int], list[tuple[float, float]]], events: dict[str, int]) -> None:
    print("\n| scenario | c | req/s | relaygate µs/req | ÷ chat of its kind | events/answer | µs/event |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (name, concurrency), runs in results.items():
        cpu = statistics.median(r[0] for r in runs)
        rate = statistics.median(r[1] for r in runs)
        base = results.get(("chat-stream" if "stream" in name else "chat", concurrency))
        ratio = f"{cpu / statistics.median(r[0] for r in base):.2f}" if base else "–"
        print(f"| {name} | {concurrency} | {rate:,.0f} | {cpu:,.0f} | {ratio} | {events[name]} | "
              f"{cpu / events[name]:.1f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--upstream"]:
        upstream_main(sys.argv[2:])
    else:
        main()
