"""The record of a message that went out survives a moment without the database (`bot.sent_record`)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.sent_record import WAITS_S, record_sent
from meallog.db.engine import is_transient


class Flaky:
    """A write that fails `failures` times with `error`, then returns 42; counts its tries and waits."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.tries = 0
        self.waited: list[float] = []

    async def write(self) -> int:
        self.tries += 1
        if self.tries <= self.failures:
            raise self.error
        return 42

    async def sleep(self, seconds: float) -> None:
        self.waited.append(seconds)


CUT = OperationalError("UPDATE meals", {}, ConnectionError("terminating connection"))


async def test_a_cut_connection_is_tried_again_until_the_write_lands() -> None:
    flaky = Flaky(2, CUT)
    assert await record_sent(flaky.write, "a card", sleep=flaky.sleep) == 42
    assert flaky.tries == 3 and flaky.waited == list(WAITS_S[:2])


async def test_a_database_away_for_longer_still_fails_after_all_the_waits() -> None:
    flaky = Flaky(len(WAITS_S) + 1, CUT)
    with pytest.raises(OperationalError):
        await record_sent(flaky.write, "a card", sleep=flaky.sleep)
    assert flaky.tries == len(WAITS_S) + 1 and sum(flaky.waited) == pytest.approx(sum(WAITS_S))


async def test_an_error_that_cannot_pass_is_not_tried_again() -> None:
    broken = IntegrityError("INSERT", {}, ValueError("duplicate key"))
    assert not is_transient(broken)
    flaky = Flaky(1, broken)
    with pytest.raises(IntegrityError):
        await record_sent(flaky.write, "a card", sleep=flaky.sleep)
    assert flaky.tries == 1 and flaky.waited == []
