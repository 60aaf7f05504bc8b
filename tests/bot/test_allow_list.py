"""`ALLOWED_USER_IDS` reaches the daily summaries too: someone met before the list was set gets none."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tests.bot.conftest import StartBot, control_clock, run_summary_tick, services_of, stop_bot
from tests.telegram_fake import FakeTelegram

OSLO = ZoneInfo("Europe/Oslo")


def oslo(day: int, hour: int) -> datetime:
    return datetime(2026, 6, day, hour, tzinfo=OSLO).astimezone(UTC)


async def test_people_off_the_allow_list_get_no_summary(
    tg: FakeTelegram, start_bot: StartBot, sqlite_url: str
) -> None:
    open_to_all = await start_bot()
    for user_id, name in ((1001, "Ann"), (1002, "Bob")):
        person = tg.user(user_id, name)
        await person.send_text("/start")
        await tg.next_bot_message(user_id)
        await services_of(open_to_all).people.set_timezone(user_id, "Europe/Oslo")
    await stop_bot(open_to_all)

    private = await start_bot(sqlite_url, allowed_user_ids=frozenset({1001}))
    clock = control_clock(private, oslo(1, 12))
    sent_before = len(tg.bot_messages(1002))
    for at in (oslo(1, 12), oslo(1, 21), oslo(2, 21)):
        await run_summary_tick(private, clock, at)
    ann_summaries = [m for m in tg.bot_messages(1001) if (m.text or "").startswith("🌙")]
    assert len(ann_summaries) == 2, "Ann, on the list, gets hers each day"
    assert len(tg.bot_messages(1002)) == sent_before, "Bob, met before the list was set, gets nothing"
    bob = await services_of(private).people.get_user(1002)
    assert bob is not None and bob.summary_last_date == date(2026, 6, 2), "his days are settled, not owed"
