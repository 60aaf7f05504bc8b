"""Switching the served model without a restart: the in-process queue takes a new bundle between
batches; no photo is lost, none is answered by two models, and a bundle that decodes photos at another
size is not switched to."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from model.bundle import ModelBundle
from model.queue import InProcessQueue
from model.recognizer import Recognizer
from model.serving_watch import BundleWatch
from tests.conftest import photo
from tests.model.variants import variant_bundle


class Wanted:
    """What the registry would say should serve: a path the test sets."""

    def __init__(self) -> None:
        self.path: Path | None = None

    async def __call__(self) -> Path | None:
        return self.path


def _build(bundle: ModelBundle) -> Recognizer:
    recognizer = Recognizer(bundle, device="cpu")
    recognizer.warm_up()
    return recognizer


@pytest.fixture
async def served(default_bundle: ModelBundle) -> AsyncIterator[tuple[InProcessQueue, Wanted, BundleWatch]]:
    wanted = Wanted()
    watch = BundleWatch(wanted, _build, every_s=0.05)
    queue = InProcessQueue(lambda: _build(default_bundle), max_batch=4)
    queue.follow(watch)
    await queue.start()
    yield queue, wanted, watch
    await queue.close()


async def test_a_promoted_bundle_serves_from_the_next_batch_and_no_photo_is_lost(
    served: tuple[InProcessQueue, Wanted, BundleWatch], default_bundle: ModelBundle, pizza_bundle: ModelBundle
) -> None:
    queue, wanted, watch = served
    before = await queue.recognize(photo("coffee.png"))
    assert before.bundle_id == default_bundle.id and before.foods[0].key == "espresso"

    answers = []

    async def keep_sending() -> None:
        for _ in range(40):
            answers.append(await queue.recognize(photo("coffee.png")))

    sending = asyncio.create_task(keep_sending())
    await asyncio.sleep(0.1)
    wanted.path = pizza_bundle.path  # promoted meanwhile
    await asyncio.wait_for(watch.changed.wait(), timeout=60)
    await sending

    assert all(answer.error is None for answer in answers), "no photo lost to the switch"
    ids = [answer.bundle_id for answer in answers]
    assert set(ids) <= {default_bundle.id, pizza_bundle.id}
    switched = ids.index(pizza_bundle.id) if pizza_bundle.id in ids else len(ids)
    assert all(bundle_id == pizza_bundle.id for bundle_id in ids[switched:]), "one switch, never back"
    for answer in answers:  # each photo answered wholly by the model its bundle id names
        expected = "pizza" if answer.bundle_id == pizza_bundle.id else "espresso"
        assert answer.foods[0].key == expected
    after = await queue.recognize(photo("coffee.png"))
    assert after.bundle_id == pizza_bundle.id and queue.served.bundle_id == pizza_bundle.id

    wanted.path = default_bundle.path  # rolled back
    await asyncio.sleep(0)
    for _ in range(200):
        if (await queue.recognize(photo("coffee.png"))).bundle_id == default_bundle.id:
            break
        await asyncio.sleep(0.05)
    assert queue.served.bundle_id == default_bundle.id


async def test_a_bundle_that_decodes_at_another_size_is_not_switched_to(
    served: tuple[InProcessQueue, Wanted, BundleWatch],
    default_bundle: ModelBundle,
    tmp_path: Path,
) -> None:
    queue, wanted, watch = served
    bigger = variant_bundle(default_bundle, tmp_path / "big", "pizza", image_size=256)
    wanted.path = bigger.path
    await watch.check()
    assert watch.take() is None
    answer = await queue.recognize(photo("coffee.png"))
    assert answer.error is None and answer.bundle_id == default_bundle.id


async def test_a_registry_that_cannot_be_read_keeps_the_model_serving(default_bundle: ModelBundle) -> None:
    async def broken() -> Path | None:
        raise ConnectionError("database away")

    watch = BundleWatch(broken, _build, every_s=0.05)
    queue = InProcessQueue(lambda: _build(default_bundle))
    queue.follow(watch)
    await queue.start()
    try:
        await asyncio.sleep(0.2)
        answer = await queue.recognize(photo("coffee.png"))
        assert answer.error is None and answer.bundle_id == default_bundle.id
    finally:
        await queue.close()


async def test_promoted_and_rolled_back_before_a_batch_keeps_what_serves(
    default_bundle: ModelBundle, pizza_bundle: ModelBundle
) -> None:
    wanted = Wanted()
    watch = BundleWatch(wanted, _build, every_s=3600)  # only the checks below look
    queue = InProcessQueue(lambda: _build(default_bundle))
    queue.follow(watch)
    await queue.start()
    try:
        wanted.path = pizza_bundle.path
        await watch.check()  # built aside, not yet taken
        wanted.path = default_bundle.path  # rolled back meanwhile
        await watch.check()
        assert watch.take() is None
        assert (await queue.recognize(photo("coffee.png"))).bundle_id == default_bundle.id
    finally:
        await queue.close()


async def test_a_bundle_rolled_back_while_it_was_built_is_not_taken(
    default_bundle: ModelBundle, pizza_bundle: ModelBundle
) -> None:
    wanted = Wanted()

    def build_then_roll_back(bundle: ModelBundle) -> Recognizer:
        recognizer = _build(bundle)
        wanted.path = default_bundle.path  # the rollback lands while the load is under way
        return recognizer

    watch = BundleWatch(wanted, build_then_roll_back, every_s=3600)
    watch.start(_build(default_bundle))
    wanted.path = pizza_bundle.path
    await watch.check()
    assert watch.take() is None
    await watch.close()
