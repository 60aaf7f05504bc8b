"""Sending the daily summaries: a JobQueue tick each minute claims who is due and sends, at Telegram's pace.

Exactly once per person per local day, with any number of bot processes on one database:

* the tick first plans people never planned (`SummaryStore.plan_summaries`), then claims due people with
  one conditional UPDATE (`SummaryStore.claim_due_summaries`, SKIP LOCKED on PostgreSQL), a batch at a
  time, while sender tasks work through the batch already claimed;
* a summary sent (or deliberately silent) moves the person's due time to the same wall time on the
  next calendar day (`meallog.summary_times`: DST neither skips nor doubles a day);
* a summary found due after its local day is over (the bot was down) is skipped, and today's is
  planned instead, due at once if today's time has passed too;
* a person not on a non-empty `ALLOWED_USER_IDS` (met before the list was set) is treated like a silent
  day: the day counts as done and nothing is sent, so they get summaries again, from the next day on,
  once they are on the list;
* 403 (the person blocked the bot): marked blocked, skipped until they write again (any update from
  them clears the mark, `PeopleStore.unblock`); "chat not found" likewise;
* summaries are bulk messages (`bot.telegram_io.bulk_messages`): they let the cards and button answers
  waiting in this process go first, so a card never waits behind the evening's summaries;
* 429: the message budget (`bot.telegram_io`) waits `retry_after` and retries; past its retries the
  sender waits and retries itself, and if the summary still cannot go within `RETRY_BUDGET` the claim
  is released so the next tick tries again: never dropped. A network failure also releases the claim;
* a claim whose process died is taken over after `LEASE`. Only a process dying between Telegram
  accepting a message and the database recording it can repeat a summary.

The tick reads the application's clock (`bot.clock`), which tests replace. What to do with each claim
is `meallog.summary_decision.decide`, a plain function; this module sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application, CallbackContext

from bot.clock import clock_of, now_of
from bot.sent_record import record_sent
from bot.telegram_io import bulk_messages, retry_seconds
from meallog.store.my_foods import MyFoodStore
from meallog.store.summaries import SummaryStore
from meallog.store.views import SummaryClaim, SummaryOutcome
from meallog.summaries import daily_message
from meallog.summary_decision import Verdict, decide, known_zone
from meallog.summary_times import next_due, sums_up_yesterday

_LOGGER = logging.getLogger(__name__)

SCHEDULER_KEY = "foodbot.summary_scheduler"
JOB_NAME = "daily-summaries"
TICK_SECONDS = 60
#: How long a claim is held before another process may take it over (its holder presumed dead).
LEASE = timedelta(minutes=10)
#: How long one summary may keep meeting 429s before its claim is released for the next tick.
RETRY_BUDGET = timedelta(minutes=3)

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class TickReport:
    """What one tick did: summaries sent, silent (empty day, by choice), not sent to people off the
    allow-list, skipped as too late, people found blocked, claims released for a later tick, and
    summaries given up on (a bad request)."""

    sent: int = 0
    silent: int = 0
    not_allowed: int = 0
    late: int = 0
    blocked: int = 0
    released: int = 0
    failed: int = 0
    retries: int = 0
    busy: bool = False


@dataclass
class _Job:
    claim: SummaryClaim
    day: date
    text: str


class SummaryScheduler:
    """Claims due summaries and sends them; one per process, shared by its ticks (which never overlap).

    `batch` people are claimed at a time; `senders` sends are in flight at most (the rate limiter sets
    the pace: 8 keep up with 30 a second at round trips up to 250 ms, and with 500 a second on loopback,
    while fewer connections keep httpx's pool cheap). `allowed` is `ALLOWED_USER_IDS`: when not empty,
    only those people get summaries (see the module docstring).
    """

    def __init__(
        self,
        bot: Bot,
        summaries: SummaryStore,
        *,
        allowed: frozenset[int] = frozenset(),
        batch: int = 200,
        senders: int = 8,
        lease: timedelta = LEASE,
        retry_budget: timedelta = RETRY_BUDGET,
        sleep: Sleep = asyncio.sleep,
        my_foods: MyFoodStore | None = None,
    ) -> None:
        self._bot = bot
        self._my_foods = my_foods
        self._summaries = summaries
        self._allowed = allowed
        self._batch = batch
        self._senders = senders
        self._lease = lease
        self._retry_budget = retry_budget.total_seconds()
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def tick(self, now: datetime) -> TickReport:
        """Send every summary due at `now` (plan the unplanned first). A tick still running makes this
        one return at once (`busy`): the running one claims until nothing is due."""
        if self._lock.locked():
            return TickReport(busy=True)
        async with self._lock:
            await self._summaries.plan_summaries(now)
            return await self._run(now)

    async def _run(self, now: datetime) -> TickReport:
        report = TickReport()
        queue: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=self._batch)
        finished: list[SummaryOutcome] = []
        done = asyncio.Event()

        async def produce() -> None:
            try:
                while True:
                    claims = await self._summaries.claim_due_summaries(now, self._batch, self._lease)
                    if not claims:
                        return
                    jobs, settled = await self._prepare(claims, now, report)
                    # Not sent (too late, already done, silent): written at once, so a summary that is
                    # due again now (today's, after a late one) is claimed in this very tick.
                    await self._summaries.finish_summaries(settled, now)
                    for job in jobs:
                        await queue.put(job)
            finally:
                for _ in range(self._senders):
                    await queue.put(None)

        async def send() -> None:
            while (job := await queue.get()) is not None:
                finished.append(await self._deliver(job, report))

        async def record() -> None:
            """Write outcomes in batches while sending goes on (a claim is held until written)."""
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), timeout=0.25)
                batch = finished[:]
                del finished[: len(batch)]
                await self._finish(batch, now)

        recorder = asyncio.create_task(record())
        try:
            results = await asyncio.gather(
                produce(), *(send() for _ in range(self._senders)), return_exceptions=True
            )
        finally:
            done.set()
            await recorder
        await self._finish(finished, now)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return report

    async def _finish(self, outcomes: list[SummaryOutcome], now: datetime) -> None:
        """Record what became of summaries that went out (or not): through a database blip
        (`bot.sent_record`), since a claim left unfinished is sent again once its lease runs out."""
        if outcomes:
            await record_sent(lambda: self._summaries.finish_summaries(outcomes, now), "sent summaries")

    async def _prepare(
        self, claims: list[SummaryClaim], now: datetime, report: TickReport
    ) -> tuple[list[_Job], list[SummaryOutcome]]:
        """Decide per claim: too late (plan today's), already summed up, not allowed, or compose the text."""
        settled: list[SummaryOutcome] = []
        wanted: list[tuple[SummaryClaim, date]] = []
        for claim in claims:
            decision = decide(claim, now, self._allowed)
            if decision.verdict is Verdict.SEND and decision.day is not None:
                wanted.append(
                    (claim if known_zone(claim.timezone) else replace(claim, timezone="UTC"), decision.day)
                )
                continue
            if decision.verdict is Verdict.LATE:
                report.late += 1
            elif decision.verdict is Verdict.NOT_ALLOWED:
                report.not_allowed += 1
            # Only a person off the allow-list has the day recorded (as done, silently); a late summary
            # or one already sent leaves the record of the last day summed up as it is.
            day = decision.day if decision.verdict is Verdict.NOT_ALLOWED else None
            settled.append(SummaryOutcome(claim.user_id, claim.claimed_at, decision.next_due, day))
        if self._my_foods is not None:  # the summaries name people's own foods too
            await self._my_foods.refresh_many([claim.user_id for claim, _ in wanted])
        meals = await self._summaries.meals_on_days((claim.user_id, day) for claim, day in wanted)
        jobs = []
        for claim, day in wanted:
            following = next_due(day, claim.summary_minute, claim.timezone)
            try:
                text = daily_message(
                    day,
                    meals[(claim.user_id, day)],
                    claim.goals,
                    claim.settings,
                    claim.timezone,
                    next_morning=sums_up_yesterday(claim.summary_minute),
                )
            except Exception:  # one person's odd data must not stop everyone's summary
                _LOGGER.exception("could not compose the summary of user %s", claim.user_id)
                report.failed += 1
                settled.append(SummaryOutcome(claim.user_id, claim.claimed_at, following, day))
                continue
            if text is None:
                report.silent += 1
                settled.append(SummaryOutcome(claim.user_id, claim.claimed_at, following, day))
            else:
                jobs.append(_Job(claim, day, text))
        return jobs, settled

    async def _deliver(self, job: _Job, report: TickReport) -> SummaryOutcome:
        """Send one summary; retry 429s; turn every other answer into an outcome."""
        claim = job.claim
        following = next_due(job.day, claim.summary_minute, claim.timezone)
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            try:
                with bulk_messages():  # after the cards and answers people are waiting for
                    await self._bot.send_message(claim.chat_id, job.text, parse_mode=ParseMode.HTML)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if loop.time() - started + wait > self._retry_budget:
                    _LOGGER.warning(
                        "summary of user %s still rate limited; a later tick retries", claim.user_id
                    )
                    report.released += 1
                    return SummaryOutcome(claim.user_id, claim.claimed_at, None)
                report.retries += 1
                await self._sleep(wait)
                continue
            except Forbidden:
                report.blocked += 1
                return SummaryOutcome(claim.user_id, claim.claimed_at, following, blocked=True)
            except BadRequest as exc:
                if "chat not found" in exc.message.lower():
                    report.blocked += 1
                    return SummaryOutcome(claim.user_id, claim.claimed_at, following, blocked=True)
                # Retrying the same text cannot help: record the day as done, loudly.
                _LOGGER.error("Telegram refused the summary of user %s: %s", claim.user_id, exc.message)
                report.failed += 1
                return SummaryOutcome(claim.user_id, claim.claimed_at, following, job.day)
            except NetworkError as exc:  # includes TimedOut: a later tick tries again
                _LOGGER.warning("summary of user %s not sent (%s); a later tick retries", claim.user_id, exc)
                report.released += 1
                return SummaryOutcome(claim.user_id, claim.claimed_at, None)
            report.sent += 1
            return SummaryOutcome(claim.user_id, claim.claimed_at, following, job.day)


def scheduler_of(application: Application[Any, Any, Any, Any, Any, Any]) -> SummaryScheduler:
    """The application's scheduler, made on first use from its bot, summary store and allow-list."""
    from bot.services import SERVICES_KEY, Services

    scheduler: SummaryScheduler | None = application.bot_data.get(SCHEDULER_KEY)
    if scheduler is None:
        services: Services = application.bot_data[SERVICES_KEY]
        scheduler = SummaryScheduler(
            application.bot,
            services.summaries,
            allowed=services.settings.allowed_user_ids,
            my_foods=services.my_foods,
        )
        application.bot_data[SCHEDULER_KEY] = scheduler
    return scheduler


async def summary_tick(context: CallbackContext[Any, Any, Any, Any]) -> None:
    """The minute job: send the summaries due now."""
    report = await scheduler_of(context.application).tick(now_of(context))
    if report.sent or report.blocked or report.released or report.failed:
        _LOGGER.info("daily summaries: %s", report)


def schedule_summaries(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Run `summary_tick` every minute, on the minute, on the application's JobQueue."""
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("the daily summaries need PTB's job queue: install python-telegram-bot[job-queue]")
    now = clock_of(application)()
    first = TICK_SECONDS - (now.second + now.microsecond / 1e6) % TICK_SECONDS
    job_queue.run_repeating(summary_tick, interval=TICK_SECONDS, first=first, name=JOB_NAME)
