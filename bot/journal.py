"""Every update handled once, none lost: the Telegram half of the journal (`meallog.store.updates`).

* `JournalQueue` is the Application's update queue. PTB's poller and webhook handler put each update
  there; it is recorded in the database first. The poller confirms updates to Telegram (the next
  offset) only after every `put` returned, and the webhook answers 200 only then, so an update that
  could not be recorded (the database down) is delivered again by Telegram. A duplicate is dropped.
* `JournaledApplication.process_update` claims the update (a lease), handles it, then finishes it.
  Errors reach `note_failure` (from the error handler) and decide the end: a failure that may pass
  (Telegram 5xx, the network, the database) is tried again after a backoff, up to `MAX_ATTEMPTS`
  tries; any other, or the last try, ends the update as failed with one apology to the person.
* `sweep` (a JobQueue job) renews the leases of the updates in hand and takes over those nobody holds:
  left by a process that died, or due for another try, oldest first.
* A person's photos are handled one after the other in the order they were sent (`Lanes`), and past
  `backlog` waiting photos a new one is turned away with a note (`on_backlog`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from secrets import token_hex
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from telegram import Update
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import Application, CallbackContext

from bot.lanes import Lanes
from meallog.db.engine import is_transient
from meallog.store.updates import KEEP, UpdateStore

_LOGGER = logging.getLogger(__name__)

JOURNAL_KEY = "foodbot.journal"
#: Tries of one update before it ends as failed (the first and the retries).
MAX_ATTEMPTS = 5
#: The first retry's wait; each further one doubles it.
FIRST_BACKOFF = timedelta(seconds=2)
#: Updates taken over in one sweep at most.
SWEEP_BATCH = 200

Clock = Callable[[], datetime]
#: What the process calls a photo that comes past the person's backlog: a note, instead of handling.
BacklogHandler = Callable[[Update, CallbackContext[Any, Any, Any, Any]], Awaitable[None]]

_FAILURES: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "foodbot_update_failures", default=None
)


_TRY: contextvars.ContextVar[int | None] = contextvars.ContextVar("foodbot_update_try", default=None)


def tried_before() -> bool:
    """Whether the update being handled may have been handled (in part) before: not its first try, or
    handled outside the journal. A handler checks for what an earlier try left only then."""
    attempt = _TRY.get()
    return attempt is None or attempt > 1


def process_name() -> str:
    """This process's name in the journal: host, pid and a random part (a restart is a new owner)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{token_hex(4)}"


def may_pass(error: BaseException) -> bool:
    """Whether trying the whole update again later can help: Telegram, the network, the database or the
    queue's Redis were away for a moment. A 400 (the request itself is wrong) cannot, nor can a bug."""
    if isinstance(error, BadRequest):
        return False
    if isinstance(error, NetworkError | RetryAfter | ConnectionError | TimeoutError):
        return True
    if isinstance(error, RedisConnectionError | RedisTimeoutError):  # the queue's Redis away a moment
        return True
    return is_transient(error)


def note_failure(error: BaseException) -> None:
    """Tell the journal that the update being handled failed (called from the error handler)."""
    failures = _FAILURES.get()
    if failures is not None:
        failures.append(error)


def sender_of(update: Update) -> int | None:
    """The person an update is from (None for channel posts and the like)."""
    user = update.effective_user
    return user.id if user is not None else None


def is_photo(update: Update) -> bool:
    """A photo, or a file that may be one: these wait in the person's lane for the model."""
    message = update.message
    return message is not None and (bool(message.photo) or message.document is not None)


