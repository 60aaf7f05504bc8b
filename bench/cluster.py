"""Benchmark: the cluster a host runs, from the files in `deploy/`, losing machines in the middle.

    .venv/bin/python bench/cluster.py [--people 200] [--photos 1000] [--rate 20] [--replicas 3]
        [--workers 2] [--kill-at 12] [--restart-after 10] [--cut-at 30] [--summaries-at 25]
        [--limit 30] [--postgres URL] [--redis URL] [--data-dir ./data] [--keep] [--json]

What runs, each from its file in `deploy/` (`bench.deploy_files`):

* a PostgreSQL database and a Redis key prefix of its own on the machine's servers (`--postgres`,
  `--redis`), dropped at the end;
* `foodbot-migrate.service`'s ExecStart lines, in order (migrate, the food index and the default model
  bundle into `--data-dir`, `foodbot webhook set`): the only setWebhook of the run;
* nginx (Debian's package; `sudo apt-get install nginx-light` if missing) on `deploy/nginx/foodbot.conf`,
  with TLS from a certificate made for the run;
* `--replicas` × `foodbot-bot@N.service` and `--workers` × `foodbot-worker@N.service`, each its ExecStart
  with its unit's environment and `deploy/foodbot.env` (this run's database, Redis and Bot API server
  swapped in);
* the loopback Bot API server (tests/telegram_fake) in this process, posting updates to nginx as Telegram
  does (parallel connections up to max_connections, one at a time per chat, retried until 2xx, with the
  secret header) and answering 429 past `--limit` messages a second.

`--people` people send /start, then `--photos` photos at an open-loop `--rate` a second (round robin,
each captioned `burst #N` so every card is matched to its photo) and press ✅ Save on each card as it
comes. Every person's daily summary falls due `--summaries-at` seconds into the photos. At `--kill-at` s
replica 1 and worker 1 are SIGKILLed, each started again `RestartSec=` later (10 s, as systemd would);
at `--cut-at` s every PostgreSQL connection of the run is terminated.

It prints one JSON object: photos answered, lost, doubled; saves lost and doubled (chats and database);
summaries sent exactly once, missing, doubled; p50/p99 photo → card latency of the photos sent before,
during and after the failures; how long each failed process took to serve again, and until every photo
sent meanwhile had its card; how long the restarted replica took to drain; the bot's messages a second
against Telegram's limit; the 429s; CPU seconds per process, database commits and rows, Redis commands
(the figures the README's sizing uses). With `--keep`, the logs, each photo's times (photos.json) and
the database's long transactions (pg-activity.log) stay in the folder it names. Exits 1 when something
was lost or doubled, a summary was missing or doubled, a 429 was served, or a drain did not end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/telegram_fake is not an installed package

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from bench.burst import Photo, Tracker, cpu_seconds, fixture_photos, percentile  # noqa: E402
from bench.deploy_files import ENV_FILE, Unit, nginx_conf, read_env_file, render_site  # noqa: E402
from tests.bot.processes import FOODBOT, foodbot_env  # noqa: E402
from tests.telegram_fake import FakeTelegram, FakeUser  # noqa: E402

PHOTOS = ROOT / "bench" / "data" / "food_photos"
PUBLIC_ORIGIN = "https://bot.example.org"
FIRST_ID = 30_000_001
#: A process that is not serving this long after its start is broken (first start builds nothing: the
#: migration step did).
READY_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 60.0
#: Without news this long after the last photo, what has not come will not come.
DRAIN_S = 120.0
#: The window after the last failure still counted as "during" (the leases of the killed replica's
#: updates run out, taken-over jobs finish).
SETTLE_S = 10.0
#: Photos sent this long before a failure were likely still in hand when it struck.
IN_FLIGHT_S = 2.0


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="photos a second, open loop")
    parser.add_argument("--replicas", type=int, default=3, help="foodbot-bot@N replicas (1-9)")
    parser.add_argument("--workers", type=int, default=2, help="foodbot-worker@N workers")
    parser.add_argument("--kill-at", type=float, default=10.0, help="SIGKILL replica 1 and worker 1 (s)")
    parser.add_argument("--restart-after", type=float, help="default: the units' RestartSec=")
    parser.add_argument("--cut-at", type=float, default=22.0, help="terminate PostgreSQL's connections (s)")
    parser.add_argument(
        "--restart-at",
        type=float,
        default=30.0,
        help="systemctl restart replica 2: SIGTERM, drain, start (s)",
    )
    parser.add_argument("--summaries-at", type=float, default=20.0, help="every summary falls due (s)")
    parser.add_argument(
        "--warmup", type=int, default=20, help="photos one extra person sends first, not counted"
    )
    parser.add_argument("--limit", type=float, default=30.0, help="Telegram's messages a second")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="DATA_DIR (bundle, index)")
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder and print it")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args(argv)
    if not 1 <= args.replicas <= 9 or args.workers < 1 or min(args.people, args.photos) < 1 or args.rate <= 0:
        parser.error("--replicas 1-9, and --workers, --people, --photos, --rate positive")
    return args


def _say(args: argparse.Namespace, line: str) -> None:
    if not args.json:
        print(line, file=sys.stderr, flush=True)


def find_nginx() -> str:
    """Debian's nginx, installed with apt when missing and this is root."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], check=False, capture_output=True)
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise SystemExit("nginx is not installed: sudo apt-get install nginx-light")
    return found


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """One process of the cluster, as a unit's ExecStart; its output appended to one log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    cwd: Path
    unit: str
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    killed_at: float | None = None
    back_after_s: float | None = None
    drain_s: float | None = None
    exit_code: int | None = None
    #: CPU seconds of the earlier lives of this service (before a kill or a restart).
    cpu_spent: float = 0.0
    log_offset: int = 0

    async def start(self) -> None:
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        self.starts += 1

    def cpu_seconds(self) -> float:
        """CPU used so far by every life of this service."""
        alive = cpu_seconds(self.process.pid) if self.process is not None and self.alive else None
        return round(self.cpu_spent + (alive or 0.0), 2)

    def kill(self) -> None:
        assert self.process is not None
        self.cpu_spent = self.cpu_seconds()
        self.process.kill()
        self.killed_at = time.monotonic()

    async def stop(self) -> int | None:
        """SIGTERM (the replica drains), then SIGKILL past STOP_TIMEOUT_S."""
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.cpu_spent = self.cpu_seconds()
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
            return None

    def new_log(self) -> str:
        return self.log.read_bytes()[self.log_offset :].decode(errors="replace")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None


@dataclass
class Cluster:
    """Everything the run started, to stop in the end whatever happened."""

    folder: Path
    replicas: list[Service] = field(default_factory=list)
    workers: list[Service] = field(default_factory=list)
    nginx: Service | None = None
    ready_ports: dict[str, int] = field(default_factory=dict)

    async def stop(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {}
        for service in self.replicas + self.workers:
            codes[service.name] = await service.stop()
        if self.nginx is not None:
            codes["nginx"] = await self.nginx.stop()
        return codes


async def is_ready(session: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{port}/ready") as reply:
            return reply.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def wait_serving(service: Service, cluster: Cluster, session: aiohttp.ClientSession) -> None:
    """Until a replica's /ready answers 200, or a worker said it is ready."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not service.alive:
            raise RuntimeError(f"{service.name} exited; see {service.log}")
        port = cluster.ready_ports.get(service.name)
        if port is not None and await is_ready(session, port):
            return
        if port is None and " ready (" in service.new_log():
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{service.name} did not serve within {READY_TIMEOUT_S:.0f} s; see {service.log}")


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the run's nginx (Telegram needs TLS; the fake trusts any)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=bot.example.org", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def run_migration(env: dict[str, str], folder: Path, log: Path) -> float:
    """foodbot-migrate.service: each ExecStart in order; any failure ends the run. Returns seconds."""
    started = time.monotonic()
    unit = Unit.load("foodbot-migrate.service")
    with log.open("ab") as out:
        for argv in unit.commands("", FOODBOT):
            process = await asyncio.create_subprocess_exec(
                *argv, cwd=folder, env=unit.env("", env), stdout=out, stderr=out
            )
            if await process.wait() != 0:
                raise RuntimeError(f"`{' '.join(argv[1:])}` failed; see {log}")
    return time.monotonic() - started


