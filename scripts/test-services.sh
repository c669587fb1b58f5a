#!/usr/bin/env bash
# Makes sure the services the suite needs are up: PostgreSQL on 127.0.0.1:5432 with database `test`, Redis on
# 127.0.0.1:6379, and the redis-server and haproxy binaries the scale-out tests run as their own processes.
# Installs what is missing from Debian's packages (a fresh machine); starts PostgreSQL's cluster when stopped and,
# when nothing answers on 6379, a Redis of the suite's own; never reconfigures a running service. Idempotent.
set -uo pipefail

can_install() {  # install Debian packages, running `apt-get update` once
  can_install || return 1
  if [ "$apt_updated" = 0 ]; then apt-get update -qq && apt_updated=1; fi
  echo "test-services: installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# redis-server (shared on 6379, and private copies on free ports) and haproxy
command -v redis-server >/dev/null 2>&1 || install redis-server
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || install haproxy
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  echo "test-services: starting a Redis of the suite's own on 127.0.0.1:6379 (nothing kept on disk)"
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 1 20); do redis_up && break; sleep 0.25; done
fi
redis_up || echo "test-services: Redis is not reachable on 127.0.0.1:6379; its tests fail in CI and skip elsewhere" >&2

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

if pg_up; then exit 0; fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  install postgresql
fi
if command -v pg_ctlcluster >/dev/null 2>&1; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$version" ]; then
    conf=/etc/postgresql/$version/main
    grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf" 2>/dev/null ||
      sed -i '1i host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf" 2>/dev/null
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
      pg_ctlcluster "$version" main start 2>/dev/null || true
  fi
fi
for _ in $(seq 1 30); do
  if pg_up; then
    psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 ||
      psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null 2>&1 || true
    exit 0
  fi
  sleep 1
done
echo "test-services: PostgreSQL is not reachable on 127.0.0.1:5432; its tests fail in CI and skip elsewhere" >&2
exit 0