@dataclass
class Journal:
    """One process's side of the journal: what it has queued and holds, and how it ends each update."""

    store: UpdateStore
    clock: Clock
    lease: timedelta
    owner: str = field(default_factory=process_name)
    lanes: Lanes = field(default_factory=lambda: Lanes(backlog=50))
    apologize: Callable[[Update], Awaitable[None]] | None = None
    #: Updates put on this process's queue and not yet started; those of them recorded here, which
    #: this process holds from the start (no claim needed); and those being handled here.
    queued: set[int] = field(default_factory=set)
    recorded_here: set[int] = field(default_factory=set)
    in_hand: set[int] = field(default_factory=set)
    #: Set when the process begins to stop: it takes over nothing more (`sweep`).
    stopping: bool = False
    _last_prune: datetime | None = None

    async def accept(self, update: Update) -> bool:
        """Record a received update, held by this process from the start (its first try); False for one
        recorded before (delivered twice), and for one received while this process stops: that one is
        recorded held by nobody, for the processes that go on to take over at once."""
        payload = update.to_dict()
        held = not self.stopping
        try:
            fresh = await self.store.record(
                [(update.update_id, sender_of(update), payload)],
                self.clock(),
                self.owner if held else None,
                self.lease if held else None,
            )
        except Exception as exc:
            # Raised as a NetworkError, so PTB's poller backs off and asks again (the offset is not
            # moved on) and the webhook answers 500, so Telegram delivers the update again.
            _LOGGER.error("could not record update %s: %s", update.update_id, exc)
            raise NetworkError(f"could not record update {update.update_id}: {exc}") from exc
        if update.update_id not in fresh:
            _LOGGER.info("update %s was delivered again; handled once", update.update_id)
            return False
        if not held:
            _LOGGER.info("update %s came while stopping; left to the other processes", update.update_id)
            return False
        self.queued.add(update.update_id)
        self.recorded_here.add(update.update_id)
        return True

    async def hand_over(self, update_id: int) -> None:
        """Let go of an update this process recorded but will not handle (it is stopping): due at once
        for the processes that go on. Raises NetworkError when the database cannot be reached (then
        Telegram delivers it again, and its lease runs out for the others all the same)."""
        self.queued.discard(update_id)
        self.recorded_here.discard(update_id)
        try:
            await self.store.retry_later(update_id, self.owner, self.clock(), "")
        except Exception as exc:
            raise NetworkError(f"could not hand update {update_id} over: {exc}") from exc
        _LOGGER.info("update %s came while stopping; left to the other processes", update_id)

    async def begin(self, update_id: int) -> int | None:
        """Claim the update for this process: which try this is, or None when it is finished or
        held elsewhere."""
        self.queued.discard(update_id)
        if update_id in self.recorded_here:  # recorded as held by this process: its first try
            self.recorded_here.discard(update_id)
            self.in_hand.add(update_id)
            return 1
        attempts = await self.store.claim(update_id, self.owner, self.clock(), self.lease)
        if attempts is not None:
            self.in_hand.add(update_id)
        return attempts

    async def end(self, update: Update, failures: list[BaseException], attempts: int) -> None:
        """Finish the update, or schedule another try, or end it as failed with an apology."""
        update_id = update.update_id
        now = self.clock()
        try:
            if not failures:
                await self.store.finish(update_id, self.owner, now)
                return
            error = failures[0]
            text = "".join(traceback.format_exception(error))[-4000:]
            if all(may_pass(e) for e in failures) and attempts < MAX_ATTEMPTS:
                wait = FIRST_BACKOFF * 2 ** max(0, attempts - 1)
                _LOGGER.warning("update %s failed (%s); try %d in %s", update_id, error, attempts + 1, wait)
                await self.store.retry_later(update_id, self.owner, now + wait, text)
                return
            _LOGGER.error("update %s failed for good after %d tries: %s", update_id, attempts, error)
            await self.store.fail(update_id, self.owner, now, text)
            if self.apologize is not None:
                await self.apologize(update)
        except Exception:  # the database may be the thing that is down: the lease runs out, and a retry
            _LOGGER.exception("could not end update %s in the journal", update_id)
        finally:
            self.in_hand.discard(update_id)

    async def sweep(self, requeue: Callable[[Update], Awaitable[None]], bot: Any) -> int:
        """Renew this process's leases, then requeue the updates nobody holds; returns how many.

        A process that is stopping only renews: what it would take over now could not be handled before
        it exits, and other processes take it over instead."""
        now = self.clock()
        await self.store.renew(self.in_hand | self.recorded_here, self.owner, now + self.lease)
        if self.stopping:
            return 0
        due = await self.store.due(now, SWEEP_BATCH, skip=self.queued | self.in_hand)
        for pending in due:
            update = Update.de_json(pending.payload, bot)
            if update is None:
                continue
            self.queued.add(pending.update_id)
            _LOGGER.info("taking over update %s (try %d)", pending.update_id, pending.attempts + 1)
            await requeue(update)
        if self._last_prune is None or now - self._last_prune > timedelta(hours=1):
            self._last_prune = now
            await self.store.prune(now - KEEP)
        return len(due)


#: A stop still running after this long is reported (then again each time as long again has passed).
SLOW_STOP_S = 10.0


