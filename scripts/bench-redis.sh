#!/usr/bin/env bash
# Scale-out costs, chat at concurrency 64 (wrk + shared/bench's mock upstream), one session:
#  1. the Redis rate limiter against the in-process one: relaygate alone on SQLite, its bench key given RPM and TPM
#     limits so every request goes through the limiter; gateway CPU per request, Redis round trips (pipelines)
#     and script calls per request (relaygate's /metrics), Redis's own CPU per request;
#  2. two replicas behind HAProxy (deploy/haproxy.cfg) against one, on PostgreSQL + Redis: req/s, CPU per request
#     of the replicas, HAProxy, PostgreSQL and Redis. Nothing is pinned: on this machine kind (2 cores) wrk, the
#     mock, HAProxy, PostgreSQL, Redis and the replicas share both cores, which caps what a second replica adds.
# A private redis-server on a free port, so nothing else's traffic is counted.
#   scripts/bench-redis.sh [seconds] [concurrency] [runs]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench="${RELAYGATE_BENCH_DIR:-$root/../shared/bench}"
venv=/tmp/relaygate-bench-venv
secs=${1:-15} conc=${2:-64} runs=${3:-3}
pg_admin="${RELAYGATE_BENCH_PG:-postgresql://postgres@127.0.0.1:5432/test}"
db=relaygate_bench_redis
redis_port=16379
out="$root/bench-results/redis-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q uvloop aiohttp httptools; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$venv/bin/python" "$bench/mock_upstream.py" --port 18080 >"$out/mock.log" 2>&1 & pids+=($!)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$out/redis.log" 2>&1 & pids+=($!)
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# the bench key with limits high enough never to refuse, so the limiter runs on every request
config="$out/relaygate-limited.yaml"
"$root/.venv/bin/python" - "$root/bench/relaygate.yaml" "$config" <<'PY'
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
for key in cfg["keys"]:
    key.update(rpm=10**9, tpm=2 * 10**9)  # the largest the key fields take is 2**31 - 1
yaml.safe_dump(cfg, open(sys.argv[2], "w"))
PY

ticks() {  # CPU ticks of processes and their children
  local total=0 p
  for p in "$@" $(for q in "$@"; do pgrep -P "$q" || true; done); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
pg_ticks() { local t=0 p; for p in $(pgrep -x postgres || true); do
  t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
metric() {  # sum of a counter over the replicas' /metrics
  local total=0 port v
  for port in "${@:2}"; do
    v=$(curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}')
    total=$(python3 -c "print(${total} + ${v:-0})")
  done
  echo "$total"
}
load() {
  BENCH_API_KEY=sk-bench BENCH_MODEL=gpt-4o-mini wrk -t2 "-c$conc" "-d${1}s" -s "$bench/lua/chat.lua" \
    http://127.0.0.1:3000 | grep '^WRK_JSON ' | cut -c10-
}
ready() { for _ in $(seq 150); do curl -sf -o /dev/null "http://127.0.0.1:$1/readyz" && return 0; sleep 0.2; done; return 1; }
# one measured run: $1 label, $2 "gateway pids", $3 "metrics ports", $4 extra pid (haproxy) or ""
measure() {
  local label=$1 gw=$2 ports=$3 lb=${4:-} run result
  load 3 >/dev/null
  for run in $(seq "$runs"); do
    local g0 r0 l0 p0 t0 c0 g1 r1 l1 p1 t1 c1
    g0=$(ticks $gw) r0=$(ticks "$redis_pid") l0=$( [ -n "$lb" ] && ticks "$lb" || echo 0) p0=$(pg_ticks)
    t0=$(metric relaygate_redis_round_trips_total $ports) c0=$(metric relaygate_redis_calls_total $ports)
    result=$(load "$secs")
    g1=$(ticks $gw) r1=$(ticks "$redis_pid") l1=$( [ -n "$lb" ] && ticks "$lb" || echo 0) p1=$(pg_ticks)
    t1=$(metric relaygate_redis_round_trips_total $ports) c1=$(metric relaygate_redis_calls_total $ports)
    python3 -c "import json,os,sys; r=json.loads(sys.argv[1]); e=sum(r['errors'].values())+r['non2xx']; \
hz=os.sysconf('SC_CLK_TCK'); n=r['requests']; g,rd,lb,pg=(int(a) for a in sys.argv[2:6]); t,c=(float(a) for a in sys.argv[6:]); \
us=lambda x: f'{x/hz*1e6/n:.0f}'; \
print(f\"| $label | $run | {n/(r['duration_us']/1e6):.0f} | {us(g)} | {t/n:.2f} | {c/n:.2f} | {us(rd)} | {us(lb)} | {us(pg)} | {e} |\")" \
      "$result" $((g1 - g0)) $((r1 - r0)) $((l1 - l0)) $((p1 - p0)) "$(python3 -c "print($t1 - $t0)")" \
      "$(python3 -c "print($c1 - $c0)")" | tee -a "$out/summary.md"
  done
}

{
  echo "| set-up | run | req/s | relaygate CPU µs/req | Redis round trips/req | Redis calls/req | Redis CPU µs/req | HAProxy CPU µs/req | PostgreSQL CPU µs/req | non-2xx + errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} | tee "$out/summary.md"

# 1. limiter: in-process vs Redis, relaygate alone on SQLite, same key limits
for limiter in memory redis; do
  redis_url=""; [ "$limiter" = redis ] && redis_url="redis://127.0.0.1:$redis_port/0"
  RELAYGATE_REDIS_URL="$redis_url" RELAYGATE_BENCH_CONFIG="$config" MOCK_UPSTREAM_URL=http://127.0.0.1:18080/v1 \
    bash "$root/scripts/bench-gateway.sh" >"$out/gateway-$limiter.log" 2>&1 &
  gw=$!
  ready 3000
  measure "limiter $limiter" "$gw" 3000
  kill "$gw"; wait "$gw" 2>/dev/null || true
  redis-cli -p "$redis_port" flushall >/dev/null
done

# 2. one replica vs two behind HAProxy, PostgreSQL + Redis, the bench key limited as above
lb_cfg="$root/deploy/haproxy.cfg"
for replicas in 1 2; do
  psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  gws=() ports=()
  for i in $(seq "$replicas"); do
    port=$((3000 + i))
    RELAYGATE_PORT=$port RELAYGATE_DATABASE_URL="${pg_admin%/*}/$db" RELAYGATE_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
      RELAYGATE_BENCH_CONFIG="$config" MOCK_UPSTREAM_URL=http://127.0.0.1:18080/v1 \
      bash "$root/scripts/bench-gateway.sh" >"$out/replica-$replicas-$i.log" 2>&1 &
    gws+=($!) ports+=($port)
    ready "$port"  # one at a time: the first creates the schema
  done
  second="127.0.0.1:${ports[1]:-${ports[0]}}"  # one replica: both server lines name it
  RELAYGATE_LB_BIND=127.0.0.1:3000 RELAYGATE_REPLICA_1="127.0.0.1:${ports[0]}" RELAYGATE_REPLICA_2="$second" \
    haproxy -db -f "$lb_cfg" >"$out/haproxy-$replicas.log" 2>&1 &
  lb=$!
  ready 3000
  measure "$replicas replica(s) behind HAProxy" "${gws[*]}" "${ports[*]}" "$lb"
  kill "$lb" "${gws[@]}"; wait "$lb" "${gws[@]}" 2>/dev/null || true
  redis-cli -p "$redis_port" flushall >/dev/null
done
psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db"
echo "results in $out"