async def cut_database(admin_url: str, database: str) -> int:
    """Terminate every connection to the run's database (what a PostgreSQL failover or restart does)."""
    connection = await asyncpg.connect(admin_url)
    try:
        rows = await connection.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await connection.close()
    return sum(1 for row in rows if row[0])


async def database_figures(url: str) -> dict[str, Any]:
    """From the run's database: saved meals, photos that became two meals, summaries recorded."""
    connection = await asyncpg.connect(url)
    try:
        saved = await connection.fetchval("SELECT count(*) FROM meals WHERE status = 'saved'")
        doubled = await connection.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM meals WHERE caption LIKE 'burst #%' "
            "GROUP BY user_id, caption HAVING count(*) > 1) AS d"
        )
        summed_up = await connection.fetchval(
            "SELECT count(*) FROM users WHERE summary_last_date IS NOT NULL"
        )
        pending = await connection.fetchval("SELECT count(*) FROM updates WHERE finished_at IS NULL")
        activity = await connection.fetchrow(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
    finally:
        await connection.close()
    return {
        "saved_meals": int(saved),
        "photos_with_two_meals": int(doubled),
        "people_summed_up": int(summed_up),
        "updates_unfinished": int(pending),
        "commits": int(activity["xact_commit"]),
        "rows_written": int(activity["tup_inserted"] + activity["tup_updated"] + activity["tup_deleted"]),
    }


def phase_latencies(
    photos: list[Photo], t0: float, failures_from: float, failures_until: float
) -> dict[str, Any]:
    """p50/p99 photo → card of the photos answered before the first failure, the others sent before
    the failures ended, and those sent after (s after t0), and the slowest three of each: (photo, sent
    at s, latency s). A photo sent just before a kill but still in hand counts as during it."""
    phases: dict[str, list[tuple[float, Photo]]] = {"before": [], "during": [], "after": []}
    for photo in photos:
        if not photo.cards:
            continue
        sent = photo.sent_at - t0
        answered = photo.cards[0][1] - t0
        phase = "before" if answered < failures_from else "during" if sent < failures_until else "after"
        phases[phase].append((photo.cards[0][1] - photo.sent_at, photo))
    return {
        name: {
            "photos": len(values),
            "p50_s": percentile([v for v, _p in values], 0.5),
            "p99_s": percentile([v for v, _p in values], 0.99),
            "slowest": [
                (p.number, round(p.sent_at - t0, 1), round(v, 2))
                for v, p in sorted(values, key=lambda x: -x[0])[:3]
            ],
        }
        for name, values in phases.items()
    }


def backlog_cleared(photos: list[Photo], t0: float, failure_at: float, until: float) -> float | None:
    """Seconds from a failure until every photo it could touch had its card: those sent from `IN_FLIGHT_S`
    before it (in hand when it struck) until `until` (what failed serves again). None if one of them
    never got a card."""
    hit = [p for p in photos if failure_at - IN_FLIGHT_S <= p.sent_at - t0 < until]
    if any(not p.cards for p in hit):
        return None
    return round(max((p.cards[0][1] - t0 for p in hit), default=failure_at) - failure_at, 1)


def lost_save(tg: FakeTelegram, photo: Photo) -> dict[str, Any]:
    """What a card whose Save never showed as saved looks like now, and what its press was answered."""
    card = tg.message(photo.chat_id, photo.cards[0][0])
    queries = tg.world.callback_queries
    presses = [
        (queries[query_id].message_id, answer.get("text"))
        for query_id, answer in tg.callback_answers.items()
        if query_id in queries and queries[query_id].chat_id == photo.chat_id
    ]
    return {
        "chat": photo.chat_id,
        "photo": photo.number,
        "card": card.message_id,
        "edits": len(card.edit_seqs),
        "first_line": (card.text or "").split("\n", 1)[0][:60],
        "answers_in_chat": presses[-3:],
    }


def summaries_per_chat(tg: FakeTelegram, chats: list[int]) -> Counter[int]:
    """How many daily summaries (the messages starting 🌙) each chat got."""
    counts: Counter[int] = Counter({chat: 0 for chat in chats})
    for chat in chats:
        for message in tg.bot_messages(chat):
            if (message.text or "").startswith("🌙"):
                counts[chat] += 1
    return counts


async def watch_database(admin_url: str, database: str, log: Path, stop: asyncio.Event) -> None:
    """Every 2 s, note the run's PostgreSQL sessions that wait on a lock or sit in a transaction for more
    than 2 s (what a stuck process looks like from the server), with their query, into `log`."""
    connection = await asyncpg.connect(admin_url)
    try:
        with log.open("a") as out:
            while not stop.is_set():
                rows = await connection.fetch(
                    "SELECT pid, state, wait_event_type, wait_event, now() - xact_start AS age, "
                    "left(query, 160) AS query FROM pg_stat_activity WHERE datname = $1 "
                    "AND xact_start < now() - interval '2 seconds'",
                    database,
                )
                for row in rows:
                    out.write(f"{time.strftime('%H:%M:%S')} {dict(row)}\n")
                out.flush()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2.0)
    finally:
        await connection.close()


