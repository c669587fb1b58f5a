#!/usr/bin/env bash
# Makes sure the services the suite needs are up: PostgreSQL on 127.0.0.1:5432 with database `test`.
# Installs it from Debian's packages when missing (a fresh machine), starts it when stopped.
set -uo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

if pg_up; then exit 0; fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-services: installing PostgreSQL from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
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
