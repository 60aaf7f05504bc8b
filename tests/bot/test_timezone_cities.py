"""Typing a city (or a country) for the timezone, on the real bot: set at once, or asked with buttons."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.callbacks import Action, encode_person
from tests.bot.conftest import StartBot, control_clock, press, services_of
from tests.telegram_fake import FakeTelegram

NOON_UTC = datetime(2026, 6, 1, 12, tzinfo=UTC)


async def test_timezone_command_takes_a_city(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, NOON_UTC)
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone Munich")
    reply = await tg.next_bot_message(1001)
    assert reply.text is not None
    assert "🌍 Timezone set to Europe/Berlin (Munich, Germany). It's 14:00 there" in reply.text
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "Europe/Berlin"

    await ann.send_text("/timezone München")
    assert "Europe/Berlin (Munich, Germany)" in ((await tg.next_bot_message(1001)).text or "")


async def test_onboarding_accepts_a_city(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, NOON_UTC)
    ann = tg.user(1001, "Ann")
    await ann.send_text("/start")
    await tg.next_bot_message(1001)  # hello
    await tg.next_bot_message(1001)  # onboarding
    ask = await tg.next_bot_message(1001)
    assert ask.text is not None and "Type your timezone" in ask.text and "San Francisco" in ask.text
    await ann.send_text("san francisco")
    done = await tg.next_bot_message(1001)
    assert done.text is not None
    assert "Timezone set to America/Los_Angeles (San Francisco, United States). It's 05:00 there" in done.text
    assert ann.reply_keyboard == [], "the location button goes once the zone is set"
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "America/Los_Angeles" and person.pending is None


async def test_same_named_cities_in_different_zones_are_asked_about(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    control_clock(app, NOON_UTC)
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone Valencia")
    ask = await tg.next_bot_message(1001)
    assert ask.text is not None and ask.text.startswith("🌍 Which Valencia?")
    labels = [text for row in ask.buttons for text, _ in row]
    assert labels == ["Valencia, Venezuela · 08:00", "Valencia, Spain · 14:00"], labels
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "UTC", "nothing set before the choice"

    answer = await press(tg, ann, ask, "Valencia, Spain")
    assert answer["text"] == "Timezone: Europe/Madrid"
    edited = await tg.wait_for_edit(ask)
    assert edited.text == "🌍 Valencia, Spain" and not edited.buttons, (
        "the question keeps the choice, no buttons"
    )
    done = await tg.next_bot_message(1001)
    assert done.text is not None and "Timezone set to Europe/Madrid (Valencia, Spain)." in done.text
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "Europe/Madrid"


async def test_a_city_under_the_prompt_asks_and_a_press_closes_the_prompt(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone")
    await tg.next_bot_message(1001)  # "Your timezone is UTC."
    await tg.next_bot_message(1001)  # the prompt, with the location button
    await ann.send_text("Springfield")
    ask = await tg.next_bot_message(1001)
    assert ask.text is not None and "Which Springfield?" in ask.text
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.pending is not None, "still waiting: a typed answer works too"

    await press(tg, ann, ask, "Massachusetts")
    done = await tg.next_bot_message(1001)
    assert (
        done.text is not None and "America/New_York (Springfield, Massachusetts, United States)" in done.text
    )
    assert ann.reply_keyboard == []
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "America/New_York" and person.pending is None


async def test_a_clear_favourite_is_set_and_the_namesake_can_be_typed(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone Portland")
    reply = await tg.next_bot_message(1001)
    assert reply.text is not None and "America/Los_Angeles (Portland, Oregon, United States)" in reply.text
    assert "Another Portland? Type “Portland, Maine”." in reply.text
    await ann.send_text("/timezone Portland, Maine")
    reply = await tg.next_bot_message(1001)
    assert reply.text is not None and "America/New_York (Portland, Maine, United States)" in reply.text
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "America/New_York"


async def test_a_typo_suggests_the_city_not_a_look_alike_zone(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone Mumbia")
    reply = await tg.next_bot_message(1001)
    assert reply.text is not None and reply.text.startswith("I don't know the timezone “Mumbia”.")
    assert "Did you mean Mumbai, India (Asia/Kolkata)" in reply.text and "Dubai" not in reply.text
    await press(tg, ann, reply, "Mumbai, India")
    done = await tg.next_bot_message(1001)
    assert done.text is not None and "Asia/Kolkata (Mumbai, India)" in done.text
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "Asia/Kolkata"

    await ann.send_text("/timezone Mumbai")
    assert "Asia/Kolkata (Mumbai, India)" in ((await tg.next_bot_message(1001)).text or "")
    await ann.send_text("/timezone Delhi")
    delhi = await tg.next_bot_message(1001)
    assert delhi.text is not None and "Asia/Kolkata (Delhi, India)" in delhi.text and "LHI" not in delhi.text


async def test_a_country_with_several_zones_offers_them(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    control_clock(app, NOON_UTC)
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone United States")
    ask = await tg.next_bot_message(1001)
    assert ask.text is not None and "United States has more than one timezone" in ask.text
    assert ask.button("America/Chicago · 07:00")
    await press(tg, ann, ask, "America/Chicago")
    done = await tg.next_bot_message(1001)
    assert (
        done.text is not None
        and "Timezone set to America/Chicago (Chicago, Illinois, United States)" in done.text
    )
    await ann.send_text("/timezone India")
    india = await tg.next_bot_message(1001)
    assert india.text is not None and "Timezone set to Asia/Kolkata (India)." in india.text


async def test_a_forged_or_stale_place_button_changes_nothing(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("/timezone Valencia")
    ask = await tg.next_bot_message(1001)
    for data in (encode_person(Action.TIMEZONE_PLACE, "1"), encode_person(Action.TIMEZONE_PLACE, "x")):
        query = await ann.press(ask, data, check=False)
        answer = await tg.wait_for_answer(query)
        assert answer["text"] == "This button is out of date."
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "UTC"
