"""The cluster from `deploy/`, run by `bench/cluster.py` at a small scale: nginx, three replicas, two
workers, PostgreSQL and Redis, with a replica and a worker killed, the database's connections cut and a
replica restarted in the middle. Nothing may be lost or doubled, every summary goes out once, no 429.

The full measurement (200 people, 1,000 photos) is the bench itself; see the README.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.deploy.test_deploy_files import _tool
from tests.services import postgres_url, redis_url

ROOT = Path(__file__).resolve().parents[2]


def test_the_cluster_loses_nothing_through_kills_a_cut_and_a_restart(data_dir: Path) -> None:
    _tool("nginx", "nginx-light")
    admin = make_url(postgres_url()).set(drivername="postgresql", database="postgres")
    run = subprocess.run(
        [
            sys.executable, str(ROOT / "bench" / "cluster.py"), "--json",
            "--people", "20", "--photos", "60", "--rate", "6", "--warmup", "4",
            "--kill-at", "2", "--cut-at", "4", "--restart-at", "6", "--summaries-at", "3",
            "--postgres", admin.render_as_string(hide_password=False), "--redis", redis_url(),
            "--data-dir", str(data_dir),
        ],
        capture_output=True, text=True, timeout=600, check=False, cwd=ROOT,
    )  # fmt: skip
    assert run.stdout.strip(), run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["answered"] == 60 and report["lost"] == 0 and report["doubled"] == 0, report
    assert report["saves_lost"] == 0 and report["database"]["photos_with_two_meals"] == 0, report
    assert report["summaries_once"] == 20, report
    assert report["429s"] == 0 and report["set_webhook_calls"] == 1, report
    assert all(drain["exit_code"] == 0 for drain in report["restart_drain"].values()), report
    assert set(report["restored_s"]) == {"replica-1", "worker-1"}, report
    assert run.returncode == 0, report
