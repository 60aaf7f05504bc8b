"""One summary scheduler in its own process, as a `foodbot run` replica runs it (for the multi-process test).

    python -m tests.bot.summary_process DATABASE_URL API_ROOT TOKEN NOW_ISO [RATE] [BATCH]

It connects (the bot through PTB's rate limiter, the meal log on the database), prints "ready", waits
for a line on stdin (so that all processes start at once), runs the minute tick at NOW until nothing
is due, and prints its report as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Any

from telegram.ext import ExtBot

from bot.schedule import SummaryScheduler, TickReport
from bot.telegram_io import message_budget
from meallog.db.engine import make_engine, make_sessionmaker
from meallog.nutrition import default_table
from meallog.store.summaries import SummaryStore


async def main(url: str, root: str, token: str, now: datetime, rate: float, batch: int) -> TickReport:
    engine = make_engine(url)
    bot: ExtBot[Any] = ExtBot(
        token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot", rate_limiter=message_budget(rate)
    )
    try:
        async with bot:
            scheduler = SummaryScheduler(
                bot, SummaryStore(make_sessionmaker(engine), default_table()), batch=batch
            )
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            return await scheduler.tick(now)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    args = sys.argv[1:]
    report = asyncio.run(
        main(
            args[0],
            args[1],
            args[2],
            datetime.fromisoformat(args[3]),
            float(args[4]) if len(args) > 4 else 1000.0,
            int(args[5]) if len(args) > 5 else 50,
        )
    )
    print(json.dumps(asdict(report)), flush=True)
