"""Daily summaries on the real Application, its real minute job run by the test with a controlled clock.

The bot talks to the loopback Bot API server over HTTP and keeps everything in a real SQLite database;
no test sleeps to wait for a time of day: the clock is set, then the JobQueue's job is run once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.schedule import JOB_NAME, summary_tick
from meallog.store.views import NewItem
from tests.bot.conftest import (
    App,
    FakeClock,
    StartBot,
    control_clock,
    run_summary_tick,
    services_of,
    stop_bot,
)
from tests.telegram_fake import FakeMessage, FakeTelegram

OSLO = ZoneInfo("Europe/Oslo")


def oslo(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """An Oslo wall time as an aware UTC instant."""
    return datetime(year, month, day, hour, minute, second, tzinfo=OSLO).astimezone(UTC)


async def meet(app: App, user_id: int, tz: str = "Europe/Oslo") -> None:
    """The person has talked to the bot and set their zone."""
    svc = services_of(app)
    await svc.people.ensure_user(user_id, user_id)
    await svc.people.set_timezone(user_id, tz)


async def log_meal(
    app: App, user_id: int, at: datetime, *items: tuple[str, float], caption: str = ""
) -> None:
    svc = services_of(app)
    draft = await svc.meals.start_draft(
        user_id, eaten_at=at, caption=caption or None, items=[NewItem(k, g, "typed") for k, g in items]
    )
    assert await svc.meals.save_meal(draft.id, user_id) is not None


async def until_unblocked(app: App, user_id: int) -> None:
    """Wait (briefly) for the handler that runs after the reply to note that the person wrote."""
    for _ in range(100):
        person = await services_of(app).people.get_user(user_id)
        if person is not None and person.blocked_at is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"user {user_id} is still marked as blocked")


def summaries(tg: FakeTelegram, chat_id: int) -> list[FakeMessage]:
    return [m for m in tg.bot_messages(chat_id) if (m.text or "").startswith("🌙")]


async def test_the_summary_arrives_at_21_oslo_and_not_before(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    clock = control_clock(app, oslo(2026, 5, 5, 8))
    tg.user(1001, "Ann")
    await meet(app, 1001)
    await services_of(app).people.set_goals(
        1001, {"kcal": 2000, "protein_g": 120, "fat_g": 70, "carbs_g": 230}
    )
    await log_meal(app, 1001, oslo(2026, 5, 5, 8, 10), ("egg", 100), ("banana", 120), caption="Breakfast")
    await log_meal(app, 1001, oslo(2026, 5, 5, 12, 30), ("pizza", 300))
    await log_meal(app, 1001, oslo(2026, 5, 4, 19, 0), ("rice", 500))  # yesterday: not in today's sum

    for at in (oslo(2026, 5, 5, 8), oslo(2026, 5, 5, 20, 30), oslo(2026, 5, 5, 20, 59, 59)):
        await run_summary_tick(app, clock, at)
    assert summaries(tg, 1001) == []

    await run_summary_tick(app, clock, oslo(2026, 5, 5, 21, 0, 1))
    (summary,) = summaries(tg, 1001)
    text = summary.text or ""
    assert "Tuesday, 5 May" in text
    assert "Breakfast" in text and "08:10" in text and "Egg" in text and "Pizza" in text and "12:30" in text
    assert "Rice" not in text
    assert "▰" in text and "/2000" in text, "progress against the goals"
    assert "Largest:" in text and text.index("Pizza", text.index("Largest:")) > 0
    for at in (oslo(2026, 5, 5, 21, 1), oslo(2026, 5, 5, 22), oslo(2026, 5, 5, 23, 59)):
        await run_summary_tick(app, clock, at)
    assert len(summaries(tg, 1001)) == 1, "never twice"
    assert (await services_of(app).people.get_user(1001)).summary_last_date == date(2026, 5, 5)  # type: ignore[union-attr]


async def test_a_summary_at_0030_sums_up_the_evening_that_just_ended(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    clock = control_clock(app, oslo(2026, 5, 5, 8))
    tg.user(1001, "Ann")
    await meet(app, 1001)
    await services_of(app).people.set_summary(1001, oslo(2026, 5, 5, 8), minute=30)
    await log_meal(app, 1001, oslo(2026, 5, 5, 12, 30), ("pizza", 300))
    await log_meal(app, 1001, oslo(2026, 5, 5, 23, 40), ("banana", 120), caption="Late snack")

    for at in (oslo(2026, 5, 5, 21), oslo(2026, 5, 5, 23, 59), oslo(2026, 5, 6, 0, 29)):
        await run_summary_tick(app, clock, at)
    assert summaries(tg, 1001) == []
    await log_meal(app, 1001, oslo(2026, 5, 6, 0, 15), ("egg", 100))  # after midnight: tomorrow's

    await run_summary_tick(app, clock, oslo(2026, 5, 6, 0, 30, 5))
    (summary,) = summaries(tg, 1001)
    text = summary.text or ""
    assert "Tuesday, 5 May" in text and "Pizza" in text and "Late snack" in text
    assert "Egg" not in text
    for at in (oslo(2026, 5, 6, 1), oslo(2026, 5, 6, 21), oslo(2026, 5, 7, 0, 29)):
        await run_summary_tick(app, clock, at)
    assert len(summaries(tg, 1001)) == 1
    await run_summary_tick(app, clock, oslo(2026, 5, 7, 0, 31))
    assert "Wednesday, 6 May" in (summaries(tg, 1001)[-1].text or "") and "Egg" in (
        summaries(tg, 1001)[-1].text or ""
    )


async def _tick_through(
    app: App, clock: FakeClock, tg: FakeTelegram, start: datetime, end: datetime
) -> dict[int, list[datetime]]:
    """Tick every 30 minutes; when each person's summaries arrived (by the clock), per chat."""
    arrived: dict[int, list[datetime]] = {}
    seen = {chat_id: len(summaries(tg, chat_id)) for chat_id in (1001, 1002)}
    at = start
    while at <= end:
        await run_summary_tick(app, clock, at)
        for chat_id in (1001, 1002):
            count = len(summaries(tg, chat_id))
            arrived.setdefault(chat_id, []).extend([at] * (count - seen[chat_id]))
            seen[chat_id] = count
        at += timedelta(minutes=30)
    return arrived


