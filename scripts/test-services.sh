#!/usr/bin/env bash
# Usage: scripts/test-services.sh COMMAND [ARG...]
#
# Runs COMMAND (the test suite) with the services it needs, installing from Debian's packages what is missing
# (a fresh machine) and never reconfiguring a service the machine already runs:
#   - Redis on 127.0.0.1:6379 (when nothing answers there, a Redis of the suite's own, nothing kept on disk),
#     and the redis-server and haproxy programs the scale-out tests run as processes of their own;
#   - Chromium (Debian's `chromium`), which the console's browser tests drive through Playwright;
#   - a PostgreSQL named in RELAYGATE_TEST_POSTGRES_URL: a server already on 127.0.0.1:5432 that lets user
#     `postgres` into database `test` without a password is used as it is; otherwise a private, throw-away
#     cluster: initdb into a temporary directory, started on a free port of 127.0.0.1 (trust authentication,
#     listening there only), stopped and deleted when COMMAND ends.
# Without a service the suite's tests that need it skip (and fail under CI=true).
# RELAYGATE_TEST_POSTGRES=private skips the shared PostgreSQL (the script's own test uses it).
set -uo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi

apt_updated=0
install_packages() {  # Debian packages, when this is root on a machine with apt; `apt-get update` once
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$apt_updated" = 0 ]; then apt-get update -qq && apt_updated=1; fi
  echo "test-services: installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v redis-server >/dev/null 2>&1 || install_packages redis-server
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || install_packages haproxy
command -v chromium >/dev/null 2>&1 || install_packages chromium
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  echo "test-services: starting a Redis of the suite's own on 127.0.0.1:6379 (nothing kept on disk)"
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 1 20); do redis_up && break; sleep 0.25; done
fi
redis_up || echo "test-services: Redis is not reachable on 127.0.0.1:6379; its tests skip (fail under CI=true)" >&2

shared="postgresql://postgres@127.0.0.1:5432/test"
if [ "${RELAYGATE_TEST_POSTGRES:-}" != private ] && command -v psql >/dev/null 2>&1 &&
   PGCONNECT_TIMEOUT=3 psql "$shared" -w -tAc "SELECT 1" >/dev/null 2>&1; then
  RELAYGATE_TEST_POSTGRES_URL=$shared exec "$@"
fi

pg_program() {
  command -v "$1" 2>/dev/null || ls /usr/lib/postgresql/*/bin/"$1" /usr/local/pgsql/bin/"$1" 2>/dev/null |
    sort -V | tail -n 1
}
initdb=$(pg_program initdb)
pg_ctl=$(pg_program pg_ctl)
if [ -z "$initdb" ] || [ -z "$pg_ctl" ]; then
  # the server programs only: the package's own cluster, if it makes one, is not the one the tests use
  install_packages postgresql && initdb=$(pg_program initdb) && pg_ctl=$(pg_program pg_ctl)
fi
if [ -z "$initdb" ] || [ -z "$pg_ctl" ]; then
  echo "test-services: no PostgreSQL on 127.0.0.1:5432 and no initdb/pg_ctl to start a private one;" \
       "the PostgreSQL tests skip (and fail under CI=true)" >&2
  exec "$@"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner=()
if [ "$(id -u)" = 0 ]; then  # PostgreSQL refuses to run as root: the cluster belongs to an unprivileged user,
  owner=$(id -u postgres >/dev/null 2>&1 && echo postgres || echo nobody)
  dir=$(mktemp -d /tmp/relaygate-pg.XXXXXX)  # in a directory that user can reach
  chown "$owner" "$dir"
  as_owner=(runuser -u "$owner" --)
else
  dir=$(mktemp -d "${TMPDIR:-/tmp}/relaygate-pg.XXXXXX")
fi

stop() {
  "${as_owner[@]}" "$pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

if ! "${as_owner[@]}" "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1; then
  echo "test-services: initdb failed:" >&2
  cat "$dir/initdb.log" >&2
  exit 1
fi
options="-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if ! "${as_owner[@]}" "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$options" start >/dev/null; then
  echo "test-services: the private PostgreSQL did not start:" >&2
  cat "$dir/server.log" >&2
  exit 1
fi
psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -w -qc "CREATE DATABASE test" >/dev/null
echo "test-services: a private PostgreSQL on 127.0.0.1:$port (removed afterwards)" >&2
RELAYGATE_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/test" "$@"
