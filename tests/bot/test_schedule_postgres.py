"""Exactly once with several bot processes: two schedulers, two OS processes, one PostgreSQL database.

Each process is `tests/bot/summary_process.py`: the bot's own SummaryScheduler over PTB's rate-limited
bot and the summary store, as in a `foodbot run` replica. They start together on 500 people due in the same
minute; the loopback Bot API server counts what arrives in each chat.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from meallog.db.engine import make_engine, make_sessionmaker
from meallog.db.models import User
from meallog.migrate import upgrade_database
from meallog.nutrition import default_table
from meallog.store.meals import MealStore
from meallog.store.views import NewItem
from tests.telegram_fake import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 500
FIRST_ID = 3001


async def _start(url: str, tg: FakeTelegram, now: datetime) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bot.summary_process",
        url,
        tg.base_url,
        tg.token,
        now.isoformat(),
        "1000",
        "25",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    assert line.strip() == b"ready", line
    return process


async def test_two_processes_send_500_summaries_each_exactly_once(
    tg: FakeTelegram, postgres_database: str
) -> None:
    upgrade_database(postgres_database)
    now = datetime(2026, 6, 1, 19, 0, 20, tzinfo=UTC)  # 21:00:20 in Oslo
    engine = make_engine(postgres_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(User),
                [
                    {
                        "id": user_id,
                        "chat_id": user_id,
                        "timezone": "Europe/Oslo",
                        "settings": {},
                        "goals": {},
                        "summary_due_at": now - timedelta(seconds=20),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for user_id in range(FIRST_ID, FIRST_ID + PEOPLE)
                ],
            )
        meals = MealStore(make_sessionmaker(engine), default_table())
        for user_id in range(FIRST_ID, FIRST_ID + PEOPLE, 25):  # some have eaten, the rest get a nudge
            draft = await meals.start_draft(
                user_id, eaten_at=now - timedelta(hours=7), items=[NewItem("egg", 100)]
            )
            await meals.save_meal(draft.id, user_id)
    finally:
        await engine.dispose()
    for user_id in range(FIRST_ID, FIRST_ID + PEOPLE):
        tg.user(user_id)

    processes = [await _start(postgres_database, tg, now) for _ in range(2)]
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), timeout=120)
    assert [p.returncode for p in processes] == [0, 0]
    reports = [json.loads(stdout.decode().strip().splitlines()[-1]) for stdout, _ in outputs]

    per_chat = [len(tg.bot_messages(user_id)) for user_id in range(FIRST_ID, FIRST_ID + PEOPLE)]
    assert sum(per_chat) == PEOPLE and set(per_chat) == {1}, "each person exactly once"
    assert sum(report["sent"] for report in reports) == PEOPLE
    assert len(tg.calls_to("sendMessage")) == PEOPLE, "no send was even attempted twice"
    assert sum("Egg" in (m.text or "") for m in tg.bot_messages(FIRST_ID)) == 1
