"""Fairness under a burst: each person's photos in a lane of their own, one at a time, in order.

A person who sends 200 photos at once holds one place in the line for the model, like everyone else,
so another person's single photo is not stuck behind all 200: the model's slots (`slots`, shared by the
lanes) go round the people who wait. A lane longer than `backlog` turns new photos away (the caller
sends a note), so one person cannot pile up unbounded work. Plain asyncio; nothing here knows Telegram.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Lanes:
    """Per-person FIFO lanes (`turn`) and a shared pool of slots for the expensive part (`slot`)."""

    def __init__(self, *, backlog: int, slots: int = 32) -> None:
        if backlog < 1 or slots < 1:
            raise ValueError("backlog and slots must be at least 1")
        self.backlog = backlog
        self._slots = asyncio.Semaphore(slots)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: Counter[int] = Counter()

    def waiting(self, person: int) -> int:
        """The person's photos in their lane: the one being handled and those behind it."""
        return self._waiting[person]

    def full(self, person: int) -> bool:
        """Whether a new photo of the person's would go past their backlog."""
        return self._waiting[person] >= self.backlog

    def busy(self) -> bool:
        """Whether photos are waiting for a slot (the bot is under load)."""
        return self._slots.locked()

    @asynccontextmanager
    async def turn(self, person: int) -> AsyncIterator[None]:
        """Wait for the person's earlier photos to be done; entered in the order of the calls."""
        self._waiting[person] += 1
        lock = self._locks.setdefault(person, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            self._waiting[person] -= 1
            if self._waiting[person] <= 0:
                del self._waiting[person]
                self._locks.pop(person, None)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the shared slots (download and recognition), granted first come, first served."""
        async with self._slots:
            yield
