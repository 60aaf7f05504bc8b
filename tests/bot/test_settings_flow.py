"""/settings and /goal on the real bot: buttons, typed answers, a shared location."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tests.bot.conftest import StartBot, ask_body, control_clock, press, run_summary_tick, services_of
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser

OSLO = ZoneInfo("Europe/Oslo")


def oslo(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, 1, hour, minute, tzinfo=OSLO).astimezone(UTC)


async def pick_summary_time(
    tg: FakeTelegram, person: FakeUser, view: FakeMessage, hour: str, time: str
) -> tuple[dict[str, object], FakeMessage]:
    """Summary time → the hour → the minutes, on the settings message; the toast and the new view."""
    await press(tg, person, view, "Summary time")
    hours = await tg.wait_for_edit(view)
    await press(tg, person, hours, hour)
    minutes = await tg.wait_for_edit(view)
    answer = await press(tg, person, minutes, time)
    return answer, await tg.wait_for_edit(view)


async def test_summary_time_and_on_off_take_effect(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    clock = control_clock(app, oslo(12))
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone Europe/Oslo")
    await tg.next_bot_message(1001)
    await ann.send_text("/settings")
    view = await tg.next_bot_message(1001)
    assert view.text is not None and "Europe/Oslo (it's 12:00 there)" in view.text
    assert "Daily summary: on, at 21:00" in view.text and "a short nudge" in view.text

    answer, view = await pick_summary_time(tg, ann, view, "18", "18:30")
    assert answer["text"] == "Daily summary at 18:30."
    assert view.text is not None and "on, at 18:30" in view.text

    await run_summary_tick(app, clock, oslo(18, 29))
    assert tg.bot_messages(1001)[-1] is view
    await run_summary_tick(app, clock, oslo(18, 30))
    assert (tg.bot_messages(1001)[-1].text or "").startswith("🌙")

    await press(tg, ann, view, "Turn summaries off")
    view = await tg.wait_for_edit(view)
    assert view.text is not None and "Daily summary: off" in view.text
    person = await services_of(app).people.get_user(1001)
    assert person is not None and not person.summaries_on
    count = len(tg.bot_messages(1001))
    await run_summary_tick(app, clock, datetime(2026, 6, 2, 18, 30, tzinfo=OSLO).astimezone(UTC))
    assert len(tg.bot_messages(1001)) == count, "off means off"

    await press(tg, ann, view, "Empty days: say nothing")
    view = await tg.wait_for_edit(view)
    assert view.text is not None and "nothing logged: nothing" in view.text
    await press(tg, ann, view, "Turn summaries on")
    view = await tg.wait_for_edit(view)
    assert view.text is not None and "on, at 18:30" in view.text


async def test_a_night_summary_time_says_it_is_for_the_day_before(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/settings")
    view = await tg.next_bot_message(1001)
    answer, view = await pick_summary_time(tg, ann, view, "00", "00:30")
    assert answer["text"] == "Daily summary at 00:30 (for the day before)."
    assert view.text is not None and "on, at 00:30 (for the day before)" in view.text


async def test_timezone_typed_or_from_a_shared_location(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/settings")
    view = await tg.next_bot_message(1001)
    await press(tg, ann, view, "Timezone")
    prompt = await tg.next_bot_message(1001)
    assert prompt.text is not None and "Type your timezone" in prompt.text
    assert ann.reply_keyboard == ["📍 Share my location", "Cancel"]

    await ann.send_text("Osloo")
    unknown = await tg.next_bot_message(1001)
    assert unknown.text is not None and "Europe/Oslo" in unknown.text, "a suggestion"
    await ann.send_text("Tokyo")
    done = await tg.next_bot_message(1001)
    assert done.text is not None and "Timezone set to Asia/Tokyo (Tokyo, Japan)." in done.text
    assert ann.reply_keyboard == [], "the location button goes once the zone is set"

    await ann.send_text("/timezone")  # no name: the same prompt, and this time one tap
    await tg.next_bot_message(1001)  # "Your timezone is Asia/Tokyo."
    await tg.next_bot_message(1001)
    await ann.tap_keyboard("📍 Share my location", latitude=59.91, longitude=10.75)  # Oslo
    located = await tg.next_bot_message(1001)
    assert located.text is not None and "Europe/Oslo from your location" in located.text
    assert (await services_of(app).people.get_user(1001)).timezone == "Europe/Oslo"  # type: ignore[union-attr]
    await ann.send_location(0.0, -160.0)  # the Pacific: Etc/GMT+11, still a zone
    sea = await tg.next_bot_message(1001)
    assert sea.text is not None and "Etc/GMT+11" in sea.text


async def test_cancel_under_the_timezone_prompt_changes_nothing(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone Europe/Oslo")
    await tg.next_bot_message(1001)
    await ann.send_text("/timezone")
    await tg.next_bot_message(1001)
    await tg.next_bot_message(1001)
    await ann.tap_keyboard("Cancel")
    reply = await tg.next_bot_message(1001)
    assert reply.text == "Okay, nothing changed."
    assert ann.reply_keyboard == []
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "Europe/Oslo" and person.pending is None
    await ann.send_text("Tokyo")  # no prompt any more: not taken as a timezone
    answer = await tg.next_bot_message(1001)
    assert "Timezone set" not in (answer.text or "")


async def test_a_meal_typed_while_a_prompt_waits_is_logged_as_a_meal(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/settings")
    view = await tg.next_bot_message(1001)
    await press(tg, ann, view, "Timezone")
    await tg.next_bot_message(1001)
    assert ann.reply_keyboard
    await ann.send_text("2 eggs")
    note = await tg.next_bot_message(1001)
    assert note.text is not None and "Timezone unchanged" in note.text
    assert ann.reply_keyboard == [], "no location button left under the card"
    card = await tg.next_bot_message(1001)
    assert card.text is not None and "Egg" in card.text and "Total" in card.text


async def test_goals_typed(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/goal 2000 120 70 230")
    saved = await tg.next_bot_message(1001)
    assert saved.text == "🎯 Goals saved: 2000 kcal · protein 120 g · fat 70 g · carbs 230 g"
    await ann.send_text("/goal")
    ask = await tg.next_bot_message(1001)
    assert ask.text is not None and "2000 kcal" in ask.text
    await ann.send_text("1800 kcal, 140 protein")
    saved = await tg.next_bot_message(1001)
    assert saved.text is not None and "1800 kcal · protein 140 g" in saved.text
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.goals["kcal"] == 1800 and person.pending is None


async def test_goals_computed_from_body_activity_and_aim(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    body = await ask_body(tg, ann, "Male")
    assert body.text is not None and "age, height" in body.text
    await ann.send_text("30 180")
    again = await tg.next_bot_message(1001)
    assert again.text is not None and "Three numbers" in again.text
    await ann.send_text("30 180 80")
    activity = await tg.next_bot_message(1001)
    await press(tg, ann, activity, "Moderate")
    aim = await tg.wait_for_edit(activity)
    await press(tg, ann, aim, "Keep")
    proposal = await tg.wait_for_edit(activity)
    assert proposal.text is not None
    assert "Resting energy (Mifflin-St Jeor): 1780 kcal" in proposal.text
    assert "× 1.55" in proposal.text and "2759 kcal" in proposal.text
    await press(tg, ann, proposal, "Use these")
    await tg.wait_for_edit(activity)
    person = await services_of(app).people.get_user(1001)
    assert person is not None
    assert person.goals == {"kcal": 2759.0, "protein_g": 96.0, "fat_g": 92.0, "carbs_g": 387.0}
    await ann.send_text("/settings")
    view = await tg.next_bot_message(1001)
    assert view.text is not None and "Goals: 2759 kcal" in view.text


async def test_any_summary_time_can_be_typed(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, oslo(12))
    ann = tg.user(1001, "Ann")
    await ann.send_text("/settings")
    view = await tg.next_bot_message(1001)
    await press(tg, ann, view, "Summary time")
    hours = await tg.wait_for_edit(view)
    await press(tg, ann, hours, "Type a time")
    asking = await tg.wait_for_edit(view)
    assert asking.text is not None and "Type the time" in asking.text
    await ann.send_text("soonish")
    again = await tg.next_bot_message(1001)
    assert again.text is not None and "didn't get that time" in again.text
    await ann.send_text("21:40")
    done = await tg.next_bot_message(1001)
    assert done.text == "🕘 Daily summary at 21:40."
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.summary_minute == 21 * 60 + 40 and person.pending is None


async def test_start_asks_where_the_day_starts_and_offers_goals(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/start")
    hello = await tg.next_bot_message(1001)
    assert hello.text is not None and hello.text.startswith("Hi Ann!")
    onboarding = await tg.next_bot_message(1001)
    assert onboarding.text is not None and "/goal" in onboarding.text
    ask = await tg.next_bot_message(1001)
    assert ask.text is not None and "Type your timezone" in ask.text
    assert any("Share my location" in text for text in ann.reply_keyboard), ann.reply_keyboard
    await ann.send_text("Oslo")
    set_zone = await tg.next_bot_message(1001)
    assert set_zone.text is not None and "Europe/Oslo" in set_zone.text
    await ann.send_text("/start")
    await tg.next_bot_message(1001)
    count = len(tg.bot_messages(1001))
    await ann.send_text("/help")
    await tg.next_bot_message(1001)
    assert len(tg.bot_messages(1001)) == count + 1, "once the zone is set, /start only greets"


async def test_est_is_taken_as_new_york_and_the_reply_says_so(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone EST")
    reply = await tg.next_bot_message(1001)
    assert reply.text is not None and "EST taken as America/New_York" in reply.text, reply.text
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "America/New_York"
