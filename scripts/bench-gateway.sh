#!/usr/bin/env bash
# relaygate in the foreground for shared/bench: a fresh SQLite database, every production feature on.
# exec, so the harness measures relaygate's own process (CPU, RSS), not this shell.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export RELAYGATE_PORT="${RELAYGATE_PORT:-3000}"
data="${RELAYGATE_BENCH_DATA:-/tmp/relaygate-bench-$RELAYGATE_PORT}"
rm -rf "$data"
export RELAYGATE_DATA_DIR="$data"
export RELAYGATE_ADMIN_KEY="${RELAYGATE_ADMIN_KEY:-sk-bench-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
export MOCK_UPSTREAM_URL="${MOCK_UPSTREAM_URL:-http://127.0.0.1:18080/v1}"
export RELAYGATE_ADMIN_PASSWORD="${RELAYGATE_ADMIN_PASSWORD:-bench-console-password}"
if [ "${RELAYGATE_BENCH_DASHBOARD:-0}" = 1 ]; then  # an admin's dashboard open and refreshing every second
  "$root/.venv/bin/python" "$root/bench/dashboard_load.py" --url "http://127.0.0.1:$RELAYGATE_PORT" \
      --password "$RELAYGATE_ADMIN_PASSWORD" >/dev/null &
fi
exec "$root/.venv/bin/relaygate" serve --config "${RELAYGATE_BENCH_CONFIG:-$root/bench/relaygate.yaml}"
