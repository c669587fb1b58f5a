"""scripts/test-services.sh gives the tests a PostgreSQL without touching the machine's own: a private cluster on
its own port when none is usable, deleted afterwards, named in RELAYGATE_TEST_POSTGRES_URL."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "scripts" / "test-services.sh"
PROBE = ("import os, psycopg; url = os.environ['RELAYGATE_TEST_POSTGRES_URL']; print(url)\n"
         "with psycopg.connect(url) as c: print(c.execute('SELECT current_database()').fetchone()[0], c.info.port)")


def _initdb_available() -> bool:
    return bool(shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def _clusters() -> set[str]:
    return set(glob.glob("/tmp/relaygate-pg.*") + glob.glob(f"{os.environ.get('TMPDIR', '/tmp')}/relaygate-pg.*"))


def _system_config() -> dict[str, str]:
    return {path: hashlib.sha256(Path(path).read_bytes()).hexdigest()
            for path in glob.glob("/etc/postgresql/*/*/*.conf")}


def test_a_private_cluster_is_started_used_and_removed(tmp_path: Path) -> None:
    if not _initdb_available():
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs PostgreSQL's server programs (initdb, pg_ctl) for scripts/test-services.sh")
        pytest.skip("no initdb here: the script cannot start a private PostgreSQL")
    before, clusters = _system_config(), _clusters()
    env = {**os.environ, "RELAYGATE_TEST_POSTGRES": "private", "TMPDIR": str(tmp_path)}
    done = subprocess.run(["bash", str(SCRIPT), sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    url, database, port = done.stdout.split()
    assert url == f"postgresql://postgres@127.0.0.1:{port}/test" and database == "test" and port != "5432"
    assert _clusters() == clusters and list(tmp_path.iterdir()) == []  # the cluster's directory is gone
    assert _system_config() == before  # the machine's own configuration is untouched
    failing = subprocess.run(["bash", str(SCRIPT), sys.executable, "-c", "raise SystemExit(3)"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert failing.returncode == 3 and _clusters() == clusters


def test_the_script_needs_a_command() -> None:
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "usage" in done.stderr
