"""The in-process queue: batches under load, answers each caller its own photo, never hangs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence

import pytest

from model.bundle import ModelBundle
from model.queue import InProcessQueue
from model.recognition import Recognition
from model.recognizer import Recognizer
from model.runtime import Pixels
from tests.conftest import photo


class GatedRecognizer(Recognizer):
    """The real recognizer, held at a gate so a test can fill the queue while the model is busy."""

    gate: threading.Event

    def recognize_tensors(self, tensors: Sequence[Pixels]) -> list[Recognition]:
        self.gate.wait(10)
        return super().recognize_tensors(tensors)


@pytest.fixture
async def queue(default_bundle: ModelBundle) -> AsyncIterator[InProcessQueue]:
    q = InProcessQueue(lambda: Recognizer(default_bundle, "cpu"), max_batch=8, max_wait_ms=50)
    await q.start()
    yield q
    await q.close()


async def test_concurrent_photos_are_batched_and_each_caller_gets_its_own(queue: InProcessQueue) -> None:
    names = ["coffee.png", "orange.jpg", "chelsea.png"] * 4
    answers = await asyncio.gather(*(queue.recognize(photo(n)) for n in names))
    assert max(queue.batch_sizes) > 1
    for name, answer in zip(names, answers, strict=True):
        if name == "coffee.png":
            assert answer.foods[0].key == "espresso"
        elif name == "orange.jpg":
            assert "orange" in [f.key for f in answer.foods[:2]]
        else:
            assert answer.no_food


async def test_a_single_photo_is_answered_alone(queue: InProcessQueue) -> None:
    answer = await queue.recognize(photo("coffee.png"))
    assert answer.foods[0].key == "espresso"
    assert queue.batch_sizes[-1] == 1


async def test_a_poisoned_photo_fails_only_its_caller(queue: InProcessQueue) -> None:
    good, bad, other = await asyncio.gather(
        queue.recognize(photo("coffee.png")),
        queue.recognize(photo("orange.jpg")[:2000]),
        queue.recognize(photo("fruits.jpg")),
    )
    assert bad.error_kind == "image" and bad.error
    assert good.error is None and good.foods[0].key == "espresso"
    assert other.error is None and other.foods[0].key in {"orange", "lemon"}


async def test_full_queue_answers_busy_at_once_and_slow_model_times_out(default_bundle: ModelBundle) -> None:
    gate = threading.Event()

    def factory() -> Recognizer:
        recognizer = GatedRecognizer(default_bundle, "cpu")
        recognizer.gate = gate
        return recognizer

    q = InProcessQueue(factory, max_batch=1, max_wait_ms=1, max_pending=1, timeout_s=1.0)
    await q.start()
    try:
        held = []
        for _ in range(q.recognizer.runtime.pipeline_depth):  # taken by the model, held at the gate
            held.append(asyncio.create_task(q.recognize(photo("coffee.png"))))
            await asyncio.sleep(0.3)
        waiting = asyncio.create_task(q.recognize(photo("coffee.png")))  # waits in the queue (1 slot)
        await asyncio.sleep(0.3)
        refused = await q.recognize(photo("coffee.png"))
        assert refused.error_kind == "busy"
        assert "try again" in (refused.error or "")
        assert (await waiting).error_kind == "timeout"
        gate.set()
        for task in held:
            assert (await task).error_kind == "timeout"
        for _ in range(100):  # the model finishes the held batch, then the queue drains
            after = await q.recognize(photo("coffee.png"))
            if after.error_kind != "busy":
                break
            await asyncio.sleep(0.05)
        assert after.foods[0].key == "espresso", "the queue works again once the model is free"
    finally:
        gate.set()
        await q.close()


async def test_device_decoding_queue_batches_bytes_and_isolates_bad_photos(
    default_bundle: ModelBundle,
) -> None:
    """The GPU configuration of the queue (photos decoded as a batch on the device), run on the CPU."""
    q = InProcessQueue(
        lambda: Recognizer(default_bundle, "cpu", device_decode=True), max_batch=8, max_wait_ms=50
    )
    await q.start()
    try:
        answers = await asyncio.gather(
            *(
                q.recognize(data)
                for data in [photo("orange.jpg"), b"junk", photo("coffee.png"), photo("orange.jpg")]
            )
        )
    finally:
        await q.close()
    assert "orange" in [f.key for f in answers[0].foods[:2]]
    assert answers[1].error_kind == "image"
    assert answers[2].foods[0].key == "espresso"
    assert max(q.batch_sizes) > 1


async def test_closing_answers_the_photos_the_model_is_on_and_the_waiting_ones(
    default_bundle: ModelBundle,
) -> None:
    """A shutdown in the middle of a batch: the model's photos get their real answer, the queued ones a
    clear error, and nobody waits for the timeout."""
    gate = threading.Event()

    def factory() -> Recognizer:
        recognizer = GatedRecognizer(default_bundle, "cpu")
        recognizer.gate = gate
        return recognizer

    q = InProcessQueue(factory, max_batch=1, max_wait_ms=1, timeout_s=30.0)
    await q.start()
    held = []
    for _ in range(q.recognizer.runtime.pipeline_depth):
        held.append(asyncio.create_task(q.recognize(photo("coffee.png"))))
        await asyncio.sleep(0.3)
    waiting = asyncio.create_task(q.recognize(photo("coffee.png")))
    await asyncio.sleep(0.3)
    closing = asyncio.create_task(q.close())
    await asyncio.sleep(0.2)
    gate.set()
    await asyncio.wait_for(closing, 10)
    for task in held:
        assert (await task).foods[0].key == "espresso"
    assert (await asyncio.wait_for(waiting, 1)).error_kind == "internal"
