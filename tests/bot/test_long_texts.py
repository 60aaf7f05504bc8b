"""Every text fits: long captions with line breaks, many meals in a day, many foods in a meal, long echoes.

Telegram refuses a text over 4,096 characters (a caption over 1,024) and HTML with a tag cut in half; a
refused answer is no answer at all. The pure functions are checked against the fake server's own parser,
then the real bot against the loopback Bot API server, which refuses what Telegram refuses.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import cycle, islice
from zoneinfo import ZoneInfo

from bot.handlers.history import week_caption
from bot.keyboards import day_keyboard, history_keyboard
from meallog.db.models import MealStatus
from meallog.goals import Goals
from meallog.nutrition import default_table
from meallog.portions import Macros
from meallog.render import MEALS_PER_PAGE, day_text, meal_card
from meallog.store.items import MAX_ITEMS
from meallog.store.views import ItemView, MealView, NewItem
from meallog.summaries import summary_text
from meallog.text_fit import MAX_CAPTION, MAX_TEXT
from tests.bot.conftest import App, StartBot, control_clock, press, services_of
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser, formatting

OSLO = ZoneInfo("Europe/Oslo")
DAY = date(2026, 5, 7)
#: Foods with the longest names and portion names in the default table.
LONG_FOODS = (
    "pbj_sandwich",
    "nutella",
    "grilled_cheese_sandwich",
    "avocado",
    "baguette",
    "almonds",
    "eggs_benedict",
    "sweet_and_sour_chicken",
    "peanut_butter_sandwich",
    "beef_carpaccio",
)
TABLE = default_table()


def _caption(n: int) -> str:
    """A 1,000-character caption with line breaks and characters HTML must escape."""
    line = f"Dinner {n} with <friends> & family, the long story"
    return "\n".join([line] * 30)[:1000]


def _shown(html_text: str, limit: int = MAX_TEXT) -> str:
    """What Telegram shows, after checking it would accept the text (well formed and within `limit`)."""
    text, _entities = formatting.parse(html_text, "HTML")
    assert len(text) <= limit
    return text


def _at(n: int) -> datetime:
    return datetime(2026, 5, 7, 1, tzinfo=OSLO).astimezone(UTC) + timedelta(minutes=15 * n)


def _item(n: int, key: str, name: str | None = None) -> ItemView:
    food = TABLE[key]
    macros = Macros(123.4, 12.3, 4.5, 67.8)
    return ItemView(n, n, key, name or food.name, 123.0, food.portion_name, macros, "model", 0.1)


def _meal(n: int, items: int, *, status: MealStatus = MealStatus.SAVED, name: str | None = None) -> MealView:
    foods = [_item(i, key, name) for i, key in enumerate(islice(cycle(LONG_FOODS), items), 1)]
    return MealView(n, 1, status, _at(n), DAY, _caption(n), None, None, None, None, tuple(foods), None)


def test_every_page_of_a_day_of_long_meals_fits_and_the_buttons_reach_every_meal() -> None:
    meals = [
        _meal(n, MAX_ITEMS, name="A food with a name much longer than any in the table " * 2)
        for n in range(41)
    ]
    reached: set[int] = set()
    for page in range(5):
        shown = _shown(day_text(DAY, meals, TABLE, "Europe/Oslo", page))
        assert f"Meals {page * MEALS_PER_PAGE + 1}–" in shown and "of 41" in shown
        assert "Day total:" in shown, "the day total always shows"
        assert "Dinner 0 with <friends> & family, the long story Dinner 0 w…" in shown or page > 0
        keyboard = history_keyboard(DAY, DAY, meals, page)
        for row in keyboard.inline_keyboard:
            for button in row:
                assert button.callback_data is not None and len(str(button.callback_data).encode()) <= 64
                if str(button.callback_data).startswith("ro:"):
                    reached.add(int(str(button.callback_data).split(":")[1]))
    assert reached == {meal.id for meal in meals}


def test_today_keyboard_pages_a_long_day() -> None:
    meals = [_meal(n, 1) for n in range(25)]
    first = day_keyboard(meals)
    last = day_keyboard(meals, 2)
    assert first is not None and last is not None
    assert [b.text for b in first.inline_keyboard[-1]] == ["Meals 11–20 ▶"]
    assert [b.text for b in last.inline_keyboard[-1]] == ["◀ Meals 11–20"]
    assert last.inline_keyboard[-2][0].text == "🗑 Delete meal 25"


def test_a_card_of_the_most_foods_with_long_names_and_a_long_caption_fits() -> None:
    for name in (None, "A food with a name much longer than any in the table " * 3):
        shown = _shown(meal_card(_meal(1, MAX_ITEMS, status=MealStatus.DRAFT, name=name), TABLE, 0.5))
        assert f"{MAX_ITEMS}. " in shown and "Total:" in shown and "Tap a food to fix it" in shown
        assert "\n" not in shown.split("\n", 1)[0] and shown.startswith("🍽 Dinner 1 with <friends> & family")


def test_a_small_card_keeps_each_food_on_two_lines() -> None:
    shown = _shown(meal_card(_meal(1, 2, status=MealStatus.DRAFT), TABLE, 0.5))
    assert "1. Peanut butter and jelly sandwich — 123 g (≈ 1.2 × 1 sandwich) ❓ unsure\n    123 kcal" in shown


def test_the_summary_of_a_day_of_long_meals_fits() -> None:
    meals = [_meal(n, MAX_ITEMS) for n in range(60)]
    shown = _shown(summary_text(DAY, meals, Goals(2000, 100, 70, 250), "Europe/Oslo"))
    assert "more meals" in shown and "Largest:" in shown and "/history" in shown


def test_the_week_caption_fits_a_caption() -> None:
    huge = Macros(1e12, 1e12, 1e12, 1e12)
    days = {DAY - timedelta(days=n): huge for n in range(7)}
    shown = _shown(week_caption(days, Goals(1e12, 1e12, 1e12, 1e12)), MAX_CAPTION)
    assert "Average of 7 logged days" in shown


# -- the real bot ------------------------------------------------------------------------------------------


async def _ann(app: App, tg: FakeTelegram) -> FakeUser:
    control_clock(app, datetime(2026, 5, 7, 12, tzinfo=OSLO).astimezone(UTC))
    ann = tg.user(1001, "Ann")
    await services_of(app).people.ensure_user(1001, 1001)
    await services_of(app).people.set_timezone(1001, "Europe/Oslo")
    return ann


async def _saved(app: App, n: int, foods: int) -> int:
    svc = services_of(app)
    items = [NewItem(key, 123, "typed") for key in islice(cycle(LONG_FOODS), foods)]
    draft = await svc.meals.start_draft(1001, eaten_at=_at(n), caption=_caption(n), items=items)
    assert await svc.meals.save_meal(draft.id, 1001) is not None
    return draft.id


def _next_page(message: FakeMessage) -> str | None:
    return next(
        (t for row in message.buttons for t, _ in row if t.startswith("Meals") and t.endswith("▶")), None
    )


async def _page_to_the_end(tg: FakeTelegram, ann: FakeUser, day: FakeMessage) -> FakeMessage:
    """Press "Meals … ▶" until the last page."""
    while (label := _next_page(day)) is not None:
        await press(tg, ann, day, label)
        day = await tg.wait_for_edit(day)
        assert day.text is not None and "Day total:" in day.text
    return day


async def test_today_and_history_answer_a_day_of_40_long_meals_and_page_to_the_last(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = await _ann(app, tg)
    for n in range(40):
        await _saved(app, n, 2)  # a cut of the old text landed inside a caption's bold tag

    await ann.send_text("/today")
    today = await tg.next_bot_message(1001)
    assert today.text is not None and "Meals 1–10 of 40" in today.text and "Day total:" in today.text
    assert "1. Dinner 0 with <friends> & family, the long story Dinner 0 w…" in today.text
    last = await _page_to_the_end(tg, ann, today)
    assert last.text is not None and "Meals 31–40 of 40" in last.text and "40. Dinner 39" in last.text
    await press(tg, ann, last, "Delete meal 40")
    confirm = await tg.wait_for_edit(last)
    await press(tg, ann, confirm, "🗑 Delete")
    after = await tg.wait_for_edit(last)
    assert after.text is not None and "of 39" in after.text
    assert len(await services_of(app).meals.meals_on(1001, DAY)) == 39

    await ann.send_text("/history")
    history = await tg.next_bot_message(1001)
    assert history.text is not None and "Meals 1–10 of 39" in history.text
    labels = [t for row in history.buttons for t, _ in row]
    assert "✏️ Edit meal 1" in labels and "◀ Wed 6" in labels and "Meals 11–20 ▶" in labels
    last = await _page_to_the_end(tg, ann, history)
    assert last.text is not None and "39. Dinner 38" in last.text
    assert "✏️ Edit meal 39" in [t for row in last.buttons for t, _ in row]


async def test_a_card_of_30_foods_and_a_long_caption_updates_after_a_press(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = await _ann(app, tg)
    await _saved(app, 1, MAX_ITEMS)
    await ann.send_text("/history")
    history = await tg.next_bot_message(1001)
    await press(tg, ann, history, "Edit meal 1")
    card = await tg.next_bot_message(1001)
    assert card.text is not None and f"{MAX_ITEMS}. " in card.text and "Total:" in card.text

    await press(tg, ann, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    await press(tg, ann, options, "2×")
    card = await tg.wait_for_edit(card)
    assert card.text is not None and "1. Peanut butter and jelly sandwich — 2 sandwiches (200 g)" in card.text


async def test_a_4096_character_timezone_gets_an_answer(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = await _ann(app, tg)
    await ann.send_text("/timezone " + "<q>" * 1362)  # 4,096 characters
    unknown = await tg.next_bot_message(1001)
    assert unknown.text is not None and unknown.text.startswith("I don't know the timezone “<q><q>")
    assert "…”" in unknown.text and len(unknown.text) < 200

    await ann.send_text("/timezone")
    await tg.next_bot_message(1001)  # "Your timezone is Europe/Oslo."
    await tg.next_bot_message(1001)  # the prompt
    await ann.send_text("Zone/" + "&" * 4091)
    unknown = await tg.next_bot_message(1001)
    assert unknown.text is not None and unknown.text.startswith("I don't know the timezone “Zone/&&&")
    assert "…”" in unknown.text and len(unknown.text) < 200
    person = await services_of(app).people.get_user(1001)
    assert person is not None and person.timezone == "Europe/Oslo"
