"""The fake Bot API server, driven by the real python-telegram-bot client (Bot and a polling Application)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.telegram_fake import FakeTelegram

FIXTURES = Path(__file__).parents[1] / "fixtures"
CHAT = 1001


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def app(tg: FakeTelegram) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """The real Application, polling the fake; handler errors fail the test."""
    application = tg.application_builder().build()
    errors: list[object] = []

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    application.add_error_handler(on_error)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=dtm.timedelta(seconds=2))
        yield application
        await application.updater.stop()
        await application.stop()
    assert not errors, f"handlers raised: {errors!r}"


def big_photo() -> bytes:
    """A real photo scaled up to 1600x1500, so Telegram keeps all four sizes."""
    with Image.open(FIXTURES / "fruits.jpg") as image:
        buffer = io.BytesIO()
        image.resize((1600, 1500)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def test_get_me_and_wrong_token(tg: FakeTelegram) -> None:
    async with tg.bot() as bot:
        me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "foodbot_test_bot", True)
    with pytest.raises(InvalidToken, match="rejected"):
        async with tg.bot("123456:WRONG-TOKEN"):
            pass


async def test_text_reaches_handler_and_reply_arrives(
    tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"logged: {update.message.text}")

    async def today(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.effective_user is not None
        await context.bot.send_message(
            update.effective_chat.id, f"today for {update.effective_user.first_name}"
        )

    app.add_handler(CommandHandler("today", today))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    ann, bob = tg.user(CHAT, "Ann"), tg.user(1002, "Bob", "de")

    sent = await ann.send_text("200 g rice")
    reply = await tg.next_bot_message(ann.chat_id)
    assert reply.text == "logged: 200 g rice"
    assert reply.message_id == sent["message_id"] + 1

    command = await bob.send_text("/today")
    assert command["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert (await tg.next_bot_message(bob.chat_id)).text == "today for Bob"
    assert [m.text for m in tg.bot_messages(CHAT)] == ["logged: 200 g rice"]
    assert [name for name, _ in tg.calls] == ["getMe", "deleteWebhook", "sendMessage", "sendMessage"]


async def test_a_reply_keyboard_belongs_to_the_chat_until_removed(tg: FakeTelegram) -> None:
    """As in Telegram: not part of the returned Message, not allowed in an edit, tapped by the user."""
    ann = tg.user(CHAT, "Ann")
    await ann.send_text("hi")
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("📍 Where", request_location=True)], ["Cancel"]], one_time_keyboard=True
    )
    async with tg.bot() as bot:
        sent = await bot.send_message(CHAT, "pick", reply_markup=keyboard)
        assert sent.reply_markup is None
        assert ann.reply_keyboard == ["📍 Where", "Cancel"]
        with pytest.raises(BadRequest, match="Inline keyboard expected"):
            await bot.edit_message_text("pick!", CHAT, sent.message_id, reply_markup=keyboard)  # type: ignore[arg-type]
        tapped = await ann.tap_keyboard("📍 Where", latitude=59.9, longitude=10.7)
        assert tapped["location"] == {"latitude": 59.9, "longitude": 10.7}
        assert ann.reply_keyboard == [], "a one-time keyboard hides after a tap"
        await bot.send_message(CHAT, "again", reply_markup=keyboard)
        await bot.send_message(CHAT, "gone", reply_markup=ReplyKeyboardRemove())
        assert ann.reply_keyboard == []
    with pytest.raises(LookupError):
        await ann.tap_keyboard("Cancel")


async def test_button_press_is_answered_and_edits_in_place(
    tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        keyboard = [
            [
                InlineKeyboardButton("Rice ✓", callback_data="ok:7"),
                InlineKeyboardButton("No", callback_data="no:7"),
            ]
        ]
        await update.message.reply_text("Rice, 200 g?", reply_markup=InlineKeyboardMarkup(keyboard))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Saved", show_alert=False)
        await query.edit_message_text(f"Saved ({query.data})")

    app.add_handler(MessageHandler(filters.TEXT, ask))
    app.add_handler(CallbackQueryHandler(pressed))
    ann = tg.user(CHAT)
    await ann.send_text("rice")
    question = await tg.next_bot_message(CHAT)
    assert question.buttons == [[("Rice ✓", "ok:7"), ("No", "no:7")]]

    query_id = await ann.press(question, question.button("rice"))
    edited = await tg.wait_for_edit(question.message_id, CHAT)
    assert edited is question and edited.text == "Saved (ok:7)" and edited.buttons == []
    assert edited.history[0]["text"] == "Rice, 200 g?"
    assert await tg.wait_for_answer(query_id) == tg.callback_answers[query_id]
    assert tg.callback_answers[query_id]["text"] == "Saved"
    with pytest.raises(ValueError, match="no button"):
        await ann.press(question, "ok:7")  # the keyboard is gone after the edit


async def test_edit_errors_surface_as_bad_request(tg: FakeTelegram) -> None:
    tg.user(CHAT)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Undo", callback_data="undo:1")]])
    async with tg.bot() as bot:
        sent = await bot.send_message(
            CHAT, "<b>200 g</b> rice", parse_mode=ParseMode.HTML, reply_markup=markup
        )
        assert sent.text == "200 g rice" and sent.entities[0].type == "bold"
        same: dict[str, Any] = {"chat_id": CHAT, "message_id": sent.message_id, "reply_markup": markup}
        await bot.edit_message_text(text="250 g rice", **same)
        with pytest.raises(BadRequest, match=r"(?i)not modified"):
            await bot.edit_message_text(text="250 g rice", **same)
        with pytest.raises(BadRequest, match=r"(?i)not modified"):
            await bot.edit_message_reply_markup(**same)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text(chat_id=CHAT, message_id=99, text="x")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(CHAT, "1 <rice> bowl", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)too long"):
            await bot.send_message(CHAT, "x" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(
                CHAT,
                "x",
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="d" * 65)]]),
            )
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query("4412000000000000999")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(4242, "hello?")
        assert await bot.delete_message(CHAT, sent.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
            await bot.delete_message(CHAT, sent.message_id)
    message = tg.message(CHAT, sent.message_id)
    assert message.deleted and message.text == "250 g rice" and message.raw_text == "250 g rice"
    assert tg.bot_messages(CHAT) == []


async def test_photo_arrives_in_four_sizes_and_downloads(
    tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await context.bot.send_chat_action(update.message.chat_id, "typing")
        size = next(s for s in update.message.photo if min(s.width, s.height) >= 224)
        data = await (await size.get_file()).download_as_bytearray()
        with Image.open(io.BytesIO(data)) as image:
            await update.message.reply_text(
                f"{image.format} {image.width}x{image.height} {update.message.caption}"
            )

    app.add_handler(MessageHandler(filters.PHOTO, photo))
    message = await tg.user(CHAT).send_photo(big_photo(), caption="lunch")
    sizes = message["photo"]
    assert [(s["width"], s["height"]) for s in sizes] == [(90, 84), (320, 300), (800, 750), (1280, 1200)]
    assert all(s["file_size"] > 0 and s["file_id"] and s["file_unique_id"] for s in sizes)
    assert (await tg.next_bot_message(CHAT)).text == "JPEG 320x300 lunch"
    assert tg.downloads == [(sizes[1]["file_id"], sizes[1]["file_size"])]
    assert tg.chat_actions == [(CHAT, "typing")]


async def test_document_download_and_size_limit(
    tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.document is not None
        doc = update.message.document
        try:
            data = await (await doc.get_file()).download_as_bytearray()
        except BadRequest as exc:
            await update.message.reply_text(f"error: {exc}")
            return
        await update.message.reply_text(f"{doc.file_name} {doc.mime_type} {len(data)} {bytes(data[:4])!r}")

    app.add_handler(MessageHandler(filters.Document.ALL, document))
    ann = tg.user(CHAT)
    heic = b"\x00\x00\x00\x18ftypheic" + os.urandom(3000)
    sent = await ann.send_document(heic, file_name="meal.heic", mime_type="image/heic")
    assert "thumbnail" not in sent["document"]
    assert (
        await tg.next_bot_message(CHAT)
    ).text == f"meal.heic image/heic {len(heic)} b'\\x00\\x00\\x00\\x18'"
    assert tg.downloads == [(sent["document"]["file_id"], len(heic))]
    await ann.send_document(b"tiny", file_name="huge.jpg", file_size=25 * 1024 * 1024)
    assert (await tg.next_bot_message(CHAT)).text == "error: File is too big"


async def test_bot_uploads_photo_and_document(tg: FakeTelegram) -> None:
    tg.user(CHAT)
    async with tg.bot() as bot:
        photo = await bot.send_photo(
            CHAT, (FIXTURES / "coffee.png").read_bytes(), caption="<i>coffee</i>", parse_mode="HTML"
        )
        doc = await bot.send_document(CHAT, b"date,kcal\n", filename="export.csv")
        again = await bot.send_photo(CHAT, photo.photo[-1].file_id)
    assert [(p.width, p.height) for p in photo.photo] == [(90, 60), (320, 213), (600, 400)]
    assert photo.caption == "coffee" and photo.caption_entities[0].type == "italic"
    assert doc.document is not None and (doc.document.file_name, doc.document.mime_type) == (
        "export.csv",
        "text/csv",
    )
    assert again.photo == photo.photo
    upload = tg.calls_to("sendDocument")[0]["document"]
    assert (upload.filename, upload.data) == ("export.csv", b"date,kcal\n")


async def test_injected_failures_and_blocked_user(tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    ann = tg.user(CHAT)
    tg.fail_next("sendMessage", retry_after=3)
    tg.fail_next("sendMessage", status=502)
    tg.fail_next("sendMessage", status=500)
    async with tg.bot() as bot:
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(CHAT, "hi")
        assert flood.value.retry_after == dtm.timedelta(seconds=3)
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "hi")
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(CHAT, "hi")
        await bot.send_message(CHAT, "hi")

        ann.block()
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(CHAT, "are you there?")
        ann.unblock()
        await bot.send_message(CHAT, "welcome back")

        tg.rate_limit(per_chat_per_second=1)
        await bot.send_message(CHAT, "one")
        with pytest.raises(RetryAfter):
            await bot.send_message(CHAT, "two")
    assert (tg.stats.injected_429, tg.stats.rate_limited_429, tg.stats.served_429, tg.stats.served_5xx) == (
        1,
        1,
        2,
        2,
    )
    assert [m.text for m in tg.bot_messages(CHAT)] == ["hi", "welcome back", "one"]


async def test_long_poll_offsets_and_shutdown(tg: FakeTelegram) -> None:
    ann = tg.user(CHAT)
    async with tg.bot() as bot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await bot.get_updates(timeout=dtm.timedelta(seconds=0.3)) == ()
        assert loop.time() - started >= 0.25

        poll = asyncio.create_task(bot.get_updates(timeout=dtm.timedelta(seconds=5)))
        await asyncio.sleep(0.1)
        await ann.send_text("first")
        await ann.send_text("second")
        updates = await asyncio.wait_for(poll, 1)
        assert [u.message.text for u in updates if u.message] == ["first", "second"]

        again = await bot.get_updates(offset=updates[1].update_id, limit=5)
        assert [u.update_id for u in again] == [updates[1].update_id]
        assert await bot.get_updates(offset=updates[1].update_id + 1) == ()

        pending = asyncio.create_task(bot.get_updates(timeout=dtm.timedelta(seconds=30)))
        await asyncio.sleep(0.1)
        started = loop.time()
        await tg.stop()
        assert await asyncio.wait_for(pending, 2) == ()
        assert loop.time() - started < 2


async def test_raw_http_forms_commands_and_unknown_method(tg: FakeTelegram) -> None:
    tg.user(CHAT)
    api = f"{tg.base_url}/bot{tg.token}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        markup = {"inline_keyboard": [[{"text": "Undo", "callback_data": "undo:1"}]]}
        async with http.post(
            f"{api}/sendMessage", json={"chat_id": CHAT, "text": "json", "reply_markup": markup}
        ) as response:
            body = await response.json()
        assert body["ok"] and body["result"]["reply_markup"] == markup
        async with http.get(f"{api}/getMe") as response:
            assert (await response.json())["result"]["username"] == "foodbot_test_bot"
    async with tg.bot() as bot:
        await bot.set_my_commands([("today", "What I ate today"), ("undo", "Undo the last meal")])
        assert [c.command for c in await bot.get_my_commands()] == ["today", "undo"]
        assert tg.commands == [
            {"command": "today", "description": "What I ate today"},
            {"command": "undo", "description": "Undo the last meal"},
        ]
    assert tg.bot_messages(CHAT)[0].button("Undo") == "undo:1"


async def test_next_bot_message_timeout_says_what_the_bot_did(tg: FakeTelegram) -> None:
    tg.user(CHAT)
    async with tg.bot() as bot:
        await bot.send_message(CHAT, "first")
        assert (await tg.next_bot_message(CHAT)).text == "first"
        with pytest.raises(BadRequest):
            await bot.send_message(CHAT, "")
    with pytest.raises(TimeoutError) as timeout:
        await tg.next_bot_message(CHAT, timeout=0.2)
    assert "'first'" in str(timeout.value) and "message text is empty" in str(timeout.value)


async def test_slow_down_answers_late_and_applies_the_call_after_the_wait(tg: FakeTelegram) -> None:
    """The benchmarks' slow Telegram: each method waits 0.3 s ± 0.05 s before it takes effect."""
    tg.user(CHAT)
    with pytest.raises(ValueError):
        tg.slow_down(0.1, jitter=0.2)
    async with tg.bot() as bot:
        tg.slow_down(0.3, jitter=0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        send = asyncio.create_task(bot.send_message(CHAT, "late"))
        await asyncio.sleep(0.15)
        assert tg.bot_messages(CHAT) == [], "not applied before the wait is over"
        await asyncio.wait_for(send, 2)
        assert 0.25 <= loop.time() - started < 1.5
        assert [m.text for m in tg.bot_messages(CHAT)] == ["late"]

        tg.slow_down(0)
        started = loop.time()
        await bot.send_message(CHAT, "on time")
        assert loop.time() - started < 0.25
