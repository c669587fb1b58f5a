"""The CLI does what the admin API does, on the server's own database; every mistake, at start-up too, is one
line naming the file, field, flag or variable, with a non-zero exit."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from relaygate.cli import main
from tests.conftest import ADMIN_KEY, UPSTREAM_KEY, Relaygate, free_port, make_tenant
from tests.upstreams.openai_mock import MockOpenAI


@pytest.fixture
def rg(shared_store: Relaygate) -> Relaygate:
    return shared_store


def run(env: dict[str, str], cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relaygate.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


class InProcess:
    """`relaygate ARGS` run in this process (main() as the console script calls it): no interpreter start-up."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self._monkeypatch = monkeypatch
        self._capsys = capsys

    def __call__(self, env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        with self._monkeypatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("RELAYGATE_")]:
                patch.delenv(name)
            for name, value in env.items():
                if name.startswith("RELAYGATE_"):
                    patch.setenv(name, value)
            patch.chdir(cwd)
            self._capsys.readouterr()
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's own refusals
                code = int(exc.code or 0)
            out, err = self._capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> InProcess:
    return InProcess(monkeypatch, capsys)


def rows(cli: InProcess, rg: Relaygate, *args: str) -> list[Any]:
    done = cli(rg.env, rg.workdir, *args)
    assert done.returncode == 0, done.stderr
    return [orjson.loads(line) for line in done.stdout.splitlines()]


def ok(cli: InProcess, rg: Relaygate, *args: str) -> Any:
    [row] = rows(cli, rg, *args)
    return row


def one_line_error(done: subprocess.CompletedProcess[str], status: int, *needles: str) -> str:
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("relaygate: ") and "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_channels_can_be_added_shown_changed_disabled_and_deleted(cli: InProcess, rg: Relaygate,
                                                                  mock: MockOpenAI) -> None:
    name = "cli-ch-" + secrets.token_hex(4)
    ch = ok(cli, rg, "channel", "add", "--name", name, "--base-url", mock.base_url, "--key", UPSTREAM_KEY, "--models",
            "m1,m2", "--test-model", "m1")
    assert ok(cli, rg, "channel", "show", str(ch["id"]))["models"] == ["m1", "m2"]
    changed = ok(cli, rg, "channel", "update", str(ch["id"]), "--models", "m3", "--priority", "-4", "--mapping",
                 "m3=gpt-4o-mini", "--key", "k1", "--key", "k2")
    assert (changed["models"], changed["priority"], changed["model_mapping"], changed["credential_count"]) == (
        ["m3"], -4, {"m3": "gpt-4o-mini"}, 2)
    assert ok(cli, rg, "channel", "disable", str(ch["id"]))["status"] == "disabled"
    assert ok(cli, rg, "channel", "delete", str(ch["id"])) == {"ok": True}
    one_line_error(cli(rg.env, rg.workdir, "channel", "show", str(ch["id"])), 1, f"No channel with id {ch['id']}")
    assert rg.admin("GET", f"/api/channels/{ch['id']}").status_code == 404


def test_keys_and_users_can_be_managed_entirely_from_the_cli(cli: InProcess, rg: Relaygate) -> None:
    user = ok(cli, rg, "user", "create", "cli-u-" + secrets.token_hex(4), "--balance", "100")
    assert ok(cli, rg, "user", "update", str(user["id"]), "--group", "vip", "--disable")["enabled"] is False
    assert ok(cli, rg, "user", "update", str(user["id"]), "--enable")["group"] == "vip"
    assert ok(cli, rg, "user", "topup", str(user["id"]), "50", "--note", "refund")["balance"] == 150
    assert ok(cli, rg, "user", "set-balance", str(user["id"]), "7", "--note", "mistake")["balance"] == 7
    key = ok(cli, rg, "key", "create", "--user", str(user["id"]), "--quota", "10", "--rpm", "5")
    changed = ok(cli, rg, "key", "update", str(key["id"]), "--quota", "20", "--tpm", "100", "--disable")
    assert (changed["remain_quota"], changed["tpm"], changed["enabled"], changed["unlimited"]) == (
        20, 100, False, False)
    assert ok(cli, rg, "key", "update", str(key["id"]), "--unlimited", "--enable")["unlimited"] is True
    assert ok(cli, rg, "key", "show", str(key["id"]))["rpm"] == 5
    assert [k["id"] for k in rows(cli, rg, "key", "list", "--user", str(user["id"]))] == [key["id"]]
    assert ok(cli, rg, "user", "show", str(user["id"]))["balance"] == 7
    assert ok(cli, rg, "user", "delete", str(user["id"])) == {"ok": True}
    one_line_error(cli(rg.env, rg.workdir, "key", "show", str(key["id"])), 1, "No key with id")


