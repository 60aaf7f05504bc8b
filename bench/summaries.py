"""Benchmark: 10,000 daily summaries due at once, sent through Telegram's rate limit.

    .venv/bin/python bench/summaries.py [--people 10000] [--rate 500] [--database URL]

The loopback Bot API server (tests/telegram_fake) runs in its own process with its overall limit raised
to `--rate` messages a second (429 with retry_after beyond it, like Telegram) and 1 a second per chat.
This process runs the bot's SummaryScheduler exactly as a `foodbot run` replica does: PTB's bot with the
bot's rate limiter set to the same limit, the meal log on a real database (a fresh SQLite file unless
`--database` names an empty PostgreSQL one). Every person is due at the same minute; a twentieth of
them logged two meals that day, the rest get the nudge.

Prints one JSON object: sent/s over the whole run (first claim to last outcome written), sent/s as a
fraction of the limit (goal ≥ 0.95), the 429s the server answered, duplicates (chats with more than
one summary) and lost ones (people with none); goal 0 and 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/telegram_fake is not an installed package

FIRST_ID = 10_000_001


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=500.0, help="overall messages per second")
    parser.add_argument("--database", default="", help="an empty database URL (default: a temporary SQLite)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


async def serve(people: int, rate: float) -> None:
    """The loopback server's process: prints its URL, then on a line from stdin prints what it saw."""
    from tests.telegram_fake import FakeTelegram

    async with FakeTelegram() as tg:
        for user_id in range(FIRST_ID, FIRST_ID + people):
            tg.user(user_id)
        tg.rate_limit(per_chat_per_second=1, overall_per_second=rate)
        print(tg.base_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        per_chat = [len(tg.bot_messages(user_id)) for user_id in range(FIRST_ID, FIRST_ID + people)]
        print(
            json.dumps(
                {
                    "delivered": sum(per_chat),
                    "duplicates": sum(1 for n in per_chat if n > 1),
                    "lost": sum(1 for n in per_chat if n == 0),
                    "429s": tg.stats.rate_limited_429 + tg.stats.injected_429,
                    "send_calls": tg.stats.requests["sendMessage"],
                }
            ),
            flush=True,
        )


async def _fill(url: str, people: int, now: datetime) -> None:
    """Everyone due now, in Oslo; every 20th person ate twice today."""
    from sqlalchemy import insert

    from meallog.db.engine import make_engine
    from meallog.db.models import Meal, MealItem, User
    from meallog.local_time import local_date_of

    engine = make_engine(url)
    due = now - timedelta(seconds=5)
    try:
        async with engine.begin() as connection:
            users = [
                {
                    "id": user_id,
                    "chat_id": user_id,
                    "timezone": "Europe/Oslo",
                    "settings": {},
                    "goals": {"kcal": 2000, "protein_g": 100, "fat_g": 70, "carbs_g": 250},
                    "summary_due_at": due,
                    "created_at": now,
                    "updated_at": now,
                }
                for user_id in range(FIRST_ID, FIRST_ID + people)
            ]
            for start in range(0, len(users), 2000):
                await connection.execute(insert(User), users[start : start + 2000])
            eaters = range(FIRST_ID, FIRST_ID + people, 20)
            meals = [
                {
                    "user_id": user_id,
                    "status": "saved",
                    "eaten_at": now - timedelta(hours=hours),
                    "local_date": local_date_of(now - timedelta(hours=hours), "Europe/Oslo"),
                    "created_at": now,
                    "updated_at": now,
                    "saved_at": now,
                    "caption": caption,
                }
                for user_id in eaters
                for hours, caption in ((10, "Breakfast"), (6, None))
            ]
            ids = (await connection.execute(insert(Meal).returning(Meal.id), meals)).scalars().all()
            items = [
                {
                    "meal_id": meal_id,
                    "position": position,
                    "food_key": key,
                    "grams": grams,
                    "kcal": kcal,
                    "protein_g": kcal * 0.05,
                    "fat_g": kcal * 0.03,
                    "carbs_g": kcal * 0.12,
                    "source": "typed",
                }
                for meal_id in ids
                for position, (key, grams, kcal) in enumerate((("egg", 100, 143.0), ("banana", 120, 107.0)))
            ]
            await connection.execute(insert(MealItem), items)
    finally:
        await engine.dispose()


async def run(people: int, rate: float, url: str) -> dict[str, Any]:
    from telegram.ext import ExtBot

    from bot.schedule import SummaryScheduler
    from bot.telegram_io import message_budget
    from meallog.db.engine import make_engine, make_sessionmaker
    from meallog.migrate import upgrade_database
    from meallog.nutrition import default_table
    from meallog.store.summaries import SummaryStore

    upgrade_database(url)
    now = datetime(2026, 6, 1, 19, 0, 10, tzinfo=UTC)  # 21:00:10 in Oslo
    await _fill(url, people, now)

    server = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        "--people",
        str(people),
        "--rate",
        str(rate),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert server.stdin is not None and server.stdout is not None
    root = (await asyncio.wait_for(server.stdout.readline(), timeout=120)).decode().strip()

    engine = make_engine(url)
    bot: ExtBot[Any] = ExtBot(
        "123456:TEST-TOKEN",
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        rate_limiter=message_budget(rate),
    )
    try:
        async with bot:
            scheduler = SummaryScheduler(bot, SummaryStore(make_sessionmaker(engine), default_table()))
            cpu = time.process_time()
            started = time.perf_counter()
            report = await scheduler.tick(now)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
    finally:
        await engine.dispose()
    server.stdin.write(b"report\n")
    await server.stdin.drain()
    seen = json.loads((await asyncio.wait_for(server.stdout.readline(), timeout=120)).decode())
    await server.wait()
    sent_per_s = seen["delivered"] / seconds
    return {
        "people": people,
        "limit_per_s": rate,
        "seconds": round(seconds, 2),
        "sent": report.sent,
        "sent_per_s": round(sent_per_s, 1),
        "fraction_of_limit": round(sent_per_s / rate, 3),
        "429s_seen": seen["429s"],
        "retries": report.retries,
        "duplicates": seen["duplicates"],
        "lost": seen["lost"],
        "send_calls": seen["send_calls"],
        "bot_cpu_ms_per_summary": round(cpu * 1000 / max(1, report.sent), 2),
        "database": url.split(":", 1)[0],
    }


def main() -> int:
    args = _arguments()
    if args.serve:
        asyncio.run(serve(args.people, args.rate))
        return 0
    with tempfile.TemporaryDirectory(prefix="foodbot-bench-") as folder:
        url = args.database or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        result = asyncio.run(run(args.people, args.rate, url))
    print(json.dumps(result))
    ok = result["fraction_of_limit"] >= 0.95 and result["duplicates"] == 0 and result["lost"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
