"""Nothing leaked, nothing doubled, nothing lost: groups, redelivered updates, double taps, edits,
Telegram's 5xx and 400s, a slow model, odd messages — through the loopback Bot API server."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from telegram import Update

import bot.handlers.photos
import bot.journal
from bot.handlers.access import PRIVATE_ONLY
from bot.handlers.edits import NOT_FOLLOWED, SAVED
from bot.handlers.other import VENUE
from bot.handlers.photos import BACKLOG, TAKING_LONG, TOO_BIG
from bot.handlers.presses import ALREADY_DONE
from bot.keyboards import forget_keyboard
from bot.telegram_io import RETRIES
from meallog.db.engine import make_engine, make_sessionmaker
from meallog.migrate import upgrade_database
from meallog.store.updates import UpdateStore
from model.recognition import Recognition
from tests.bot.conftest import App, StartBot, press, services_of, stop_bot
from tests.conftest import photo
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser

SORRY = "Sorry, something went wrong on my side. Please try again."


async def _rows(app: App, sql: str, **params: Any) -> list[Any]:
    async with app.bot_data["engine"].connect() as connection:
        return list((await connection.execute(text(sql), params)).all())


async def meals_of(app: App, user_id: int) -> list[Any]:
    """The person's meals (drafts and saved) as (id, status) rows."""
    return await _rows(app, "SELECT id, status FROM meals WHERE user_id = :u ORDER BY id", u=user_id)


async def _card(tg: FakeTelegram, user: FakeUser, name: str = "coffee.png") -> FakeMessage:
    await user.send_photo(photo(name))
    return await tg.next_bot_message(user.chat_id, timeout=30)


def slow_model(app: App, monkeypatch: pytest.MonkeyPatch, *, seconds: float) -> None:
    """Make every recognition take `seconds` longer (a loaded model, or a worker being taken over)."""
    queue = services_of(app).queue
    real = queue.recognize

    async def slow(data: bytes) -> Recognition:
        await asyncio.sleep(seconds)
        return await real(data)

    monkeypatch.setattr(queue, "recognize", slow)


async def _settled(tg: FakeTelegram, seconds: float = 1.0) -> None:
    """Give the bot time to do anything more it would do (to check that it does not)."""
    await asyncio.sleep(seconds)


# --- leaks: groups -----------------------------------------------------------------------------------------