async def set_summaries_due(url: str, due: datetime) -> int:
    """Every person's summary due at `due` (the bench's setup: as if each had chosen that time)."""
    connection = await asyncpg.connect(url)
    try:
        result = await connection.execute(
            "UPDATE users SET summary_due_at = $1, summary_claimed_at = NULL, summaries_on = true", due
        )
    finally:
        await connection.close()
    return int(result.split()[-1])


async def start_people(tg: FakeTelegram, tracker: Tracker, count: int, timeout: float) -> list[FakeUser]:
    """Everyone sends /start and gets the welcome, before any photo."""
    people = [tracker.person(FIRST_ID + n, f"P{n}") for n in range(count)]
    for user in people:
        await user.send_text("/start")
    await tg.wait_for(lambda: all(tg.bot_messages(u.chat_id) for u in people) or None, timeout=timeout)
    await tracker.scan()  # the welcomes are no cards: the tracker starts past them
    return people


async def warm_up(tg: FakeTelegram, tracker: Tracker, images: list[bytes], count: int) -> float:
    """A host's cluster is warm: each process has met photos before (first batches, connections). One
    extra person sends `count` photos and gets their cards; they are left out of the figures."""
    started = time.monotonic()
    user = tracker.person(FIRST_ID - 1, "Warm-up")
    for n in range(count):
        await tracker.send(user, n + 1, images[-1 - n % len(images)])
    ours = [key for key in tracker.photos if key[0] == user.chat_id]

    async def answered() -> bool | None:
        await tracker.scan()
        return all(tracker.photos[key].cards for key in ours) or None

    while not await answered():
        await tg.world.wait_until(lambda: None, 0.25)
        if time.monotonic() - started > READY_TIMEOUT_S:
            raise RuntimeError("the warm-up photos got no cards")
    for key in ours:
        del tracker.photos[key]
    return time.monotonic() - started