SPRING = datetime(2026, 3, 27, 12, tzinfo=UTC)  # Oslo springs forward on Sunday 29 March, 02:00 → 03:00
AUTUMN = datetime(2026, 10, 23, 12, tzinfo=UTC)  # and falls back on Sunday 25 October, 03:00 → 02:00


@pytest.mark.parametrize(
    ("start", "at_2130"),
    [
        # 02:30 does not exist on 29 March: due as far after the gap began, 03:30, still that day.
        (SPRING, [(28, 2, 30), (29, 3, 30), (30, 2, 30), (31, 2, 30)]),
        # 02:30 happens twice on 25 October: the summary goes at the first, once.
        (AUTUMN, [(24, 2, 30), (25, 2, 30), (26, 2, 30), (27, 2, 30)]),
    ],
    ids=["spring", "autumn"],
)
async def test_dst_changes_neither_skip_nor_double_a_day(
    tg: FakeTelegram, start_bot: StartBot, start: datetime, at_2130: list[tuple[int, int, int]]
) -> None:
    app = await start_bot()
    clock = control_clock(app, start)
    tg.user(1001, "Ann")
    tg.user(1002, "Bob")
    await meet(app, 1001)
    await meet(app, 1002)
    await services_of(app).people.set_summary(1002, start, minute=2 * 60 + 30)

    arrived = await _tick_through(app, clock, tg, start, start + timedelta(days=4))
    ann = [t.astimezone(OSLO) for t in arrived[1001]]
    assert [(t.hour, t.minute) for t in ann] == [(21, 0)] * 4
    assert [t.date() for t in ann] == [start.date() + timedelta(days=n) for n in range(4)]
    bob = [t.astimezone(OSLO) for t in arrived[1002]]
    assert [(t.day, t.hour, t.minute) for t in bob] == at_2130
    assert all(t.fold == 0 for t in bob)


async def test_after_a_restart_late_the_same_day_it_is_sent_the_next_day_it_is_not(
    tg: FakeTelegram, start_bot: StartBot, sqlite_url: str
) -> None:
    first = await start_bot()
    clock = control_clock(first, oslo(2026, 6, 1, 20))
    tg.user(1001, "Ann")
    await meet(first, 1001)
    await log_meal(first, 1001, oslo(2026, 6, 1, 13), ("apple", 150))
    await run_summary_tick(first, clock, oslo(2026, 6, 1, 20))
    await stop_bot(first)  # down over 21:00

    second = await start_bot(sqlite_url)
    clock = control_clock(second, oslo(2026, 6, 1, 22, 45))
    await run_summary_tick(second, clock, oslo(2026, 6, 1, 22, 45))
    (late,) = summaries(tg, 1001)
    assert late.text is not None and "Monday, 1 June" in late.text and "Apple" in late.text
    await stop_bot(second)  # down all of Tuesday evening

    third = await start_bot(sqlite_url)
    clock = control_clock(third, oslo(2026, 6, 3, 8))
    for at in (oslo(2026, 6, 3, 8), oslo(2026, 6, 3, 8, 1), oslo(2026, 6, 3, 20, 59)):
        await run_summary_tick(third, clock, at)
    assert len(summaries(tg, 1001)) == 1, "Tuesday's is not sent on Wednesday"
    await run_summary_tick(third, clock, oslo(2026, 6, 3, 21))
    assert [m.text.split("\n")[0] for m in summaries(tg, 1001)] == [  # type: ignore[union-attr]
        "🌙 Your day: Monday, 1 June",
        "🌙 Wednesday, 3 June",
    ]


