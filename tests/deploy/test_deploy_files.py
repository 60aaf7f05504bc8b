"""The host's files in `deploy/`: systemd accepts the units, nginx accepts the site, every setting in the
cluster's env file is one foodbot knows, and the units run what a host needs.

The whole cluster is run from these files by `bench/cluster.py`; these checks are the fast part that
every `make test` runs. systemd-analyze and nginx come from Debian's packages; without them these tests
skip, except under REQUIRE_SERVICES=1 (CI, whose `.ci/run` installs nginx when missing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.deploy_files import (
    ENV_FILE,
    INSTALLED_FOODBOT,
    SITE,
    UNITS,
    Unit,
    nginx_conf,
    read_env_file,
    render_site,
)
from bot.settings import Settings
from tests.bot.processes import FOODBOT


def _tool(name: str, package: str) -> str:
    """The program, or skip naming its Debian package (a failure under REQUIRE_SERVICES=1, as in CI)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if found is not None:
        return found
    reason = f"{name} is not installed (sudo apt-get install {package})"
    if os.environ.get("REQUIRE_SERVICES", "").strip().lower() in ("1", "true", "yes", "on"):
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` with no complaint at all: an unknown key or a bad value would be one.

    It also checks that ExecStart's program exists, so the installed path is pointed at this checkout's
    `foodbot` (and the env file at the committed one); nothing else of the files changes.
    """
    analyze = _tool("systemd-analyze", "systemd")
    env_file = tmp_path / "foodbot.env"
    env_file.write_text(ENV_FILE.read_text())
    names = []
    for unit in sorted(UNITS.iterdir()):
        text = unit.read_text().replace(INSTALLED_FOODBOT, FOODBOT)
        text = text.replace("/etc/foodbot/foodbot.env", str(env_file))
        # Templates are verified as instances, which is how they run.
        name = unit.name.replace("@.", "@1.")
        (tmp_path / name).write_text(text)
        names.append(name)
    assert {"foodbot-bot@1.service", "foodbot-worker@1.service", "foodbot-migrate.service"} <= set(names)
    verified = subprocess.run(
        [analyze, "verify", *(str(tmp_path / name) for name in names)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == "" and verified.stderr.strip() == "", verified.stderr


def test_units_run_the_cluster_as_documented() -> None:
    """The migration step is the one place setWebhook is called; replicas get their own ports and
    restart after 10 s like the workers; replicas never register the webhook themselves."""
    migrate = Unit.load("foodbot-migrate.service").commands("", "foodbot")
    assert migrate[0] == ["foodbot", "migrate"]
    assert ["foodbot", "webhook", "set"] in migrate
    replica = Unit.load("foodbot-bot@.service")
    two = replica.env("2", read_env_file(ENV_FILE))
    assert two["WEBHOOK_LISTEN"] == "127.0.0.1:8082" and two["READY_LISTEN"] == "127.0.0.1:9082"
    assert two["WEBHOOK_REGISTER"] == "false"
    assert replica.commands("2", "foodbot") == [["foodbot", "run"]]
    assert replica.restart_sec == 10
    worker = Unit.load("foodbot-worker@.service")
    assert worker.commands("1", "foodbot")[0][:2] == ["foodbot", "worker"]
    assert worker.restart_sec == 10


def test_cluster_env_names_only_known_settings() -> None:
    """A misspelt setting in the host's env file would be silently ignored: every key is a Settings field,
    and the file parses into valid settings (the replicas' ports come from the unit)."""
    values = read_env_file(ENV_FILE)
    known = {name.upper() for name in Settings.model_fields}
    assert set(values) - known == set()
    values["TELEGRAM_BOT_TOKEN"] = "123:ABC"
    settings = Settings(_env_file=None, **{key.lower(): value for key, value in values.items()})  # type: ignore[call-arg, arg-type]
    assert settings.queue_url.startswith("redis://")
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.webhook_url.startswith("https://")


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    """`nginx -t` on the site as the bench runs it (its own address, certificate and replica ports), and
    the site retries a POST on the next replica, which only `non_idempotent` allows."""
    nginx = _tool("nginx", "nginx-light")
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t",
         "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    site = tmp_path / "site.conf"
    site.write_text(render_site(18443, [18081, 18082], certificate, key))
    assert site.read_text().count("server 127.0.0.1:1808") == 2
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf(tmp_path, site, as_root=False))
    tested = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stderr
    directives = SITE.read_text()
    assert "non_idempotent" in directives and "proxy_next_upstream " in directives
