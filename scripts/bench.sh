#!/usr/bin/env bash
# Side by side in one session: the aiohttp pass-through, relaygate, the pass-through again, and LiteLLM
# (when RELAYGATE_BENCH_LITELLM=1). RELAYGATE_BENCH_BASELINE=/path/to/another/checkout (with its own .venv)
# measures that build too, as "baseline", for a before/after comparison of a change in one session.
# Results and the summary table land in bench-results/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench="${RELAYGATE_BENCH_DIR:-$root/../shared/bench}"
venv=/tmp/relaygate-bench-venv
out="$root/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
args=(--duration "${BENCH_DURATION:-10}" --runs "${BENCH_RUNS:-2}" --api-key sk-bench)
# shellcheck disable=SC2206
[ -n "${BENCH_ARGS:-}" ] && args+=($BENCH_ARGS)  # e.g. "--concurrency 1,64 --embed-concurrency 64 --no-probe"
mkdir -p "$out"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk util-linux; }
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q uvloop aiohttp httptools; }
cd "$bench"
run() { echo "== $1"; "$venv/bin/python" bench.py --label "$1" --out "$out/$1" "${@:2}" "${args[@]}"; }
run ref-1 --gateway-url http://127.0.0.1:3100 \
    --gateway-cmd "$venv/bin/python reference/aiohttp_passthrough.py --port 3100"
run relaygate --gateway-url http://127.0.0.1:3000 --gateway-cmd "bash $root/scripts/bench-gateway.sh" \
    ${BENCH_HOLD:+--hold-streams "$BENCH_HOLD"}
if [ -n "${RELAYGATE_BENCH_BASELINE:-}" ]; then
  run baseline --gateway-url http://127.0.0.1:3000 \
      --gateway-cmd "bash $RELAYGATE_BENCH_BASELINE/scripts/bench-gateway.sh"
fi
run ref-2 --gateway-url http://127.0.0.1:3100 \
    --gateway-cmd "$venv/bin/python reference/aiohttp_passthrough.py --port 3100"
files="ref=$out/ref-1/results.json,$out/ref-2/results.json relaygate=$out/relaygate/results.json"
[ -n "${RELAYGATE_BENCH_BASELINE:-}" ] && files="$files baseline=$out/baseline/results.json"
if [ "${RELAYGATE_BENCH_LITELLM:-0}" = 1 ]; then
  [ -x /tmp/litellm-venv/bin/litellm ] || bash litellm/install.sh
  run litellm --gateway-url http://127.0.0.1:4000 --gateway-cmd 'bash litellm/start.sh'
  files="$files litellm=$out/litellm/results.json"
fi
# shellcheck disable=SC2086
python3 reference/summarize.py $files | tee "$out/summary.md"
if [ "${RELAYGATE_BENCH_MEDIA:-1}" = 1 ]; then
  echo "== media (scripts/bench-media.py)"
  "$root/.venv/bin/python" "$root/scripts/bench-media.py" | tee "$out/media.txt"
fi