def test_groups_prices_and_logs_from_the_cli(cli: InProcess, rg: Relaygate, mock: MockOpenAI) -> None:
    group = "cli-g-" + secrets.token_hex(3)
    assert ok(cli, rg, "group", "set", group, "--multiplier", "1.25")["multiplier"] == 1.25
    assert group in {g["name"] for g in rows(cli, rg, "group", "list")}
    assert ok(cli, rg, "group", "delete", group) == {"ok": True}
    model = "cli-model-" + secrets.token_hex(3)
    assert ok(cli, rg, "price", "set", model, "--input", "1", "--output", "2")["source"] == "operator"
    prices = {p["model"]: p for p in rows(cli, rg, "price", "list")}
    assert prices[model]["source"] == "operator" and prices["gpt-4o"]["source"] in ("default", "operator")
    assert ok(cli, rg, "price", "delete", model) == {"ok": True}
    t = make_tenant(rg, [mock.base_url])
    with rg.client(t.key) as sdk:
        resp = sdk.chat.completions.with_raw_response.create(model="gpt-4o-mini",
                                                             messages=[{"role": "user", "content": "x"}])
    [row] = rows(cli, rg, "logs", "--key", str(t.key_id))
    assert (row["request_id"], row["status"], row["model"]) == (resp.headers["X-Request-Id"], 200, "gpt-4o-mini")
    assert len(rows(cli, rg, "logs", "--limit", "1")) == 1


@pytest.mark.parametrize(("args", "status", "needles"), [
    (("user", "topup", "2", "99999999999999999999"), 2, ("amount", "less than or equal")),
    (("user", "create", "x", "--balance", "9223372036854775808"), 2, ("balance",)),
    (("user", "create", "x", "--group", "no spaces"), 2, ("group",)),
    (("key", "create", "--user", "0"), 2, ("id",)),
    (("key", "create", "--user", "99999999999"), 2, ("id",)),
    (("key", "create", "--user", "2147483647"), 1, ("No user with id 2147483647",)),
    (("key", "create", "--user", "1", "--rpm", "2147483648"), 2, ("rpm",)),
    (("price", "set", "m", "--input", "nan"), 2, ("input_per_1m", "finite")),
    (("price", "set", "m", "--input", "1e308"), 2, ("input_per_1m",)),
    (("price", "set", "m" * 200), 1, ("model",)),
    (("group", "set", "bad name"), 2, ("name",)),
    (("group", "set", "g", "--multiplier", "inf"), 2, ("multiplier",)),
    (("logs", "--limit", "0"), 2, ("limit",)),
    (("logs", "--since", "nan"), 2, ("since",)),
    (("channel", "add", "--name", "x", "--base-url", "ftp://x", "--key", "k", "--models", "m"), 2, ("base_url",)),
    (("channel", "add", "--name", "x", "--base-url", "https://x", "--key", "k", "--models", "m", "--weight", "0"), 2,
     ("weight",)),
    (("channel", "update", "1", "--mapping", "nonsense"), 2, ("--mapping",)),
    (("user", "show", "abc"), 2, ("id",)),
])
def test_cli_mistakes_are_one_line_with_a_non_zero_exit(cli: InProcess, rg: Relaygate, args: tuple[str, ...],
                                                         status: int, needles: tuple[str, ...]) -> None:
    done = cli(rg.env, rg.workdir, *args)
    if status == 2 and done.stderr.startswith("usage:"):  # argparse's own refusal: its usage line, then the error
        assert done.returncode == 2 and any(n in done.stderr for n in needles), done.stderr
        return
    one_line_error(done, status, *needles)