async def failures(
    args: argparse.Namespace, cluster: Cluster, t0: float, session: aiohttp.ClientSession, events: list[str]
) -> None:
    """Kill replica 1 and worker 1, start each again after RestartSec=, cut the database once."""

    async def restart(service: Service, delay: float) -> None:
        await asyncio.sleep(delay)
        await service.start()
        await wait_serving(service, cluster, session)
        assert service.killed_at is not None
        service.back_after_s = round(time.monotonic() - service.killed_at, 1)
        events.append(f"{time.monotonic() - t0:.1f}s {service.name} serving again")

    async def at(second: float) -> None:
        await asyncio.sleep(max(0.0, t0 + second - time.monotonic()))

    restarts: list[asyncio.Task[None]] = []
    await at(args.kill_at)
    for service in (cluster.replicas[0], cluster.workers[0]):
        service.kill()
        events.append(f"{time.monotonic() - t0:.1f}s SIGKILL {service.name}")
        delay = args.restart_after if args.restart_after is not None else Unit.load(service.unit).restart_sec
        restarts.append(asyncio.create_task(restart(service, delay)))
    await at(args.cut_at)
    cut = await cut_database(args.postgres, args.database)
    events.append(f"{time.monotonic() - t0:.1f}s terminated {cut} PostgreSQL connections")
    if len(cluster.replicas) > 1:
        await at(args.restart_at)
        replica = cluster.replicas[1]
        events.append(f"{time.monotonic() - t0:.1f}s SIGTERM {replica.name} (restart)")
        stopping = time.monotonic()
        code = await replica.stop()
        events.append(f"{time.monotonic() - t0:.1f}s {replica.name} drained and exited with {code}")
        replica.drain_s = round(time.monotonic() - stopping, 1)
        replica.exit_code = code
        await replica.start()
        await wait_serving(replica, cluster, session)
        events.append(f"{time.monotonic() - t0:.1f}s {replica.name} serving again")
    await asyncio.gather(*restarts)


