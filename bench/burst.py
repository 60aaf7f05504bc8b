"""Benchmark: a burst of meal photos through the loopback Bot API server into the real `foodbot run`.

    .venv/bin/python bench/burst.py [--scenario burst|heavy|all] [--people 100] [--photos 10]
        [--heavy-photos 200] [--limit 30] [--saves after|asap] [--paid] [--per-chat 0] [--slow-ms 0]
        [--drain 120] [--max-seconds 3600]
        [--data-dir ./data] [--json]

The loopback server (tests/telegram_fake) runs in this process with Telegram's overall flood limit
(`--limit` sends and edits a second, 429 with retry_after beyond it; `--per-chat` adds the per-chat
limit); `foodbot run` is started as a subprocess against it, as a host runs it (in-process recognition
on the CPU, a fresh SQLite database, the model bundle built once into `--data-dir`). Its log goes to
`DATA_DIR/burst-SCENARIO.log`. Each photo carries a caption `burst #N`, which the bot puts in the card's
title, so every card is matched to the photo it answers (lost and doubled are per photo, not guessed).
The fixture photos are scaled to 320 px beforehand: that is the size the bot downloads anyway, and the
fake re-encodes every photo sent into Telegram's size ladder, which at full size would spread the
"burst" over many seconds of this process's CPU.

* `burst`: `--people` people each send `--photos` photos at once, and press ✅ Save on every card (a
  no-food card has no Save and just counts as answered): after the last card came (`--saves after`, the
  default: cards/s is measured alone, first photo to last card, then the saves' edits/s), or on each card
  as it comes (`--saves asap`: cards and save edits share the budget, so (cards + edits)/s is the figure).
  Reports cards/s and the saves' figure as a fraction of the limit (the bot's budget is sends plus
  edits; `--paid` lets sends go as paid broadcasts, up to 1,000 a second), lost photos (no card
  and nothing else said in that chat by the time `--drain` seconds passed without news), refused ones
  (no card, but the chat got another reply: a "busy" note, an apology), doubled ones (two cards for a
  photo, more cards than photos in a chat, two meals for a photo in the database), saved meals in the
  database, p50/p99 latency photo → card and photo → saved, the 429s the server answered, and the CPU
  seconds the bot and this process used.
* `heavy`: one person sends 200 photos (`--heavy-photos`) at once; while they are pending, 20 light
  people send one photo each, spread over 10 s. Reports the light people's p50/p99 latency and whether
  the heavy person's cards came in the order of the photos.

Prints one JSON object per scenario (and a human line unless `--json`); exits 1 if a photo was lost
or doubled or the bot died, 2 if it did not start. The run always ends: every wait has a timeout, and
the bot is stopped (SIGTERM, then SIGKILL) whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/telegram_fake is not an installed package

from PIL import Image  # noqa: E402

from tests.bot.processes import FOODBOT, foodbot_env  # noqa: E402
from tests.telegram_fake import FakeMessage, FakeTelegram, FakeUser  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
FIRST_ID = 20_000_001
HEAVY_PHOTOS = 200
LIGHT_PEOPLE = 20
LIGHT_SPREAD_S = 10.0
#: The side the fixtures are scaled to: the smallest Telegram size that fills a 224 px model input.
PHOTO_SIDE = 320
CAPTION = "burst #{}"
_CAPTION_NUMBER = re.compile(r"burst #(\d+)")
#: First start builds the default model bundle; later ones load it.
READY_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 30.0
#: Photos refused with a note may never get a card; this long without news settles the run.
QUIET_S = 10.0


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--scenario", choices=("burst", "heavy", "all"), default="burst")
    parser.add_argument("--people", type=int, default=100, help="burst: people sending at once")
    parser.add_argument("--photos", type=int, default=10, help="burst: photos each person sends")
    parser.add_argument(
        "--heavy-photos", type=int, default=HEAVY_PHOTOS, help="heavy: the heavy one's photos"
    )
    parser.add_argument("--limit", type=float, default=30.0, help="overall sends+edits a second")
    parser.add_argument(
        "--saves",
        choices=("after", "asap"),
        default="after",
        help="burst: press Save on every card after the last card came (cards/s measured alone), or "
        "on each card as it comes (cards and save edits share the budget)",
    )
    parser.add_argument("--paid", action="store_true", help="TELEGRAM_PAID_BROADCAST=1: sends up to 1000/s")
    parser.add_argument("--per-chat", type=float, default=0.0, help="per-chat limit a second (0: off)")
    parser.add_argument("--slow-ms", type=float, default=0.0, help="answer every method this late (±50%%)")
    parser.add_argument("--drain", type=float, default=120.0, help="give up after this long without news")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="hard cap on one scenario")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="DATA_DIR (model bundle)")
    parser.add_argument("--json", action="store_true", help="print only the JSON objects")
    args = parser.parse_args(argv)
    if min(args.people, args.photos, args.heavy_photos) < 1 or args.limit <= 0 or args.drain <= 0:
        parser.error("--people, --photos, --heavy-photos, --limit and --drain must be positive")
    return args


def fixture_photos(folder: Path = FIXTURES) -> list[bytes]:
    """The real photos in `folder` (and its subfolders) as 320 px JPEGs (see the module docstring for why
    not at full size)."""
    photos = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        with Image.open(path) as image:
            rgb = image.convert("RGB")
        # At most 4:3, like a phone's photo, so the 320 px size's short side fills the model's input
        # and that is the size the bot picks, as it would for the full photo.
        width, height = rgb.size
        if 3 * max(width, height) > 4 * min(width, height):
            long_side = min(width, height) * 4 // 3
            box = ((width - long_side) // 2, 0, (width + long_side) // 2, height)
            if height > width:
                box = (0, (height - long_side) // 2, width, (height + long_side) // 2)
            rgb = rgb.crop(box)
        rgb.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
        buffer = io.BytesIO()
        rgb.save(buffer, format="JPEG", quality=90)
        photos.append(buffer.getvalue())
    if not photos:
        raise SystemExit(f"no photos in {folder}")
    return photos


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (None for no values), in seconds rounded to ms."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))
    return round(ordered[rank], 3)


@dataclass
class Photo:
    """One photo a person sent, and what became of it (times on the event loop's clock)."""

    chat_id: int
    number: int
    sent_at: float
    cards: list[tuple[int, float]] = field(default_factory=list)  # (message id, seen at)
    saved_at: float | None = None
    no_food: bool = False


class Tracker:
    """Follows the fake's chats: matches each new bot message to the photo it answers, presses Save.

    It is woken by every change in the fake (the same notification its long polls use) and looks only
    at what is new, so following a thousand cards costs this process little of the CPU the bot needs.
    """

    def __init__(self, tg: FakeTelegram, *, press_save: bool) -> None:
        self._tg = tg
        self._press_save = press_save
        # Cards whose Save is to be pressed later (`press_saves`): (card, its Save data, its photo).
        self._unpressed: list[tuple[FakeMessage, str, Photo]] = []
        self.photos: dict[tuple[int, int], Photo] = {}
        self.users: dict[int, FakeUser] = {}
        self._seen_id: dict[int, int] = {}  # chat -> newest message id looked at
        # (chat, card message id) -> its photo, and the edits the card had when Save was pressed
        self._awaiting_save: dict[tuple[int, int], tuple[Photo, int]] = {}
        # Other replies, which a bot may later edit into the card ("taking long, the card comes here")
        self._notes: dict[tuple[int, int], tuple[str, int]] = {}  # -> (first line, edits seen)
        self.other_replies: Counter[str] = Counter()
        self.other_per_chat: Counter[int] = Counter()
        self.notes_edited_into_cards = 0
        self.unmatched_cards = 0
        self.saves_pressed = 0
        self.edits_not_saved = 0
        self.last_progress = 0.0

    def person(self, user_id: int, name: str) -> FakeUser:
        user = self._tg.user(user_id, name)
        self.users[user.chat_id] = user
        self._seen_id.setdefault(user.chat_id, 0)
        return user

    async def send(self, user: FakeUser, number: int, photo: bytes) -> None:
        await user.send_photo(photo, caption=CAPTION.format(number))
        now = _now()
        self.photos[(user.chat_id, number)] = Photo(user.chat_id, number, now)
        self.last_progress = max(self.last_progress, now)

    async def scan(self) -> None:
        """Looks at the bot's new messages and at the cards waiting for their Save edit."""
        now = _now()
        world = self._tg.world
        for chat_id, seen in list(self._seen_id.items()):
            chat = world.chats[chat_id]
            if chat.last_message_id <= seen:
                continue
            for message_id in range(seen + 1, chat.last_message_id + 1):
                message = chat.messages.get(message_id)
                if message is not None and message.from_bot:
                    await self._new_bot_message(message, now)
            self._seen_id[chat_id] = chat.last_message_id
        for key, (line, edits) in list(self._notes.items()):
            message = world.chats[key[0]].messages[key[1]]
            if len(message.edit_seqs) == edits:
                continue
            del self._notes[key]
            self.other_replies[line] -= 1
            self.other_per_chat[key[0]] -= 1
            self.other_replies += Counter()  # drops the zero counts
            if await self._new_bot_message(message, now):
                self.notes_edited_into_cards += 1
        for key, (photo, edits) in list(self._awaiting_save.items()):
            message = world.chats[key[0]].messages[key[1]]
            if len(message.edit_seqs) == edits:
                continue
            del self._awaiting_save[key]
            self.last_progress = now
            if "Saved" in (message.text or ""):
                photo.saved_at = now
            else:
                self.edits_not_saved += 1

    async def _new_bot_message(self, message: FakeMessage, now: float) -> bool:
        """Records a bot message (new, or a note just edited); True if it is a card."""
        text = message.text or message.caption or ""
        is_card = text.startswith("🍽") or any("Discard" in b[0] for row in message.buttons for b in row)
        self.last_progress = now
        if not is_card:
            line = text.split("\n", 1)[0][:80]
            self.other_replies[line] += 1
            self.other_per_chat[message.chat_id] += 1
            self._notes[(message.chat_id, message.message_id)] = (line, len(message.edit_seqs))
            return False
        found = _CAPTION_NUMBER.search(text.split("\n", 1)[0])
        photo = self.photos.get((message.chat_id, int(found.group(1)))) if found else None
        if photo is None:
            self.unmatched_cards += 1
            return True
        photo.cards.append((message.message_id, now))
        save = next((b[1] for row in message.buttons for b in row if "Save" in b[0] and b[1]), None)
        if save is None:
            photo.no_food = True
        elif len(photo.cards) == 1:
            self._unpressed.append((message, save, photo))
            if self._press_save:
                await self.press_saves()
        return True

    async def press_saves(self) -> None:
        """Press Save on every card seen so far whose Save was not pressed yet."""
        pressing, self._unpressed = self._unpressed, []
        for message, save, photo in pressing:
            self._awaiting_save[(message.chat_id, message.message_id)] = (photo, len(message.edit_seqs))
            await self.users[message.chat_id].press(message, save)
            self.saves_pressed += 1

    def without_card(self) -> list[Photo]:
        return [p for p in self.photos.values() if not p.cards]

    def lost(self) -> int:
        """Photos without a card in chats the bot told nothing else either (silently dropped). A photo
        without a card in a chat that got another reply (a "busy, send it later" note, which may cover
        several photos, or an apology) counts as refused instead."""
        return sum(1 for p in self.without_card() if not self.other_per_chat[p.chat_id])

    def settled(self, quiet: bool) -> bool:
        """Every Save's edit seen, and every photo has its card; or, after a `quiet` spell, every photo
        without one is in a chat that was told something (more cards may still come until then)."""
        if self._awaiting_save:
            return False
        missing = self.without_card()
        return not missing or (quiet and all(self.other_per_chat[p.chat_id] for p in missing))

    @property
    def saves_pending(self) -> int:
        return len(self._awaiting_save)


def _now() -> float:
    return asyncio.get_running_loop().time()


async def _next_change(tg: FakeTelegram, timeout: float) -> None:
    """Returns after the fake's next change (or `timeout` seconds)."""
    first = True

    def changed() -> bool | None:
        nonlocal first
        if first:
            first = False
            return None
        return True

    await tg.world.wait_until(changed, timeout)


@dataclass
class Bot:
    """`foodbot run` as a subprocess, its log in a file (a pipe nobody reads could stall it)."""

    process: asyncio.subprocess.Process
    log: Path
    database: Path
    ready_s: float = 0.0


async def start_bot(
    tg: FakeTelegram, folder: Path, data_dir: Path, log: Path, limit: float, paid: bool = False
) -> Bot:
    """Starts the bot and waits until it polls (first start: the model bundle is built, minutes)."""
    database = folder / "burst.db"
    env = foodbot_env(
        data_dir,
        TELEGRAM_BOT_TOKEN=tg.token,
        TELEGRAM_API_BASE_URL=tg.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        TELEGRAM_RATE_LIMIT=str(limit),
        TELEGRAM_PAID_BROADCAST="1" if paid else "0",
        QUEUE_URL="",
        METRICS_PORT="",
    )
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            FOODBOT, "run", cwd=folder, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
    bot = Bot(process, log, database)
    started = time.perf_counter()
    deadline = started + READY_TIMEOUT_S
    try:
        while not (tg.commands and tg.stats.requests["getUpdates"] > 0):
            if process.returncode is not None:
                raise RuntimeError(f"foodbot run exited with {process.returncode} before polling; see {log}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"foodbot run did not poll within {READY_TIMEOUT_S:.0f} s; see {log}")
            await _next_change(tg, 1.0)
    except BaseException:
        await stop_bot(bot)
        raise
    bot.ready_s = round(time.perf_counter() - started, 1)
    return bot


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, all threads) a process has used so far; None off Linux.

    Tells whether the bot was busy (its own Python or the model) or waiting (on Telegram, the limit).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def stop_bot(bot: Bot) -> int | None:
    """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_S; returns its exit status."""
    process = bot.process
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            return None
    return process.returncode


def log_findings(log: Path, limit: int = 6) -> dict[str, Any]:
    """Errors and warnings in the bot's log: counts and the first few distinct lines."""
    counts: Counter[str] = Counter()
    distinct: dict[str, None] = {}
    for line in log.read_text(errors="replace").splitlines():
        level = next((lv for lv in (" ERROR ", " WARNING ", " CRITICAL ") if lv in line), None)
        if "Traceback" in line:
            counts["tracebacks"] += 1
        if level is None:
            continue
        counts[level.strip().lower()] += 1
        message = line.split(level, 1)[1]
        if len(distinct) < limit:
            distinct.setdefault(message[:200], None)
    return {**counts, "first": list(distinct)}


def database_figures(database: Path) -> dict[str, int]:
    """Saved meals, and photos that became more than one meal (a doubled update or a Save twice)."""
    if not database.is_file():
        return {"saved_meals": -1, "doubled_meals": -1, "doubled_saves": -1}
    with contextlib.closing(sqlite3.connect(database)) as db:
        saved = db.execute("SELECT count(*) FROM meals WHERE status = 'saved'").fetchone()[0]
        doubled = db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM meals WHERE caption LIKE 'burst #%' "
            "GROUP BY user_id, caption HAVING count(*) > 1)"
        ).fetchone()[0]
        doubled_saves = db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM meals WHERE status = 'saved' AND caption LIKE 'burst #%' "
            "GROUP BY user_id, caption HAVING count(*) > 1)"
        ).fetchone()[0]
    return {"saved_meals": int(saved), "doubled_meals": int(doubled), "doubled_saves": int(doubled_saves)}