async def _report_slow_stop(journal: Journal | None, queue: asyncio.Queue[object]) -> None:
    """While the application stops, say every `SLOW_STOP_S` what it is still waiting for: the updates in
    hand, those queued, and what the other tasks are doing (a host deciding whether to wait or kill)."""
    waited = 0.0
    while True:
        await asyncio.sleep(SLOW_STOP_S)
        waited += SLOW_STOP_S
        tasks: Counter[str] = Counter()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                frames = task.get_stack(limit=1)
                tasks[frames[0].f_code.co_name if frames else task.get_name()] += 1
        in_hand = sorted(journal.in_hand)[:10] if journal is not None else []
        _LOGGER.warning(
            "still stopping after %.0f s: updates in hand %s, %d queued; tasks waiting in %s",
            waited,
            in_hand,
            queue.qsize(),
            dict(tasks.most_common(8)),
        )


class JournalQueue(asyncio.Queue[object]):
    """The Application's update queue: updates are recorded before they are queued (see module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: Journal | None = None
        #: Set once the application stops: a takeover is not queued any more (`requeue`).
        self.closed = False

    async def put(self, item: object) -> None:
        """Record, then queue; a duplicate is dropped. Raises NetworkError when it cannot record."""
        if self.journal is not None and isinstance(item, Update):
            if not await self.journal.accept(item):
                return
            if self.closed:  # the stop began while it was being recorded: nothing would take it now
                await self.journal.hand_over(item.update_id)
                return
        await super().put(item)

    async def requeue(self, item: Update) -> None:
        """Queue an update already recorded (taken over by the sweep); not once the application stops,
        when nothing would take it from the queue (it stays in the journal for another process)."""
        if self.closed:
            if self.journal is not None:
                self.journal.queued.discard(item.update_id)
            return
        await super().put(item)


class JournaledApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, with each update claimed from the journal, handled, then finished."""

    backlog_handler: BacklogHandler | None = None

    async def stop(self) -> None:
        """Stop taking updates in, then PTB's stop: handle every update queued, stop the jobs.

        PTB waits until its update queue is empty (`Queue.join`) while the jobs, the journal's sweep
        among them, still run, and while webhook posts taken just before the server closed are still
        being recorded. An update queued after PTB's fetcher had ended would never be taken from the
        queue, and the stop would wait for it forever (seen as a replica whose SIGTERM ended only in
        SIGKILL, its last updates answered a minute late, in the cluster bench). So from now on a
        takeover is not queued, and an update received is recorded for the other processes instead."""
        journal: Journal | None = self.bot_data.get(JOURNAL_KEY)
        if journal is not None:
            journal.stopping = True
        queue = self.update_queue
        if isinstance(queue, JournalQueue):
            queue.closed = True
        watch = asyncio.create_task(_report_slow_stop(journal, queue), name="foodbot-slow-stop")
        try:
            await super().stop()
        finally:
            watch.cancel()

    async def process_update(self, update: object) -> None:
        journal: Journal | None = self.bot_data.get(JOURNAL_KEY)
        if journal is None or not isinstance(update, Update):
            await super().process_update(update)
            return
        user_id = sender_of(update)
        if user_id is None or not is_photo(update):
            await self._handle(journal, update, self._dispatch)
        elif journal.lanes.full(user_id) and self.backlog_handler is not None:
            await self._handle(journal, update, self._turn_away)
        else:
            # Entered before anything else awaits, so a person's photos keep the order they were sent in.
            async with journal.lanes.turn(user_id):
                await self._handle(journal, update, self._dispatch)

    async def _dispatch(self, update: Update) -> None:
        await super().process_update(update)

    async def _turn_away(self, update: Update) -> None:
        assert self.backlog_handler is not None
        await self.backlog_handler(update, self.context_types.context.from_update(update, self))

    async def _handle(
        self, journal: Journal, update: Update, handle: Callable[[Update], Awaitable[None]]
    ) -> None:
        """Claim, handle, end: the errors the handlers raised (`note_failure`) decide the end."""
        try:
            attempts = await journal.begin(update.update_id)
        except Exception as exc:  # the database is away: the update stays recorded, the sweep retries
            _LOGGER.warning("could not claim update %s (%s); it is retried later", update.update_id, exc)
            journal.queued.discard(update.update_id)
            return
        if attempts is None:  # finished already, or another process has it
            return
        failures: list[BaseException] = []
        token = _FAILURES.set(failures)
        attempt = _TRY.set(attempts)
        try:
            await handle(update)
        except Exception as exc:  # raised outside any handler (building the context, say)
            failures.append(exc)
        finally:
            _TRY.reset(attempt)
            _FAILURES.reset(token)
        await journal.end(update, failures, attempts)