async def start_cluster(
    args: argparse.Namespace,
    env: dict[str, str],
    cluster: Cluster,
    session: aiohttp.ClientSession,
    nginx: str,
) -> None:
    """nginx, the workers and the replicas, each from its file; returns once all of them serve."""
    folder = cluster.folder
    cert, key = make_certificate(folder)
    replica_unit, worker_unit = Unit.load("foodbot-bot@.service"), Unit.load("foodbot-worker@.service")
    ports = []
    for n in range(1, args.replicas + 1):
        unit_env = replica_unit.env(str(n), env)
        ports.append(int(unit_env["WEBHOOK_LISTEN"].rpartition(":")[2]))
        service = Service(
            f"replica-{n}", replica_unit.commands(str(n), FOODBOT)[0], unit_env, folder / f"replica-{n}.log",
            folder, replica_unit.path.name,
        )  # fmt: skip
        cluster.ready_ports[service.name] = int(unit_env["READY_LISTEN"].rpartition(":")[2])
        cluster.replicas.append(service)
    for n in range(1, args.workers + 1):
        cluster.workers.append(
            Service(
                f"worker-{n}",
                worker_unit.commands(str(n), FOODBOT)[0],
                worker_unit.env(str(n), env),
                folder / f"worker-{n}.log",
                folder,
                worker_unit.path.name,
            )
        )
    site = folder / "site.conf"
    site.write_text(render_site(args.nginx_port, ports, cert, key))
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(folder, site, as_root=os.geteuid() == 0))
    check = subprocess.run([nginx, "-t", "-p", str(folder), "-c", str(conf)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"nginx refused the site: {check.stderr.strip()}")
    cluster.nginx = Service("nginx", [nginx, "-p", str(folder), "-c", str(conf)], dict(os.environ),
                            folder / "nginx.log", folder, "")  # fmt: skip
    await cluster.nginx.start()
    for service in cluster.workers + cluster.replicas:
        await service.start()
    for service in cluster.workers + cluster.replicas:
        await wait_serving(service, cluster, session)


def cluster_env(args: argparse.Namespace, tg: FakeTelegram) -> dict[str, str]:
    """deploy/foodbot.env with this run's database, Redis, Bot API server and data folder."""
    env = read_env_file(ENV_FILE)
    database_url = args.postgres.rsplit("/", 1)[0] + "/" + args.database
    env.update(
        TELEGRAM_BOT_TOKEN=tg.token,
        TELEGRAM_API_BASE_URL=tg.base_url,
        TELEGRAM_RATE_LIMIT=str(args.limit),
        DATABASE_URL=database_url.replace("postgresql://", "postgresql+asyncpg://", 1),
        QUEUE_URL=args.redis,
        QUEUE_PREFIX=args.prefix,
        DATA_DIR=str(args.data_dir.resolve()),
        DEVICE="cpu",
        RETRAIN_HOUR="",  # no nightly retrain in the middle of a measurement
        METRICS_PORT="",
    )
    return foodbot_env(args.data_dir.resolve(), **env)


async def send_photos(
    tracker: Tracker, people: list[FakeUser], images: list[bytes], args: argparse.Namespace, t0: float
) -> None:
    """Open loop: photo N goes at t0 + N / rate whatever the bot is doing, round robin over people.
    (The tracker's times are the event loop's clock, which is `time.monotonic`.)"""
    for n in range(args.photos):
        await asyncio.sleep(max(0.0, t0 + n / args.rate - time.monotonic()))
        await tracker.send(people[n % len(people)], n + 1, images[n % len(images)])


async def follow(tracker: Tracker, tg: FakeTelegram, sending: asyncio.Task[None], done: Any) -> str:
    """Scan the chats (pressing Save on each card) until `done()` or nothing new for DRAIN_S."""
    while True:
        await tracker.scan()
        if sending.done() and done():
            return "settled"
        if sending.done() and asyncio.get_running_loop().time() - tracker.last_progress > DRAIN_S:
            return f"no news for {DRAIN_S:.0f} s"
        await tg.world.wait_until(lambda: None, 0.25)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    nginx = find_nginx()
    images = fixture_photos(PHOTOS)
    args.database = f"foodbot_cluster_{secrets.token_hex(4)}"
    args.prefix = f"foodbot-cluster-{secrets.token_hex(4)}"
    args.nginx_port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="foodbot-cluster-"))
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{args.database}"')
    await admin.close()
    cluster = Cluster(folder)
    events: list[str] = []
    report: dict[str, Any] = {"folder": str(folder)}
    try:
        async with (
            FakeTelegram() as tg,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
        ):
            tg.rate_limit(overall_per_second=args.limit)
            tg.route(PUBLIC_ORIGIN, f"https://127.0.0.1:{args.nginx_port}")
            env = cluster_env(args, tg)
            _say(args, f"migration step (logs in {folder}) ...")
            report["migration_s"] = round(await run_migration(env, folder, folder / "migrate.log"), 1)
            started = time.monotonic()
            _say(args, f"starting nginx, {args.workers} workers, {args.replicas} replicas ...")
            await start_cluster(args, env, cluster, session, nginx)
            report["cluster_start_s"] = round(time.monotonic() - started, 1)
            report["set_webhook_calls"] = len(tg.calls_to("setWebhook"))
            tracker = Tracker(tg, press_save=True)
            _say(args, f"{args.people} people send /start ...")
            people = await start_people(tg, tracker, args.people, timeout=120)
            if args.warmup:
                report["warmup_s"] = round(await warm_up(tg, tracker, images, args.warmup), 1)
            t0 = time.monotonic()
            due = datetime.now(UTC) + timedelta(seconds=args.summaries_at)
            report["summaries_set_due"] = await set_summaries_due(
                env["DATABASE_URL"].replace("+asyncpg", ""), due
            )
            _say(
                args,
                f"{args.photos} photos at {args.rate}/s; failures at {args.kill_at} s, {args.cut_at} s ...",
            )
            calls_before = Counter(tg.stats.requests)
            redis_before = await redis_commands(args.redis)
            watch_stop = asyncio.Event()
            watching = asyncio.create_task(
                watch_database(args.postgres, args.database, folder / "pg-activity.log", watch_stop)
            )
            sending = asyncio.create_task(send_photos(tracker, people, images, args, t0))
            failing = asyncio.create_task(failures(args, cluster, t0, session, events))
            chats = [u.chat_id for u in people]

            def done() -> bool:
                summaries = summaries_per_chat(tg, chats)
                return (
                    failing.done()
                    and tracker.settled(quiet=False)
                    and all(n >= 1 for n in summaries.values())
                )

            ended = await follow(tracker, tg, sending, done)
            failing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await failing
            sending.result()
            watch_stop.set()
            await watching
            photos = list(tracker.photos.values())
            # Busy until the last card, edit or summary came (not the quiet wait that may follow).
            busy = tracker.last_progress - t0
            killed = [s.back_after_s for s in cluster.replicas + cluster.workers if s.killed_at]
            back_s = max((b for b in killed if b is not None), default=0.0)
            report.update(figures(args, tg, tracker, photos, chats, t0, calls_before, busy, back_s))
            if args.keep:  # each photo's story, to read beside the processes' logs
                (folder / "photos.json").write_text(
                    json.dumps(
                        [
                            {
                                "chat": p.chat_id,
                                "photo": p.number,
                                "sent_s": round(p.sent_at - t0, 3),
                                "cards_s": [round(at - t0, 3) for _id, at in p.cards],
                                "saved_s": None if p.saved_at is None else round(p.saved_at - t0, 3),
                            }
                            for p in photos
                        ]
                    )
                )
            report["ended"] = ended
            report["events"] = events
            report["restart_drain"] = {
                s.name: {"drain_s": s.drain_s, "exit_code": s.exit_code}
                for s in cluster.replicas
                if s.drain_s is not None
            }
            report["restored_s"] = {
                s.name: s.back_after_s for s in cluster.replicas + cluster.workers if s.killed_at
            }
            report["cpu_s"] = {s.name: s.cpu_seconds() for s in cluster.replicas + cluster.workers}
            report["cpu_s"]["this_process"] = round(sum(os.times()[:2]), 2)
            report["redis_commands"] = await redis_commands(args.redis) - redis_before
            report["stop_codes"] = await cluster.stop()
            report["database"] = await database_figures(env["DATABASE_URL"].replace("+asyncpg", ""))
            report["max_webhook_connections_in_flight"] = tg.webhook_sender.max_in_flight
    finally:
        await cluster.stop()
        await _clean(args)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return report