async def test_two_bots_on_one_database_send_each_summary_once(
    tg: FakeTelegram, start_bot: StartBot, sqlite_url: str
) -> None:
    one = await start_bot()
    two = await start_bot(sqlite_url)
    at = oslo(2026, 6, 1, 21)
    clocks = [control_clock(one, at), control_clock(two, at)]
    for user_id in range(2001, 2041):
        tg.user(user_id)
        await meet(one, user_id)
    await run_summary_tick(one, clocks[0], oslo(2026, 6, 1, 12))  # plans everyone for 21:00
    for _ in range(2):
        await asyncio.gather(run_summary_tick(one, clocks[0], at), run_summary_tick(two, clocks[1], at))
    assert [len(summaries(tg, user_id)) for user_id in range(2001, 2041)] == [1] * 40


async def test_a_person_who_blocked_the_bot_is_skipped_until_they_write_again(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    clock = control_clock(app, oslo(2026, 6, 1, 12))
    ann = tg.user(1001, "Ann")
    await meet(app, 1001)
    await run_summary_tick(app, clock, oslo(2026, 6, 1, 12))
    ann.block()
    await run_summary_tick(app, clock, oslo(2026, 6, 1, 21))
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.blocked_at is not None
    assert len(tg.calls_to("sendMessage")) == 1 and tg.errors[-1][2].startswith("Forbidden")

    for at in (oslo(2026, 6, 2, 21), oslo(2026, 6, 3, 21)):
        await run_summary_tick(app, clock, at)
    assert len(tg.calls_to("sendMessage")) == 1, "not even tried while blocked"

    ann.unblock()
    await ann.send_text("/help")
    await tg.next_bot_message(1001)
    await until_unblocked(app, 1001)
    await run_summary_tick(app, clock, oslo(2026, 6, 4, 10))
    await run_summary_tick(app, clock, oslo(2026, 6, 4, 21))
    (summary,) = summaries(tg, 1001)
    assert summary.text is not None and "Thursday, 4 June" in summary.text


async def test_429s_are_retried_after_retry_after_and_the_summary_is_not_lost(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    clock = control_clock(app, oslo(2026, 6, 1, 12))
    tg.user(1001, "Ann")
    await meet(app, 1001)
    await run_summary_tick(app, clock, oslo(2026, 6, 1, 12))
    # More 429s in a row than PTB's rate limiter retries (3): the scheduler waits and retries itself.
    tg.fail_next("sendMessage", status=429, retry_after=1, count=4)
    await run_summary_tick(app, clock, oslo(2026, 6, 1, 21))
    assert tg.stats.injected_429 == 4
    assert len(summaries(tg, 1001)) == 1
    assert len(tg.calls_to("sendMessage")) == 5


async def test_sending_keeps_under_telegrams_limits(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()  # TELEGRAM_RATE_LIMIT: 30 a second, the default
    clock = control_clock(app, oslo(2026, 6, 1, 12))
    people = range(4001, 4061)
    for user_id in people:
        tg.user(user_id)
        await meet(app, user_id)
    await run_summary_tick(app, clock, oslo(2026, 6, 1, 12))
    tg.rate_limit(per_chat_per_second=1, overall_per_second=30)
    started = asyncio.get_running_loop().time()
    await run_summary_tick(app, clock, oslo(2026, 6, 1, 21))
    elapsed = asyncio.get_running_loop().time() - started
    assert [len(summaries(tg, user_id)) for user_id in people] == [1] * 60
    assert tg.stats.rate_limited_429 == 0, "never over 30 in any second"
    assert elapsed > 59 / 30, "paced, not a burst"


async def test_an_empty_day_gets_a_nudge_or_nothing_as_the_person_chose(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    clock = control_clock(app, oslo(2026, 6, 1, 12))
    for user_id in (1001, 1002):
        tg.user(user_id)
        await meet(app, user_id)
    await services_of(app).people.update_settings(1002, {"empty_day": "silent"})
    await run_summary_tick(app, clock, oslo(2026, 6, 1, 12))
    await run_summary_tick(app, clock, oslo(2026, 6, 1, 21))
    (nudge,) = summaries(tg, 1001)
    assert nudge.text is not None and "Nothing logged today" in nudge.text
    assert tg.bot_messages(1002) == []
    silent = await services_of(app).people.get_user(1002)
    assert silent is not None and silent.summary_last_date == date(2026, 6, 1), "the day counts as done"


async def test_the_minute_job_is_on_the_job_queue_on_the_minute(start_bot: StartBot) -> None:
    app = await start_bot()
    (job,) = app.job_queue.get_jobs_by_name(JOB_NAME)  # paused in tests (see conftest)
    assert job.callback is summary_tick
    assert job.trigger.interval == timedelta(minutes=1)
    start = job.trigger.start_date
    assert round(start.second + start.microsecond / 1e6) % 60 == 0, "ticks on the minute"