async def test_in_a_group_the_bot_points_to_the_private_chat_and_keeps_the_persons_chat(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    cleo = tg.user(2001, "Cleo")
    await cleo.send_text("/start")
    await tg.next_bot_message(cleo.chat_id)
    group = tg.group(-100_777, "Lunch club")
    await cleo.in_group(group).send_photo(photo("coffee.png"))
    reply = await tg.next_bot_message(group.id, timeout=30)
    assert reply.text == PRIVATE_ONLY
    await cleo.in_group(group).send_text("/today")
    assert (await tg.next_bot_message(group.id)).text == PRIVATE_ONLY
    person = await services_of(app).people.get_user(cleo.id)
    assert person is not None and person.chat_id == cleo.chat_id, "the summary still goes to the private chat"
    assert await meals_of(app, cleo.id) == [], "nothing logged from the group"


async def test_a_button_in_a_group_does_nothing_for_whoever_presses_it(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    dan = tg.user(2002, "Dan")
    await dan.send_text("2 eggs")
    card = await tg.next_bot_message(dan.chat_id)
    await press(tg, dan, card, "Save")
    group = tg.group(-100_778, "Flat")
    # A /forget question left in the group (by an older version of the bot).
    async with tg.bot() as bot:
        await bot.send_message(group.id, "Delete everything?", reply_markup=forget_keyboard())
    question = tg.bot_messages(group.id)[-1]
    answer = await press(tg, dan.in_group(group), question, "Yes")
    assert answer["text"] == PRIVATE_ONLY
    await _settled(tg)
    assert [row[1] for row in await meals_of(app, dan.id)] == ["saved"], "Dan's data untouched"
    assert tg.message(group.id, question.message_id).text == "Delete everything?"


async def test_added_to_a_group_the_bot_says_where_it_works_and_leaves(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    eve = tg.user(2003, "Eve")
    group = tg.group(-100_779, "Team")
    tg.add_bot_to(group, by=eve)
    note = await tg.next_bot_message(group.id)
    assert note.text == PRIVATE_ONLY
    await tg.wait_for(lambda: group.left)


# --- nothing doubled ---------------------------------------------------------------------------------------


async def test_a_photo_delivered_twice_makes_one_meal_and_one_card(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await _card(tg, ann)
    tg.redeliver(tg.last_update("message"))
    await ann.send_text("/help")  # something after it, so we know the redelivery was taken
    await tg.next_bot_message(ann.chat_id)
    await _settled(tg)
    cards = [m for m in tg.bot_messages(ann.chat_id) if m.text and "Total" in m.text]
    assert len(cards) == 1
    assert len(await meals_of(app, ann.id)) == 1


async def test_a_double_tap_on_two_times_applies_once(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_text("100 g rice")
    card = await tg.next_bot_message(ann.chat_id)
    await press(tg, ann, card, card.buttons[0][0][0])
    options = await tg.wait_for_edit(card)
    double = options.button("2×")
    first = await ann.press(options, double)
    second = await ann.press(options, double, check=False)  # the same data, before the edit arrives
    answers = [await tg.wait_for_answer(first), await tg.wait_for_answer(second)]
    assert sum(a.get("text") == ALREADY_DONE for a in answers) == 1
    (meal,) = await meals_of(app, ann.id)
    shown = await services_of(app).meals.get_meal(meal[0], ann.id)
    assert shown is not None and [i.grams for i in shown.items] == [316.0]


async def test_editing_a_typed_meal_updates_its_card_not_a_second_meal(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    sent = await ann.send_text("200 g rice")
    card = await tg.next_bot_message(ann.chat_id)
    assert card.text is not None and "200 g" in card.text
    await ann.edit(sent, text="300 g rice")
    edited = await tg.wait_for_edit(card)
    assert edited.text is not None and "300 g" in edited.text
    assert len(await meals_of(app, ann.id)) == 1
    await press(tg, ann, edited, "Save")
    await ann.edit(sent, text="400 g rice")
    assert (await tg.next_bot_message(ann.chat_id)).text == SAVED


async def test_editing_a_photo_caption_renames_its_meal(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    sent = await ann.send_photo(photo("coffee.png"), caption="Breakfast")
    card = await tg.next_bot_message(ann.chat_id, timeout=30)
    await ann.edit(sent, caption="Second breakfast")
    edited = await tg.wait_for_edit(card)
    assert edited.text is not None and "Second breakfast" in edited.text
    assert len(await meals_of(app, ann.id)) == 1
    other = await ann.send_text("/help")
    await tg.next_bot_message(ann.chat_id)
    await ann.edit(other, text="/today")
    assert (await tg.next_bot_message(ann.chat_id)).text == NOT_FOLLOWED


# --- nothing lost: Telegram's errors ----------------------------------------------------------------------


async def test_typing_shows_only_when_the_answer_is_slow_and_its_failure_changes_nothing(
    tg: FakeTelegram, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await _card(tg, ann)
    assert tg.chat_actions == [], "a quick answer needs no typing indicator"
    slow_model(app, monkeypatch, seconds=1.5)
    await _card(tg, ann, "orange.jpg")
    assert tg.chat_actions == [(ann.chat_id, "typing")]
    tg.fail_next("sendChatAction", status=502, count=10)
    card = await _card(tg, ann, "apple.jpg")
    assert card.text is not None and "Total" in card.text, "a failing indicator decides nothing"


async def test_a_5xx_on_the_card_is_retried_into_one_card(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot(update_lease_seconds=1)
    ann = tg.user(1001, "Ann")
    tg.fail_next("sendMessage", status=500)
    card = await _card(tg, ann)
    assert card.text is not None and "Total" in card.text
    await _settled(tg, 2)
    assert len([m for m in tg.bot_messages(ann.chat_id) if m.text and "Total" in m.text]) == 1
    meals = await meals_of(app, ann.id)
    assert len(meals) == 1, "no orphan draft"
    shown = await services_of(app).meals.get_meal(meals[0][0], ann.id)
    assert shown is not None and shown.card_message_id == card.message_id


async def test_a_save_whose_card_edit_failed_shows_the_card_saved_on_its_retry(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    """The meal was saved, then Telegram failed the card's edit past the request's own retries: the
    update's retry finds the meal saved already and still shows the card as saved (the cluster bench
    saw such cards left looking unsaved)."""
    app = await start_bot(update_lease_seconds=1)
    ann = tg.user(1001, "Ann")
    await ann.send_text("100 g rice")
    card = await tg.next_bot_message(ann.chat_id)
    tg.fail_next("editMessageText", status=502, count=RETRIES + 1)
    answer = await press(tg, ann, card, "Save")
    assert str(answer.get("text", "")).startswith("Saved.")
    saved = await tg.wait_for_edit(card, timeout=15)
    assert "Saved" in (saved.text or "")
    assert [row[1] for row in await meals_of(app, ann.id)] == ["saved"]


async def test_a_400_ends_in_one_apology_not_silence(tg: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    tg.fail_next("sendMessage", status=400, description="Bad Request: something unexpected")
    await ann.send_text("2 eggs")
    reply = await tg.next_bot_message(ann.chat_id)
    assert reply.text == SORRY
    await _settled(tg)
    assert [m.text for m in tg.bot_messages(ann.chat_id)] == [SORRY], "one apology"


async def test_a_failure_in_every_handler_gives_one_apology_and_a_report_to_the_admin(
    tg: FakeTelegram, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = tg.user(9000, "Admin")
    app = await start_bot(admin_chat_id=admin.chat_id)
    people = services_of(app).people

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk fell off")

    monkeypatch.setattr(people, "ensure_user", broken)
    monkeypatch.setattr(people, "unblock", broken)  # the second handler group fails too
    ann = tg.user(1001, "Ann")
    await ann.send_text("2 eggs")
    assert (await tg.next_bot_message(ann.chat_id)).text == SORRY
    report = await tg.next_bot_message(admin.chat_id)
    assert report.text is not None and "RuntimeError" in report.text and "the disk fell off" in report.text
    await ann.send_text("3 eggs")
    assert (await tg.next_bot_message(ann.chat_id)).text == SORRY
    await _settled(tg)
    assert [m.text for m in tg.bot_messages(ann.chat_id)] == [SORRY, SORRY], "one apology per update"
    assert len(tg.bot_messages(admin.chat_id)) == 1, "one report per kind of error"


async def test_a_database_that_is_away_is_waited_for_then_the_update_answered(
    tg: FakeTelegram, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.journal, "FIRST_BACKOFF", bot.journal.FIRST_BACKOFF / 20)
    app = await start_bot(update_lease_seconds=1)
    meals = services_of(app).meals
    real = meals.start_draft
    failures = iter(range(2))

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if next(failures, None) is not None:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database is down"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(meals, "start_draft", flaky)
    ann = tg.user(1001, "Ann")
    await ann.send_text("2 eggs")
    card = await tg.next_bot_message(ann.chat_id, timeout=15)
    assert card.text is not None and "Egg" in card.text, "answered once the database was back"
    await _settled(tg)
    assert [m.message_id for m in tg.bot_messages(ann.chat_id)] == [card.message_id], "no apology"


async def test_a_document_over_20_mb_without_a_stated_size_is_refused_kindly(
    tg: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_document(photo("coffee.png"), "big.png", file_size=21 * 2**20, declared_size=None)
    assert (await tg.next_bot_message(ann.chat_id)).text == TOO_BIG


# --- a slow model -----------------------------------------------------------------------------------------


async def test_a_slow_answer_turns_the_waiting_note_into_the_card(
    tg: FakeTelegram, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.handlers.photos, "SLOW_NOTE_AFTER_S", 0.2)
    app = await start_bot()
    slow_model(app, monkeypatch, seconds=1.5)
    ann = tg.user(1001, "Ann")
    await ann.send_photo(photo("coffee.png"))
    note = await tg.next_bot_message(ann.chat_id, timeout=30)
    assert note.text == TAKING_LONG
    card = await tg.wait_for_edit(note, timeout=30)
    assert card.text is not None and "Total" in card.text and card.button("Save")
    assert len(tg.bot_messages(ann.chat_id)) == 1


async def test_photos_past_the_backlog_get_one_note_and_the_rest_come_in_order(
    tg: FakeTelegram, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_bot(photo_backlog=2)
    queue = services_of(app).queue
    real = queue.recognize
    release = asyncio.Event()

    async def held(data: bytes) -> Recognition:
        await release.wait()
        return await real(data)

    monkeypatch.setattr(queue, "recognize", held)
    ann = tg.user(1001, "Ann")
    for name in ("coffee.png", "orange.jpg", "apple.jpg", "fruits.jpg"):
        await ann.send_photo(photo(name))
    note = await tg.next_bot_message(ann.chat_id, timeout=30)
    assert note.text == BACKLOG.format(waiting=2)
    release.set()
    first = await tg.next_bot_message(ann.chat_id, timeout=30)
    second = await tg.next_bot_message(ann.chat_id, timeout=30)
    assert first.text is not None and "Espresso" in first.text, "the first photo's card first"
    assert second.text is not None and "Orange" in second.text
    await _settled(tg)
    assert len(tg.bot_messages(ann.chat_id)) == 3


# --- messages the bot cannot log --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "payload", "named"),
    [
        (
            "sticker",
            {
                "file_id": "CAACAgI",
                "file_unique_id": "AgAD",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            },
            "A sticker",
        ),
        ("voice", {"file_id": "AwACAgI", "file_unique_id": "AgAE", "duration": 3}, "A voice message"),
        ("dice", {"emoji": "🎲", "value": 4}, "A dice roll"),
        ("contact", {"phone_number": "+4712345678", "first_name": "Bo"}, "A contact"),
    ],
)
async def test_every_message_gets_an_answer(
    tg: FakeTelegram, start_bot: StartBot, kind: str, payload: dict[str, Any], named: str
) -> None:
    await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_other(kind, payload)
    reply = await tg.next_bot_message(ann.chat_id)
    assert reply.text is not None and reply.text.startswith(named) and "/help" in reply.text


async def test_a_shared_venue_does_not_set_the_timezone(tg: FakeTelegram, start_bot: StartBot) -> None:
    app = await start_bot()
    ann = tg.user(1001, "Ann")
    await ann.send_venue(35.68, 139.76, "Sushi place", "Tokyo")
    assert (await tg.next_bot_message(ann.chat_id)).text == VENUE
    person = await services_of(app).people.get_user(ann.id)
    assert person is None or person.timezone == "UTC"


# --- several replicas -------------------------------------------------------------------------------------


async def test_an_update_a_dead_replica_held_is_finished_by_another(
    tg: FakeTelegram, start_bot: StartBot, postgres_database: str
) -> None:
    ann = tg.user(1001, "Ann")
    text_message = {
        "message_id": 77,
        "from": ann.as_json,
        "chat": {"id": ann.chat_id, "type": "private", "first_name": "Ann"},
        "date": int(datetime.now(UTC).timestamp()),
        "text": "2 eggs",
    }
    update_id = 900_000_000 + ann.id
    await asyncio.to_thread(upgrade_database, postgres_database)
    engine = make_engine(postgres_database)
    try:
        journal = UpdateStore(make_sessionmaker(engine))
        now = datetime.now(UTC)
        await journal.record([(update_id, ann.id, {"update_id": update_id, "message": text_message})], now)
        assert await journal.claim(update_id, "replica-a", now, timedelta(seconds=2)) == 1  # then it died
        await start_bot(postgres_database, update_lease_seconds=1)
        card = await tg.next_bot_message(ann.chat_id, timeout=30)
        assert card.text is not None and "Egg" in card.text
        for _ in range(50):  # the state is written just after the card is sent
            if await journal.state_of(update_id) == "done":
                break
            await asyncio.sleep(0.1)
        assert await journal.state_of(update_id) == "done"
    finally:
        await engine.dispose()


async def test_a_stopping_bot_takes_over_nothing_and_stops(
    tg: FakeTelegram, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while a photo is being handled, a dead process's update falls due, and a webhook post
    taken just before the server closed is recorded: the stopping bot finishes the photo, leaves both
    other updates to the processes that go on, and exits. (PTB waits for its update queue to empty; an
    update queued after PTB stopped taking from it made that wait endless: a replica that only SIGKILL
    ended, its last updates answered a minute late, in the cluster bench.)"""
    app = await start_bot(update_lease_seconds=1)  # a sweep every third of a second
    slow_model(app, monkeypatch, seconds=2.0)
    ann, bob = tg.user(1001, "Ann"), tg.user(1002, "Bob")
    await ann.send_photo(photo("coffee.png"))
    journal: bot.journal.Journal = app.bot_data[bot.journal.JOURNAL_KEY]
    await tg.wait_for(lambda: journal.in_hand or None, timeout=10)
    stopping = asyncio.create_task(stop_bot(app))
    await asyncio.sleep(0.2)  # PTB is now waiting for Ann's photo to be handled
    update_id = 900_000_000 + bob.id
    updates = UpdateStore(make_sessionmaker(app.bot_data["engine"]))
    now = datetime.now(UTC)
    chat = {"id": bob.chat_id, "type": "private", "first_name": "Bob"}
    message = {
        "message_id": 5,
        "from": bob.as_json,
        "chat": chat,
        "date": int(now.timestamp()),
        "text": "2 eggs",
    }
    await updates.record([(update_id, bob.id, {"update_id": update_id, "message": message})], now)
    # Held by a process that died: its lease ran out, so a sweep would take it over now.
    assert await updates.claim(update_id, "dead-replica", now - timedelta(seconds=5), timedelta(seconds=1))
    # A post the webhook server took before it closed, recorded only now.
    cid = tg.user(1003, "Cid")
    late_id = 900_000_000 + cid.id
    late = dict(message, chat={**chat, "id": cid.chat_id}, **{"from": cid.as_json})
    await asyncio.wait_for(
        app.update_queue.put(Update.de_json({"update_id": late_id, "message": late}, app.bot)), 5
    )
    await asyncio.wait_for(stopping, timeout=20)
    card = next(m for m in tg.bot_messages(ann.chat_id) if m.text and "Total" in m.text)
    assert card is not None
    # Both left for a process that goes on, recorded (the post is not lost), neither answered here.
    assert await updates.state_of(update_id) == "new" and await updates.state_of(late_id) == "new"
    assert tg.bot_messages(bob.chat_id) == [] and tg.bot_messages(cid.chat_id) == []


async def test_a_post_still_being_recorded_when_the_stop_begins_is_handed_over(
    tg: FakeTelegram, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook post whose recording began before SIGTERM and ended after PTB stopped taking updates:
    it is released for the other processes at once (not queued where nothing takes it, which kept the
    stop waiting until SIGKILL), and the stop ends."""
    app = await start_bot(update_lease_seconds=1)
    slow_model(app, monkeypatch, seconds=2.0)
    ann, cid = tg.user(1001, "Ann"), tg.user(1003, "Cid")
    await ann.send_photo(photo("coffee.png"))
    journal: bot.journal.Journal = app.bot_data[bot.journal.JOURNAL_KEY]
    await tg.wait_for(lambda: journal.in_hand or None, timeout=10)
    real_record = journal.store.record

    async def slow_record(*args: Any, **kwargs: Any) -> set[int]:
        await asyncio.sleep(1.0)  # the database slow under load
        return await real_record(*args, **kwargs)

    monkeypatch.setattr(journal.store, "record", slow_record)
    late_id = 900_000_000 + cid.id
    chat = {"id": cid.chat_id, "type": "private", "first_name": "Cid"}
    message = {"message_id": 5, "from": cid.as_json, "chat": chat, "date": 1, "text": "2 eggs"}
    posting = asyncio.create_task(
        app.update_queue.put(Update.de_json({"update_id": late_id, "message": message}, app.bot))
    )
    await asyncio.sleep(0.2)
    await asyncio.wait_for(stop_bot(app), timeout=20)
    await posting
    updates = UpdateStore(make_sessionmaker(app.bot_data["engine"]))
    assert await updates.state_of(late_id) == "new"  # recorded, left for the others
    due = await updates.due(datetime.now(UTC), 10)
    assert late_id in [pending.update_id for pending in due]  # at once, not after a lease
    assert tg.bot_messages(cid.chat_id) == []


async def test_a_webhook_post_is_answered_200_only_once_the_update_is_recorded(
    tg: FakeTelegram, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_bot()
    await app.updater.stop()  # this test plays Telegram posting to the webhook instead
    port = _free_port()
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="hook",
        webhook_url="https://bot.example.test/hook",
        secret_token="s3cret",
        drop_pending_updates=False,
    )
    journal = app.bot_data[bot.journal.JOURNAL_KEY].store
    real = journal.record

    async def down(*args: Any, **kwargs: Any) -> set[int]:
        raise OperationalError("INSERT", {}, ConnectionRefusedError("database is down"))

    ann = tg.user(1001, "Ann")
    update = {
        "update_id": 123_456,
        "message": {
            "message_id": 5,
            "from": ann.as_json,
            "chat": {"id": ann.chat_id, "type": "private", "first_name": "Ann"},
            "date": int(datetime.now(UTC).timestamp()),
            "text": "2 eggs",
        },
    }
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
    async with aiohttp.ClientSession() as http:
        monkeypatch.setattr(journal, "record", down)
        async with http.post(f"http://127.0.0.1:{port}/hook", json=update, headers=headers) as reply:
            assert reply.status == 500, "not recorded: Telegram must deliver it again"
        monkeypatch.setattr(journal, "record", real)
        for _ in range(2):  # Telegram's retry, and one more it makes after a lost 200
            async with http.post(f"http://127.0.0.1:{port}/hook", json=update, headers=headers) as reply:
                assert reply.status == 200
    card = await tg.next_bot_message(ann.chat_id, timeout=30)
    assert card.text is not None and "Egg" in card.text
    await _settled(tg)
    assert len(tg.bot_messages(ann.chat_id)) == 1, "handled once"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
