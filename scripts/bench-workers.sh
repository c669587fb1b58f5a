#!/usr/bin/env bash
# Chat throughput of `relaygate serve --workers N` on PostgreSQL, N = 1 then 2, nothing pinned: relaygate,
# the shared/bench mock upstream and wrk share both cores. Each N gets a fresh database.
#   scripts/bench-workers.sh [seconds] [concurrency] [runs]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench="${RELAYGATE_BENCH_DIR:-$root/../shared/bench}"
venv=/tmp/relaygate-bench-venv
secs=${1:-15} conc=${2:-64} runs=${3:-3}
pg_admin="${RELAYGATE_BENCH_PG:-postgresql://postgres@127.0.0.1:5432/test}"
db=relaygate_bench_workers
out="$root/bench-results/workers-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q uvloop aiohttp httptools; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$venv/bin/python" "$bench/mock_upstream.py" --port 18080 >"$out/mock.log" 2>&1 & pids+=($!)
tree_ticks() {  # CPU ticks of a process and its children
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$total"
}
pg_ticks() { local t=0 p; for p in $(pgrep -x postgres || pgrep postgres || true); do
  t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
load() {
  BENCH_API_KEY=sk-bench BENCH_MODEL=gpt-4o-mini wrk -t2 "-c$conc" "-d${1}s" -s "$bench/lua/chat.lua" \
    http://127.0.0.1:3000 | grep '^WRK_JSON ' | cut -c10-
}
echo "| workers | run | req/s | relaygate CPU µs/req | PostgreSQL CPU µs/req | non-2xx + errors |" | tee "$out/summary.md"
echo "|---:|---:|---:|---:|---:|---:|" | tee -a "$out/summary.md"
for workers in 1 2; do
  psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  RELAYGATE_DATABASE_URL="${pg_admin%/*}/$db" RELAYGATE_WORKERS=$workers \
    MOCK_UPSTREAM_URL=http://127.0.0.1:18080/v1 bash "$root/scripts/bench-gateway.sh" >"$out/gateway-$workers.log" 2>&1 &
  gw=$!
  for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:3000/readyz && break; sleep 0.2; done
  load 3 >/dev/null
  for run in $(seq "$runs"); do
    g0=$(tree_ticks "$gw") p0=$(pg_ticks); result=$(load "$secs"); g1=$(tree_ticks "$gw") p1=$(pg_ticks)
    python3 -c "import json,os,sys; r=json.loads(sys.argv[1]); e=sum(r['errors'].values())+r['non2xx']; \
hz=os.sysconf('SC_CLK_TCK'); n=r['requests']; g, p = (int(a) for a in sys.argv[2:]); \
print(f\"| $workers | $run | {n/(r['duration_us']/1e6):.0f} | {g/hz*1e6/n:.0f} | {p/hz*1e6/n:.0f} | {e} |\")" \
      "$result" $((g1 - g0)) $((p1 - p0)) | tee -a "$out/summary.md"
  done
  kill "$gw"; wait "$gw" 2>/dev/null || true
  for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:3000/healthz || break; sleep 0.2; done
done
psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db"