async def follow(
    tracker: Tracker, tg: FakeTelegram, bot: Bot, sending: asyncio.Task[None], args: argparse.Namespace
) -> str:
    """Presses and records until everything is answered, or no news for `--drain` s, or the cap."""
    started = _now()
    while True:
        await tracker.scan()
        now = _now()
        if sending.done() and tracker.settled(quiet=now - tracker.last_progress > QUIET_S):
            return "settled"
        if bot.process.returncode is not None:
            return f"bot exited with {bot.process.returncode}"
        if sending.done() and now - tracker.last_progress > args.drain:
            return f"no news for {args.drain:.0f} s"
        if now - started > args.max_seconds:
            return f"cap of {args.max_seconds:.0f} s"
        await _next_change(tg, 1.0)


def _common(tracker: Tracker, tg: FakeTelegram, photos: list[Photo], limit: float) -> dict[str, Any]:
    """Figures both scenarios report."""
    answered = [p for p in photos if p.cards]
    first_sent = min((p.sent_at for p in photos), default=0.0)
    cards = sum(len(p.cards) for p in photos)
    last_card = max((t for p in photos for _id, t in p.cards), default=first_sent)
    first_card = min((t for p in photos for _id, t in p.cards), default=first_sent)
    last_sent = max((p.sent_at for p in photos), default=first_sent)
    per_chat_cards: Counter[int] = Counter()
    per_chat_photos: Counter[int] = Counter()
    for p in photos:
        per_chat_cards[p.chat_id] += len(p.cards)
        per_chat_photos[p.chat_id] += 1
    cards_s = cards / (last_card - first_sent) if last_card > first_sent else 0.0
    times = sorted(t for p in photos for _id, t in p.cards)
    tenth, ninetieth = (times[len(times) // 10], times[len(times) * 9 // 10]) if len(times) >= 10 else (0, 0)
    steady_s = (len(times) * 8 // 10) / (ninetieth - tenth) if ninetieth > tenth else 0.0
    requests = tg.stats.requests
    return {
        "photos_sent": len(photos),
        "seconds_to_send_all": round(last_sent - first_sent, 2),
        "seconds_to_first_card": round(first_card - first_sent, 2),
        "cards": cards,
        "no_food_cards": sum(1 for p in answered if p.no_food),
        "other_replies": sum(tracker.other_replies.values()),
        "other_reply_texts": dict(tracker.other_replies.most_common(4)),
        "notes_edited_into_cards": tracker.notes_edited_into_cards,
        "lost": tracker.lost(),
        "refused": len(tracker.without_card()) - tracker.lost(),
        "doubled": sum(1 for p in photos if len(p.cards) > 1) + tracker.unmatched_cards,
        "chats_with_more_cards_than_photos": sum(
            1 for chat, n in per_chat_cards.items() if n > per_chat_photos[chat]
        ),
        "seconds_to_last_card": round(last_card - first_sent, 2),
        "cards_per_s": round(cards_s, 2),
        "cards_fraction_of_limit": round(cards_s / limit, 3),
        "steady_cards_per_s": round(steady_s, 2),
        "p50_card_s": percentile([p.cards[0][1] - p.sent_at for p in answered], 0.50),
        "p99_card_s": percentile([p.cards[0][1] - p.sent_at for p in answered], 0.99),
        "429s": tg.stats.served_429,
        "calls": {
            name: requests[name]
            for name in ("sendMessage", "editMessageText", "answerCallbackQuery", "getFile", "getUpdates")
        },
    }


async def scenario_burst(
    tg: FakeTelegram, bot: Bot, images: list[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    """Everyone sends every photo at once and saves each card, as it comes or after the last card."""
    tracker = Tracker(tg, press_save=args.saves == "asap")
    people = [tracker.person(FIRST_ID + n, f"P{n}") for n in range(args.people)]

    async def send_all() -> None:
        for number in range(1, args.photos + 1):
            for n, user in enumerate(people):
                await tracker.send(user, number, images[(n + number) % len(images)])
                await asyncio.sleep(0)  # let the fake serve the bot's polls meanwhile

    sending = asyncio.create_task(send_all())
    try:
        ended = await follow(tracker, tg, bot, sending, args)
        if sending.done():
            sending.result()  # a failure to send is the bench's bug: say so
        saves_from = _now()
        if args.saves == "after" and ended == "settled":
            await tracker.press_saves()
            ended = await follow(tracker, tg, bot, sending, args)
    finally:
        sending.cancel()
    photos = list(tracker.photos.values())
    figures = _common(tracker, tg, photos, args.limit)
    first_sent = min((p.sent_at for p in photos), default=0.0)
    saved = [(p.sent_at, p.saved_at) for p in photos if p.saved_at is not None]
    last = max([at for _sent, at in saved] + [first_sent + figures["seconds_to_last_card"]])
    if args.saves == "after":  # the save phase alone: its edits against the budget
        messages_s = len(saved) / (last - saves_from) if saved and last > saves_from else 0.0
    else:
        messages_s = (figures["cards"] + len(saved)) / (last - first_sent) if last > first_sent else 0.0
    return {
        "scenario": "burst",
        "people": args.people,
        "photos_each": args.photos,
        **figures,
        "saves": args.saves,
        "saves_pressed": tracker.saves_pressed,
        "save_edits_seen": len(saved),
        "saves_not_applied": tracker.saves_pending + tracker.edits_not_saved,
        "seconds_to_last_save": round(last - first_sent, 2),
        "messages_per_s": round(messages_s, 2),
        "messages_fraction_of_limit": round(messages_s / args.limit, 3),
        "p50_saved_s": percentile([at - sent for sent, at in saved], 0.50),
        "p99_saved_s": percentile([at - sent for sent, at in saved], 0.99),
        "ended": ended,
    }


async def scenario_heavy(
    tg: FakeTelegram, bot: Bot, images: list[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    """One person sends 200 photos; light people trickle in meanwhile and should not wait behind them."""
    tracker = Tracker(tg, press_save=False)
    heavy = tracker.person(FIRST_ID, "Heavy")
    lights = [tracker.person(FIRST_ID + 1 + n, f"L{n}") for n in range(LIGHT_PEOPLE)]
    pending_at_light: list[int] = []

    async def send_all() -> None:
        for number in range(1, args.heavy_photos + 1):
            await tracker.send(heavy, number, images[number % len(images)])
            await asyncio.sleep(0)
        for n, user in enumerate(lights):
            await tracker.scan()
            pending_at_light.append(
                sum(1 for p in tracker.photos.values() if p.chat_id == heavy.chat_id and not p.cards)
            )
            await tracker.send(user, 1, images[n % len(images)])
            await asyncio.sleep(LIGHT_SPREAD_S / LIGHT_PEOPLE)

    sending = asyncio.create_task(send_all())
    try:
        ended = await follow(tracker, tg, bot, sending, args)
        if sending.done():
            sending.result()  # a failure to send is the bench's bug: say so
    finally:
        sending.cancel()
    photos = list(tracker.photos.values())
    heavy_cards = sorted(
        (message_id, p.number) for p in photos if p.chat_id == heavy.chat_id for message_id, _t in p.cards
    )
    order = [number for _id, number in heavy_cards]
    light = [p for p in photos if p.chat_id != heavy.chat_id and p.cards]
    heavy_photos = [p for p in photos if p.chat_id == heavy.chat_id]
    heavy_done = max((p.cards[0][1] for p in heavy_photos if p.cards), default=0.0)
    first_sent = min((p.sent_at for p in photos), default=0.0)
    return {
        "scenario": "heavy",
        "heavy_photos": args.heavy_photos,
        "light_people": LIGHT_PEOPLE,
        **_common(tracker, tg, photos, args.limit),
        "light_p50_card_s": percentile([p.cards[0][1] - p.sent_at for p in light], 0.50),
        "light_p99_card_s": percentile([p.cards[0][1] - p.sent_at for p in light], 0.99),
        "light_answered": len(light),
        "heavy_pending_when_lights_sent": [
            min(pending_at_light, default=0),
            max(pending_at_light, default=0),
        ],
        "heavy_seconds_to_last_card": round(heavy_done - first_sent, 2) if heavy_done else None,
        "heavy_in_order": order == sorted(order),
        "heavy_out_of_order": sum(1 for a, b in pairwise(order) if b < a),
        "ended": ended,
    }


async def run_scenario(name: str, images: list[bytes], args: argparse.Namespace) -> dict[str, Any]:
    """A fresh fake, bot and database for one scenario; the bot is stopped whatever happens."""
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"burst-{name}.log"
    with tempfile.TemporaryDirectory(prefix="foodbot-burst-") as folder:
        async with FakeTelegram() as tg:
            bot = await start_bot(tg, Path(folder), data_dir, log, args.limit, args.paid)
            bot_cpu = cpu_seconds(bot.process.pid)
            own_cpu = time.process_time()
            try:
                tg.rate_limit(per_chat_per_second=args.per_chat or None, overall_per_second=args.limit)
                if args.slow_ms:
                    tg.slow_down(args.slow_ms / 1000, jitter=args.slow_ms / 2000)
                run = scenario_burst if name == "burst" else scenario_heavy
                result = await run(tg, bot, images, args)
                cpu_after = cpu_seconds(bot.process.pid)
                result["bot_cpu_s"] = (
                    round(cpu_after - bot_cpu, 1) if cpu_after is not None and bot_cpu is not None else None
                )
                result["bench_cpu_s"] = round(time.process_time() - own_cpu, 1)
            finally:
                exit_status = await stop_bot(bot)
        result.update(database_figures(bot.database))
    result.update(
        {
            "limit_per_s": args.limit,
            "per_chat_limit": args.per_chat or None,
            "slow_ms": args.slow_ms,
            "bot_ready_s": bot.ready_s,
            "bot_exit": exit_status,
            "bot_log": str(log),
            "bot_log_findings": log_findings(log),
        }
    )
    return result


def human(result: dict[str, Any]) -> str:
    """One line a person reads at a glance."""
    if result["scenario"] == "burst":
        return (
            f"burst {result['people']}x{result['photos_each']}: {result['cards']}/{result['photos_sent']} "
            f"cards, {result['cards_per_s']}/s = {result['cards_fraction_of_limit']:.0%} of "
            f"{result['limit_per_s']:g}/s (save edits {result['saves']}: "
            f"{result['messages_fraction_of_limit']:.0%}), "
            f"lost {result['lost']}, refused {result['refused']}, doubled {result['doubled']}, "
            f"saved {result['saved_meals']}, "
            f"p50/p99 {result['p50_card_s']}/{result['p99_card_s']} s, 429s {result['429s']}, "
            f"ended: {result['ended']}"
        )
    return (
        f"heavy {result['heavy_photos']} + {result['light_people']} light: light p50/p99 "
        f"{result['light_p50_card_s']}/{result['light_p99_card_s']} s, heavy in order "
        f"{result['heavy_in_order']}, lost {result['lost']}, refused {result['refused']}, "
        f"doubled {result['doubled']}, "
        f"ended: {result['ended']}"
    )


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    images = fixture_photos()
    names = ["burst", "heavy"] if args.scenario == "all" else [args.scenario]
    ok = True
    for name in names:
        try:
            result = asyncio.run(run_scenario(name, images, args))
        except RuntimeError as error:  # the bot did not start
            print(f"{name}: {error}", file=sys.stderr)
            return 2
        if not args.json:
            print(human(result), flush=True)
        print(json.dumps(result, ensure_ascii=False), flush=True)
        doubled = result["doubled"] + max(0, result["doubled_meals"])
        ok = ok and result["lost"] == 0 and doubled == 0 and result["bot_exit"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
