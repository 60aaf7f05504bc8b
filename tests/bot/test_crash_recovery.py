"""A restart loses nothing: `foodbot run` killed with SIGKILL in the middle of updates answers them after
it is started again, once each (the journal of updates, `bot.journal`). Also the host's view of a
start that cannot write its database."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

from model.bundle import ModelBundle
from tests.bot.processes import FOODBOT, foodbot_env, start_foodbot_run
from tests.conftest import photo
from tests.telegram_fake import FakeTelegram


async def test_killed_while_a_photo_downloads_and_a_text_is_answered_both_come_after_the_restart(
    tmp_path: Path, data_dir: Path, default_bundle: ModelBundle
) -> None:
    async with FakeTelegram() as tg:
        ann, bob = tg.user(1001, "Ann"), tg.user(1002, "Bob")
        tg.hold("getFile")  # Ann's photo: the bot dies while downloading it
        tg.hold("sendMessage")  # Bob's text: the bot dies while sending its card
        process = await start_foodbot_run(tmp_path, data_dir, tg, tg.token, UPDATE_LEASE_SECONDS="2")
        try:
            await tg.wait_for(lambda: tg.calls_to("setMyCommands"), timeout=120)
            await ann.send_photo(photo("coffee.png"))
            await bob.send_text("2 eggs")
            await tg.wait_for(lambda: {"getFile", "sendMessage"} <= set(tg.held_calls), timeout=60)
            process.kill()
            await process.wait()
            tg.release("getFile")
            tg.release("sendMessage")
            assert tg.bot_messages(ann.chat_id) == [] and tg.bot_messages(bob.chat_id) == []

            process = await start_foodbot_run(tmp_path, data_dir, tg, tg.token, UPDATE_LEASE_SECONDS="2")
            ann_card = await tg.next_bot_message(ann.chat_id, timeout=120)
            bob_card = await tg.next_bot_message(bob.chat_id, timeout=60)
            assert ann_card.text is not None and "Espresso" in ann_card.text
            assert bob_card.text is not None and "Egg" in bob_card.text
            await asyncio.sleep(3)  # past another lease: nothing is answered twice
            assert len(tg.bot_messages(ann.chat_id)) == 1 and len(tg.bot_messages(bob.chat_id)) == 1
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()


async def test_a_database_on_a_path_that_cannot_be_written_is_one_clear_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("a file where a folder should be")
    async with FakeTelegram() as tg:
        process = await asyncio.create_subprocess_exec(
            FOODBOT,
            "run",
            cwd=tmp_path,
            env=foodbot_env(
                tmp_path / "data",
                TELEGRAM_BOT_TOKEN=tg.token,
                TELEGRAM_API_BASE_URL=tg.base_url,
                DATABASE_URL=f"sqlite+aiosqlite:///{not_a_folder}/foodbot.db",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    said = stderr.decode()
    assert process.returncode == 2
    assert "Cannot open or upgrade the database at DATABASE_URL" in said and "Traceback" not in said
