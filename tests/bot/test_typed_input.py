"""Typed numbers the bot cannot use are refused with what would do, on the real bot: never a crash, never a
silent default (a quick entry, the grams prompt, /goal and its body prompt, a meal's typed day and time)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from meallog.prompts import Prompt, PromptKind
from meallog.summary_times import WhenError, parse_when
from tests.bot.conftest import StartBot, ask_body, ask_meal_time, control_clock, press, services_of
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser

NOON = datetime(2026, 5, 7, 12, tzinfo=UTC)
HUGE = "1" + "0" * 400  # too long for a float
ASK_GRAMS_AGAIN = "Please type the grams as a number between 1 and 5000, like 150."


async def _replies(tg: FakeTelegram, user: FakeUser, *texts: str) -> list[str]:
    """Send each text and collect the bot's one reply to it."""
    replies = []
    for text in texts:
        await user.send_text(text)
        replies.append((await tg.next_bot_message(user.chat_id)).text or "")
    return replies


async def test_a_quick_entry_with_no_usable_amount_is_refused_and_logs_nothing(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    replies = await _replies(tg, ann, "1e309 g rice", "NaN g rice", "inf g", "1/0 rice", "1e5 g rice")
    assert replies == [
        f"I can't use “{typed}” as an amount: type grams between 1 and 5000, like 150 g rice."
        for typed in ("1e309", "nan", "inf", "1/0", "1e5")
    ]
    (negative, too_long, milligrams) = await _replies(tg, ann, "-100 g rice", f"{HUGE} g rice", "500 mg rice")
    assert negative == "The amount has to be more than zero — type grams between 1 and 5000, like 150 g rice."
    assert milligrams.startswith("Milligrams are too small")
    assert f"“{HUGE[:39]}…”" in too_long and len(too_long) < 120, "the echo is clipped"
    assert await services_of(app).account.all_meals(1001) == [], "no default portion was logged"


async def _grams_prompt(tg: FakeTelegram, ann: FakeUser) -> FakeMessage:
    await ann.send_text("100 g rice")
    card = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    await press(tg, ann, options, "grams")
    await tg.wait_for_edit(card)
    return card


async def test_the_grams_prompt_asks_again_for_numbers_that_are_none(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await _grams_prompt(tg, ann)
    bad = ["nan", "inf", "1e309", "-100", f"{HUGE}/1", HUGE]
    assert await _replies(tg, ann, *bad) == [ASK_GRAMS_AGAIN] * len(bad)
    (meal,) = await services_of(app).account.all_meals(1001)
    assert meal.items[0].grams == 100, "unchanged"
    (card,) = await _replies(tg, ann, "150")
    assert "150 g" in card, "the prompt still waits for grams"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("-2000 kcal", "kcal must be between 800 and 6000, not -2000."),
        ("2000 kcal, −50 fat", "fat must be between 0 and 1000 g, not -50."),
        ("0", "kcal must be between 800 and 6000, not 0."),
        ("nan kcal", "kcal must be 800 to 6000, and protein, fat and carbs 0 to 1000 g."),
        ("1e309 kcal", "kcal must be 800 to 6000, and protein, fat and carbs 0 to 1000 g."),
    ],
)
async def test_goal_targets_that_make_no_sense_are_refused_with_the_range(
    tg: FakeTelegram, start_bot: StartBot, typed: str, says: str
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    (refusal,) = await _replies(tg, ann, f"/goal {typed}")
    assert says in refusal
    (prompt,) = await _replies(tg, ann, "/goal")
    assert "No daily goals yet" in prompt
    (refusal,) = await _replies(tg, ann, typed)
    assert says in refusal, "typed under the /goal prompt too"
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.goals == {}


async def test_a_body_that_makes_no_sense_is_refused_with_the_range(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ask_body(tg, ann, "Female")
    replies = await _replies(tg, ann, "-34 180 75", "34 180 −75", "nan 180 75", f"{HUGE} 180 75")
    assert replies[0].startswith("age must be between 14 and 100 years, not -34. Type your age")
    assert replies[1].startswith("weight must be between 35 and 250 kg, not -75.")
    for reply in replies[2:]:
        assert reply.startswith("Those aren't numbers I can use: age must be 14 to 100 years, height 120")
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.pending is not None, "still asking"
    assert replace(person.pending, asked_at=None) == Prompt(PromptKind.GOAL_BODY, sex="f")
    (activity,) = await _replies(tg, ann, "34 170 60")
    assert "How active" in activity


@pytest.mark.parametrize(
    ("zone", "typed"),
    [("Europe/Oslo", "1000-01-01 12:00"), ("Asia/Tokyo", "0001-01-01 00:00"), ("UTC", "2025-05-05 23:59")],
)
async def test_a_meal_time_further_back_than_history_is_refused(
    tg: FakeTelegram, start_bot: StartBot, zone: str, typed: str
) -> None:
    app = await start_bot()
    control_clock(app, NOON)
    ann = tg.user(1001, "Ann")
    await services_of(app).people.ensure_user(1001, 1001)
    await services_of(app).people.set_timezone(1001, zone)
    await ask_meal_time(tg, ann)
    (refusal,) = await _replies(tg, ann, typed)
    assert refusal.startswith("That's too long ago — I keep meals of the last 366 days. 🕒 Type when")
    (meal,) = await services_of(app).account.all_meals(1001)
    assert meal.eaten_at.year == 2026, "not moved"
    (card_text,) = await _replies(tg, ann, "2025-05-06 12:00")  # 366 days back: as far as /history goes
    assert "Egg" in card_text
    (meal,) = await services_of(app).account.all_meals(1001)
    assert meal.eaten_at.date().year == 2025


def test_parse_when_refuses_days_beyond_reach_and_never_overflows() -> None:
    now = datetime(2026, 5, 7, 12, tzinfo=UTC)
    with pytest.raises(WhenError, match="last 366 days"):
        parse_when("1000-01-01 12:00", now, "UTC", now, max_days_back=366)
    with pytest.raises(WhenError):
        parse_when("0001-01-01 00:00", now, "Asia/Tokyo", now, max_days_back=366)
    assert parse_when("2025-05-06 12:00", now, "UTC", now, max_days_back=366) == datetime(
        2025, 5, 6, 12, tzinfo=UTC
    )
    # Without a limit, a moment before year 1 in UTC is no moment at all, not a crash.
    assert parse_when("0001-01-01 00:00", now, "Asia/Tokyo", now) is None
    assert parse_when("9999-12-31 23:59", now, "America/New_York", now, max_days_back=366) is None