def figures(
    args: argparse.Namespace,
    tg: FakeTelegram,
    tracker: Tracker,
    photos: list[Photo],
    chats: list[int],
    t0: float,
    calls_before: Counter[str],
    seconds: float,
    back_s: float,
) -> dict[str, Any]:
    """What the run shows (see the module docstring)."""
    failures_from = args.kill_at
    failures_until = max(args.kill_at + (args.restart_after or 10.0), args.cut_at, args.restart_at) + SETTLE_S
    latency = phase_latencies(photos, t0, failures_from, failures_until)
    before_p99 = latency["before"]["p99_s"] or 1.0
    summaries = summaries_per_chat(tg, chats)
    calls = Counter(tg.stats.requests)
    calls.subtract(calls_before)
    messages = sum(
        calls[m] for m in ("sendMessage", "editMessageText", "editMessageReplyMarkup", "sendPhoto")
    )
    with_save = [p for p in photos if p.cards and not p.no_food]
    return {
        "photos_sent": len(photos),
        "answered": sum(1 for p in photos if p.cards),
        "lost": sum(1 for p in photos if not p.cards),
        "doubled": sum(1 for p in photos if len(p.cards) > 1) + tracker.unmatched_cards,
        "doubled_photos": [
            {"chat": p.chat_id, "photo": p.number, "cards": [m for m, _t in p.cards]}
            for p in photos
            if len(p.cards) > 1
        ][:10],
        "cards_matching_no_photo": tracker.unmatched_cards,
        "saves_pressed": tracker.saves_pressed,
        "saves_lost": sum(1 for p in with_save if p.saved_at is None),
        "saves_lost_detail": [lost_save(tg, p) for p in with_save if p.saved_at is None][:10],
        "summaries_once": sum(1 for n in summaries.values() if n == 1),
        "summaries_missing": sum(1 for n in summaries.values() if n == 0),
        "summaries_doubled": sum(1 for n in summaries.values() if n > 1),
        "latency": latency,
        "p99_during_over_before": (
            round(latency["during"]["p99_s"] / before_p99, 2) if latency["during"]["p99_s"] else None
        ),
        "recovered_s": {
            "kill": backlog_cleared(photos, t0, args.kill_at, args.kill_at + back_s),
            "database_cut": backlog_cleared(photos, t0, args.cut_at, args.cut_at + IN_FLIGHT_S),
        },
        "busy_s": round(seconds, 1),
        "messages_per_s": round(messages / seconds, 2),
        "fraction_of_limit": round(messages / seconds / args.limit, 3),
        "429s": tg.stats.served_429,
        "429_methods": dict(Counter(method for method, _p, text in tg.errors if "Too Many" in text)),
        "webhook_posts_failed": sum(1 for _id, status in tg.webhook_deliveries if status != 200),
    }


