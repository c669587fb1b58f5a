#!/usr/bin/env bash
# Where relaygate's CPU goes under load: the shared/bench mock upstream and wrk on CPU 1, relaygate
# (make bench-gateway) on CPU 0; one wrk run measures CPU per request, a second runs under py-spy
# (--gil: only the thread holding the GIL is sampled, so idle threads do not count);
# bench/profile_summary.py buckets the samples by area. Output in bench-results/profile-*/.
#   scripts/profile.sh [chat|stream|embeddings] [concurrency] [seconds]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench="${RELAYGATE_BENCH_DIR:-$root/../shared/bench}"
venv=/tmp/relaygate-bench-venv
scenario=${1:-chat} conc=${2:-64} secs=${3:-15}
out="$root/bench-results/profile-$scenario-c$conc-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
[ -x "$venv/bin/py-spy" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q uvloop aiohttp httptools py-spy; }
model=gpt-4o-mini; [ "$scenario" = embeddings ] && model=text-embedding-3-small
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
echo "== starting the mock upstream (CPU 1) and relaygate (CPU 0)"
taskset -c 1 "$venv/bin/python" "$bench/mock_upstream.py" --port 18080 >"$out/mock.log" 2>&1 & pids+=($!)
MOCK_UPSTREAM_URL=http://127.0.0.1:18080/v1 taskset -c 0 bash "$root/scripts/bench-gateway.sh" >"$out/gateway.log" 2>&1 &
gw=$!; pids+=($gw)
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:3000/readyz && break; sleep 0.2; done
load() {
  BENCH_API_KEY=sk-bench BENCH_MODEL=$model taskset -c 1 wrk -t1 "-c$conc" "-d${1}s" \
    -s "$bench/lua/$scenario.lua" http://127.0.0.1:3000 | grep '^WRK_JSON ' | cut -c10-
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gw/stat"; }
echo "== warm-up"; load 3 >/dev/null
echo "== measuring CPU per request ($scenario, c=$conc, ${secs}s)"
t0=$(cpu_ticks); wrk_json=$(load "$secs"); t1=$(cpu_ticks)
us=$(python3 -c "import json,os,sys; r=json.loads(sys.argv[1]); t=(int(sys.argv[3])-int(sys.argv[2]))/os.sysconf('SC_CLK_TCK'); \
print(round(t*1e6/r['requests']))" "$wrk_json" "$t0" "$t1")
echo "   $us µs of gateway CPU per request"
echo "== recording with py-spy"
"$venv/bin/py-spy" record --pid "$gw" --rate 400 --gil --format raw --output "$out/profile.txt" \
  --duration "$secs" >"$out/py-spy.log" 2>&1 & spy=$!
load "$secs" >/dev/null
wait "$spy"
python3 "$root/bench/profile_summary.py" "$out/profile.txt" --cpu-us-per-request "$us" | tee "$out/summary.md"
