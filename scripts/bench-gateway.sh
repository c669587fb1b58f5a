#!/usr/bin/env bash
# relaygate in the foreground for shared/bench: a fresh SQLite database, every production feature on.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=$(mktemp -d /tmp/relaygate-bench.XXXXXX)
trap 'rm -rf "$data"' EXIT
export RELAYGATE_DATA_DIR="$data"
export RELAYGATE_PORT="${RELAYGATE_PORT:-3000}"
export RELAYGATE_ADMIN_KEY="${RELAYGATE_ADMIN_KEY:-sk-bench-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
export MOCK_UPSTREAM_URL="${MOCK_UPSTREAM_URL:-http://127.0.0.1:18080/v1}"
"$root/.venv/bin/relaygate" serve --config "$root/bench/relaygate.yaml" &
child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; rm -rf "$data"' TERM INT
wait $child