async def redis_commands(url: str) -> int:
    """Commands the Redis server has processed so far (all clients: on this machine, the run's)."""
    redis = Redis.from_url(url)
    try:
        return int((await redis.info("stats"))["total_commands_processed"])
    finally:
        await redis.aclose()


async def _clean(args: argparse.Namespace) -> None:
    """Drop the run's database and its Redis keys."""
    with contextlib.suppress(Exception):
        admin = await asyncpg.connect(args.postgres)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        finally:
            await admin.close()
    with contextlib.suppress(Exception):
        redis = Redis.from_url(args.redis)
        try:
            keys = [key async for key in redis.scan_iter(match=f"{args.prefix}:*", count=1000)]
            if keys:
                await redis.delete(*keys)
        finally:
            await redis.aclose()


def failed(report: dict[str, Any]) -> bool:
    return bool(
        report.get("lost") or report.get("doubled") or report.get("saves_lost")
        or report.get("summaries_missing") or report.get("summaries_doubled") or report.get("429s")
        or report.get("database", {}).get("photos_with_two_meals")
        or any(drain["exit_code"] != 0 for drain in report.get("restart_drain", {}).values())
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # A killed replica's requests to the loopback server break off mid-body; aiohttp logs each one.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    report = asyncio.run(run(args))
    print(json.dumps(report, indent=None if args.json else 2))
    return 1 if failed(report) else 0


if __name__ == "__main__":
    sys.exit(main())
