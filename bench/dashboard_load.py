"""An open console dashboard, refreshing: logs in as the admin and reads the dashboard, the logs and the session
every --interval seconds until relaygate goes away. For "chat CPU unchanged with a dashboard open": run the
bench with RELAYGATE_BENCH_DASHBOARD=1 (scripts/bench-gateway.sh starts this beside relaygate) and without.

    .venv/bin/python bench/dashboard_load.py --url http://127.0.0.1:3000 --password PASSWORD [--interval 1]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import time
import urllib.error
import urllib.request

READS = ("/api/auth/session", "/api/dashboard?range=24h", "/api/dashboard?range=7d", "/api/logs?limit=50")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    deadline = time.monotonic() + 60
    while True:
        try:
            body = json.dumps({"username": args.username, "password": args.password}).encode()
            request = urllib.request.Request(args.url + "/api/auth/login", body, {"Content-Type": "application/json"})
            opener.open(request, timeout=10).read()
            break
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise SystemExit("dashboard_load: relaygate did not let the admin log in within 60 s") from None
            time.sleep(0.5)
    rounds = 0
    while True:
        try:
            for path in READS:
                opener.open(args.url + path, timeout=10).read()
        except (urllib.error.URLError, ConnectionError):
            print(f"dashboard_load: relaygate is gone after {rounds} refreshes")
            return
        rounds += 1
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
