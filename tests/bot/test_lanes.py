"""Fairness under a burst: one person's photos in order, everyone's first photo not stuck behind them."""

from __future__ import annotations

import asyncio

import pytest

from bot.lanes import Lanes


async def test_a_persons_photos_are_handled_one_at_a_time_in_the_order_sent() -> None:
    lanes = Lanes(backlog=10, slots=4)
    done: list[int] = []
    running = 0

    async def photo(n: int) -> None:
        nonlocal running
        async with lanes.turn(1):
            running += 1
            assert running == 1, "one photo of a person at a time"
            await asyncio.sleep(0.01 * (5 - n))  # later photos are quicker: order must still hold
            done.append(n)
            running -= 1

    await asyncio.gather(*(photo(n) for n in range(5)))
    assert done == [0, 1, 2, 3, 4]
    assert lanes.waiting(1) == 0


async def test_another_persons_photo_does_not_wait_for_a_heavy_lane() -> None:
    lanes = Lanes(backlog=500, slots=1)
    order: list[str] = []

    async def photo(person: int, label: str) -> None:
        async with lanes.turn(person), lanes.slot():
            await asyncio.sleep(0.01)
            order.append(label)

    heavy = [asyncio.create_task(photo(1, f"heavy{n}")) for n in range(200)]
    await asyncio.sleep(0)  # all 200 are in their lane
    light = asyncio.create_task(photo(2, "light"))
    await light
    assert order.index("light") <= 2, f"the light photo came after {order.index('light')} heavy ones"
    await asyncio.gather(*heavy)


async def test_the_backlog_is_full_at_its_size_and_frees_as_photos_finish() -> None:
    lanes = Lanes(backlog=2, slots=1)
    release = asyncio.Event()

    async def photo() -> None:
        async with lanes.turn(7):
            await release.wait()

    tasks = [asyncio.create_task(photo()) for _ in range(2)]
    await asyncio.sleep(0)
    assert lanes.full(7) and not lanes.full(8)
    release.set()
    await asyncio.gather(*tasks)
    assert not lanes.full(7)


def test_a_lane_needs_room() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Lanes(backlog=0)