def test_the_cli_refuses_a_directory_without_the_servers_database(cli: InProcess, tmp_path: Path) -> None:
    env: dict[str, str] = {}
    done = cli(env, tmp_path, "user", "list")
    line = one_line_error(done, 2, str(tmp_path / "data" / "relaygate.db"), "RELAYGATE_DATA_DIR", "relaygate migrate")
    assert "no database at" in line
    assert not (tmp_path / "data").exists()
    made = cli(env, tmp_path, "migrate")
    assert made.returncode == 0 and orjson.loads(made.stdout)["revision"]
    assert cli(env, tmp_path, "user", "list").returncode == 0
    assert run({**os.environ, "RELAYGATE_DATA_DIR": "data"}, tmp_path, "user", "list").returncode == 0


def test_the_cli_names_an_unreachable_database_without_its_password(cli: InProcess, tmp_path: Path) -> None:
    env = {"RELAYGATE_DATABASE_URL": f"postgresql://u:hunter2@127.0.0.1:{free_port()}/x"}
    line = one_line_error(cli(env, tmp_path, "user", "list"), 2, "RELAYGATE_DATABASE_URL", "u:***@127.0.0.1")
    assert "hunter2" not in line


def test_the_cli_names_a_database_it_cannot_use_and_a_directory_it_cannot_make(cli: InProcess,
                                                                               tmp_path: Path) -> None:
    line = one_line_error(cli({"RELAYGATE_DATABASE_URL": "mysql://u:hunter2@127.0.0.1/x"}, tmp_path, "user", "list"),
                          2, "RELAYGATE_DATABASE_URL", "PostgreSQL URL")
    assert "hunter2" not in line
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    one_line_error(cli({"RELAYGATE_DATA_DIR": str(blocker / "data")}, tmp_path, "migrate"), 2, "RELAYGATE_DATA_DIR",
                   "cannot create", str(blocker))


def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {**os.environ, "RELAYGATE_DATA_DIR": str(tmp_path / "data"), "RELAYGATE_ADMIN_KEY": ADMIN_KEY,
            "RELAYGATE_PORT": str(free_port()), **(env or {})}
    return run(base, tmp_path, "serve", *args, timeout=60)


CONFIGS = [
    ("groups: [\n", ("relaygate.yaml", "line 2", "not valid YAML")),
    ("chanels: []\n", ("relaygate.yaml", "chanels", "Extra inputs")),
    ("- a\n- b\n", ("relaygate.yaml", "top level", "list")),
    ("channels: [{name: a, base_url: ftp://x, credentials: [k], models: [m]}]\n",
     ("relaygate.yaml", "channels[0].base_url")),
    ("keys: [{key: sk-declared-0001, user: nobody}]\n", ("relaygate.yaml", "keys[0]", "nobody")),
    ("channels: [{name: a, base_url: 'https://x', credentials: ['${RELAYGATE_TEST_UNSET_VAR}'], models: [m]}]\n",
     ("relaygate.yaml", "channels[0].credentials[0]", "${RELAYGATE_TEST_UNSET_VAR} is not set")),
    ("prices: {m: {input_per_1m: .inf}}\n", ("relaygate.yaml", "prices.m.input_per_1m")),
    ("users: [{name: a, balance: 9223372036854775807}]\n", ("relaygate.yaml", "users[0].balance")),
    # a misspelt field is named, not the real one it leaves missing
    ("channels: [{name: a, base_url: 'https://x', credentials: [k], modles: [m]}]\n",
     ("relaygate.yaml", "channels[0].modles", "Extra inputs")),
    ("users: [{name: a}, {name: b}, {name: a}]\n", ("relaygate.yaml", "users[2]", "'a', declared above")),
    ("channels: [{name: c, base_url: 'https://x', credentials: [k], models: [m]},\n"
     "           {name: c, base_url: 'https://y', credentials: [k], models: [m]}]\n",
     ("relaygate.yaml", "channels[1]", "'c', declared above")),
    ("\x00\x01", ("relaygate.yaml", "not valid YAML", "unacceptable character")),  # YAML's own text wraps: one line
    # a declared key whose value the admin (or another user) holds is refused, not silently left unapplied
    (f"users: [{{name: u}}]\nkeys: [{{key: {ADMIN_KEY}, user: u}}]\n", ("relaygate.yaml", "keys[0]", "admin key")),
]


