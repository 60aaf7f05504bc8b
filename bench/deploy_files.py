"""Reading the host's files in `deploy/` the way systemd and nginx do, so the cluster bench runs them.

This machine's PID 1 is not systemd and the bench is not root on a real host, so it cannot install the
units; instead it starts each unit's ExecStart lines with the unit's environment (`Unit.command`,
`Unit.environment`), and runs nginx on the very site file with only what is the host's own swapped for
local values (`render_site`): the listening address, the certificate, the replicas' ports.
"""

from __future__ import annotations

import re
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
SITE = DEPLOY / "nginx" / "foodbot.conf"
ENV_FILE = DEPLOY / "foodbot.env"
#: Where the units expect the project (`make venv` in /opt/foodbot).
INSTALLED_FOODBOT = "/opt/foodbot/.venv/bin/foodbot"

_UPSTREAM_SERVER = re.compile(r"^(\s*)server\s+127\.0\.0\.1:\d+(\s[^;]*)?;\s*$")
_LISTEN = re.compile(r"^(\s*)listen\s+443\s+ssl;\s*$")
_CERT = re.compile(r"^(\s*)(ssl_certificate(?:_key)?)\s+\S+;\s*$")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"')
    return values


@dataclass(frozen=True)
class Unit:
    """One systemd unit file: the parts of [Service] the bench needs."""

    path: Path
    exec_start: tuple[str, ...]
    environment: tuple[tuple[str, str], ...]
    restart_sec: float

    @classmethod
    def load(cls, name: str) -> Unit:
        path = UNITS / name
        exec_start: list[str] = []
        environment: list[tuple[str, str]] = []
        restart_sec = 0.1  # systemd's default RestartSec=
        for raw in path.read_text().splitlines():
            key, sep, value = raw.partition("=")
            if not sep or raw.lstrip().startswith("#"):
                continue
            key = key.strip()
            if key == "ExecStart":
                exec_start.append(value.strip())
            elif key == "Environment":
                for assignment in shlex.split(value):
                    name_, _, setting = assignment.partition("=")
                    environment.append((name_, setting))
            elif key == "RestartSec":
                restart_sec = float(value.strip().rstrip("s"))
        return cls(path, tuple(exec_start), tuple(environment), restart_sec)

    def commands(self, instance: str, foodbot: str) -> list[list[str]]:
        """Each ExecStart line as argv, for instance `instance` (%i) on this host (%H), with the
        project's `foodbot` where the unit names the installed one."""
        return [
            [
                foodbot if word == INSTALLED_FOODBOT else word
                for word in shlex.split(self._expand(line, instance))
            ]
            for line in self.exec_start
        ]

    def env(self, instance: str, env_file: dict[str, str]) -> dict[str, str]:
        """The unit's variables: Environment= first, then EnvironmentFile=, whose values win (systemd)."""
        own = {key: self._expand(value, instance) for key, value in self.environment}
        return {**own, **env_file}

    @staticmethod
    def _expand(text: str, instance: str) -> str:
        return text.replace("%i", instance).replace("%H", socket.gethostname()).replace("%%", "%")


def render_site(port: int, replicas: list[int], certificate: Path, key: Path) -> str:
    """deploy/nginx/foodbot.conf with this run's address, certificate and replica ports."""
    lines: list[str] = []
    upstream_written = False
    template: str | None = None
    for line in SITE.read_text().splitlines():
        server = _UPSTREAM_SERVER.match(line)
        if server is not None:
            template = template or line
            if not upstream_written:
                upstream_written = True
                lines.extend(
                    re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{replica}", line) for replica in replicas
                )
            continue
        listen = _LISTEN.match(line)
        if listen is not None:
            lines.append(f"{listen.group(1)}listen 127.0.0.1:{port} ssl;")
            continue
        cert = _CERT.match(line)
        if cert is not None:
            path = key if cert.group(2) == "ssl_certificate_key" else certificate
            lines.append(f"{cert.group(1)}{cert.group(2)} {path};")
            continue
        lines.append(line)
    if template is None:
        raise ValueError(f"{SITE} has no `server 127.0.0.1:PORT` line in its upstream")
    return "\n".join(lines) + "\n"


def nginx_conf(folder: Path, site: Path, *, as_root: bool) -> str:
    """A main nginx.conf around `site` that keeps everything (pid, logs, temp files) in `folder`."""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        ("user root;\n" if as_root else "")
        + f"worker_processes 1;\ndaemon off;\npid {folder / 'nginx.pid'};\n"
        + f"error_log {folder / 'nginx-error.log'} warn;\n"
        + "events { worker_connections 1024; }\n"
        + "http {\n"
        + temp
        + f"\n    include {site};\n}}\n"
    )