@pytest.mark.parametrize(("text", "needles"), CONFIGS, ids=[c[1][1] for c in CONFIGS])
def test_every_config_file_mistake_is_one_line_naming_the_file_and_field(tmp_path: Path, text: str,
                                                                         needles: tuple[str, ...]) -> None:
    (tmp_path / "relaygate.yaml").write_text(text)
    one_line_error(_serve(tmp_path, "--config", "relaygate.yaml"), 2, *needles)


@pytest.mark.parametrize(("args", "env", "needles"), [
    (("--config", "missing.yaml"), {}, ("missing.yaml", "no such file")),
    ((), {"RELAYGATE_PORT": "abc"}, ("RELAYGATE_PORT",)),
    ((), {"RELAYGATE_WORKERS": "0"}, ("RELAYGATE_WORKERS",)),
    ((), {"RELAYGATE_CORS_ORIGINS": "not an origin"}, ("RELAYGATE_CORS_ORIGINS", "not an origin")),
    (("--port", "99999"), {}, ("--port", "65535")),
    (("--port", "0"), {}, ("--port",)),
    (("--workers", "0"), {}, ("--workers",)),
    ((), {"RELAYGATE_DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x"}, ("RELAYGATE_DATABASE_URL", "127.0.0.1:1")),
    ((), {"RELAYGATE_DATABASE_URL": "garbage"}, ("RELAYGATE_DATABASE_URL", "PostgreSQL URL")),
    ((), {"RELAYGATE_DATABASE_URL": "mysql://u:pw@127.0.0.1/x"}, ("RELAYGATE_DATABASE_URL", "PostgreSQL URL")),
    ((), {"RELAYGATE_LOG_LEVEL": "LOUD"}, ("RELAYGATE_LOG_LEVEL", "DEBUG, INFO")),
    ((), {"RELAYGATE_REDIS_URL": "localhost:6379"}, ("RELAYGATE_REDIS_URL", "redis://")),
    ((), {"RELAYGATE_SHUTDOWN_GRACE": "inf"}, ("RELAYGATE_SHUTDOWN_GRACE", "finite")),
    ((), {"RELAYGATE_MJ_IMAGE_URL_TTL": "inf"}, ("RELAYGATE_MJ_IMAGE_URL_TTL", "finite")),
    ((), {"RELAYGATE_UNPRICED_INPUT_PER_1M": "nan"}, ("RELAYGATE_UNPRICED_INPUT_PER_1M", "finite")),
    ((), {"RELAYGATE_UNPRICED_OUTPUT_PER_1M": "-5"}, ("RELAYGATE_UNPRICED_OUTPUT_PER_1M",)),
    ((), {"RELAYGATE_PUBLIC_URL": "ftp://relay"}, ("RELAYGATE_PUBLIC_URL", "https://")),
    ((), {"RELAYGATE_ADMIN_KEY": "short"}, ("RELAYGATE_ADMIN_KEY", "8 to 256")),
    ((), {"RELAYGATE_HOST": "no-such-host.invalid"}, ("cannot listen on no-such-host.invalid", "RELAYGATE_HOST")),
    ((), {"RELAYGATE_DATA_DIR": "/proc/version/data"}, ("RELAYGATE_DATA_DIR", "cannot create", "/proc/version")),
])
def test_start_up_mistakes_are_one_line_with_a_non_zero_exit(tmp_path: Path, args: tuple[str, ...],
                                                             env: dict[str, str], needles: tuple[str, ...]) -> None:
    one_line_error(_serve(tmp_path, *args, env=env), 2, *needles)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_stops_the_start_with_a_non_zero_exit(tmp_path: Path, workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = _serve(tmp_path, "--workers", workers, env={"RELAYGATE_PORT": port})
    # the address is tried before the store is touched or a worker started: the one line, with either count
    line = one_line_error(done, 2)
    assert line == f"relaygate: cannot listen on 127.0.0.1:{port} (RELAYGATE_HOST / RELAYGATE_PORT, --host / " \
                   "--port): address already in use"
