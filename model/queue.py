"""The recognition queue: one async call, `recognize(image_bytes) -> Recognition`, for the bot.

`InProcessQueue` is the default backend: a bounded asyncio queue feeding a dynamic batcher (collect up
to `max_batch` photos or until `max_wait_ms` has passed since the first, then one forward pass), the model
in its own thread pool with as many batches in flight as the runtime's `pipeline_depth` (2 for ONNX on
the CPU, so one batch's last photos overlap the next; 1 for torch), and decoding in a small thread pool,
so the event loop never blocks on pixels or on the model. A full queue answers "busy" at once instead of
building an unbounded backlog; a caller that waits longer than `timeout_s` gets a "timeout" answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from model import metrics
from model.bundle import ServedModel
from model.images import ImageDecodeError
from model.recognition import Recognition

if TYPE_CHECKING:  # the bot imports this module for the protocol; only the in-process queue loads a model
    from model.recognizer import Recognizer
    from model.runtime import Pixels
    from model.serving_watch import BundleWatch

_LOGGER = logging.getLogger(__name__)

BUSY_MESSAGE = "Many photos right now — please try again in a minute."
TIMEOUT_MESSAGE = "Recognition is taking too long right now — please try again in a minute."
INTERNAL_MESSAGE = "Something went wrong while looking at that photo — please try again."
BACKEND = "inprocess"

# The labelled metric children, looked up once: `labels()` costs microseconds, paid per photo otherwise.
_DEPTH = metrics.QUEUE_DEPTH.labels(BACKEND)
_BATCH = metrics.BATCH_SIZE.labels(BACKEND)
_WAITED = metrics.QUEUE_SECONDS.labels(BACKEND)
_INFERENCE = metrics.INFERENCE_SECONDS.labels(BACKEND)


class RecognitionQueue(Protocol):
    """What the bot needs from any backend (in-process, Redis Streams)."""

    @property
    def served(self) -> ServedModel:
        """The model that answers (its input size and "unsure" threshold), known once started."""
        ...

    async def start(self) -> None: ...

    async def recognize(self, image_bytes: bytes) -> Recognition: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Job:
    """A photo waiting for the model: decoded already (CPU path) or as bytes (decoded on the device)."""

    payload: Pixels | bytes
    future: asyncio.Future[Recognition] = field(repr=False)
    queued_at: float = field(default_factory=time.perf_counter)


def _run_batch(recognizer: Recognizer, batch: list[_Job]) -> list[Recognition]:
    """One forward pass (in a model thread); device-decoded batches decode there too."""
    payloads = [job.payload for job in batch]
    if all(isinstance(p, bytes) for p in payloads):
        return recognizer.predict([p for p in payloads if isinstance(p, bytes)])
    return recognizer.recognize_tensors([p for p in payloads if not isinstance(p, bytes)])


class InProcessQueue:
    """Dynamic batching in the bot's own process (see the module docstring)."""

    def __init__(
        self,
        recognizer_factory: Callable[[], Recognizer],
        *,
        max_batch: int = 16,
        max_wait_ms: float = 10.0,
        max_pending: int = 64,
        timeout_s: float = 30.0,
        decode_threads: int = 2,
    ) -> None:
        self._factory = recognizer_factory
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.timeout_s = timeout_s
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=max_pending)
        self._model_threads: ThreadPoolExecutor | None = None
        self._decoders = ThreadPoolExecutor(max_workers=decode_threads, thread_name_prefix="foodbot-decode")
        self._recognizer: Recognizer | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        #: Sizes of the batches run so far (most recent last, bounded); for tests and metrics.
        self.batch_sizes: list[int] = []
        self._watch: BundleWatch | None = None

    def follow(self, watch: BundleWatch) -> None:
        """Switch to the bundle `watch` says should serve, between batches (`model.serving_watch`)."""
        self._watch = watch
        if self._recognizer is not None:
            watch.start(self._recognizer)

    @property
    def recognizer(self) -> Recognizer:
        if self._recognizer is None:
            raise RuntimeError("the queue is not started")
        return self._recognizer

    @property
    def served(self) -> ServedModel:
        return ServedModel.of(self.recognizer.bundle)

    async def start(self) -> None:
        """Load the model (in a worker thread, off the event loop) and start batching."""
        if self._task is not None:
            return
        self._recognizer = await asyncio.to_thread(self._factory)
        if self._watch is not None:
            self._watch.start(self._recognizer)
        depth = self._recognizer.runtime.pipeline_depth
        self._model_threads = ThreadPoolExecutor(max_workers=depth, thread_name_prefix="foodbot-model")
        self._task = asyncio.create_task(self._run(depth), name="foodbot-batcher")

    async def recognize(self, image_bytes: bytes) -> Recognition:
        """Recognize one photo; never raises for bad input, a full queue or a slow model."""
        recognizer = self.recognizer
        loop = asyncio.get_running_loop()
        if self._queue.full():
            return self._failed("busy", BUSY_MESSAGE)
        payload: Pixels | bytes = image_bytes
        if not recognizer.decodes_on_device:
            try:
                payload = await loop.run_in_executor(self._decoders, recognizer.preprocess, image_bytes)
            except ImageDecodeError as exc:
                return self._failed("image", exc.friendly)
        job = _Job(payload, loop.create_future())
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            return self._failed("busy", BUSY_MESSAGE)
        _DEPTH.set(self._queue.qsize())
        try:
            # On timeout the future is cancelled with this wait, so the batcher skips the photo if it
            # has not reached the model yet.
            async with asyncio.timeout(self.timeout_s):
                answer = await job.future
        except TimeoutError:
            return self._failed("timeout", TIMEOUT_MESSAGE)
        if answer.error_kind:
            metrics.ERRORS.labels(BACKEND, answer.error_kind).inc()
        return answer

    def _failed(self, kind: str, message: str) -> Recognition:
        metrics.ERRORS.labels(BACKEND, kind).inc()
        return Recognition.failed(self.recognizer.bundle_id, message, kind=kind)

    async def _next_batch(self, batch: list[_Job]) -> None:
        """Fill `batch` (given by the caller, so a shutdown mid-way still sees what was taken)."""
        loop = asyncio.get_running_loop()
        batch.append(await self._queue.get())
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break

    async def _run(self, depth: int) -> None:
        """Form batches and hand them to the model, at most `depth` at a time.

        A slot is taken *before* the batch is formed, so while the model is busy photos pile up in the
        queue and the next batch is as large as the backlog allows (up to `max_batch`).
        """
        slots = asyncio.Semaphore(depth)
        while True:
            await slots.acquire()
            forming: list[_Job] = []
            try:
                await self._next_batch(forming)
            except BaseException:
                slots.release()
                self._fail_internal(forming)
                raise
            batch = [job for job in forming if not job.future.done()]
            if not batch:
                slots.release()
                continue
            if self._watch is not None and (switched := self._watch.take()) is not None:
                self._recognizer = switched  # batches in flight finish on the model they started with
            task = asyncio.create_task(self._answer(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            task.add_done_callback(lambda _task: slots.release())

    def _fail_internal(self, jobs: list[_Job]) -> None:
        """Answer jobs that will never reach the model (shutdown) with a clear error instead of silence."""
        for job in jobs:
            if not job.future.done() and self._recognizer is not None:
                job.future.set_result(
                    Recognition.failed(self._recognizer.bundle_id, INTERNAL_MESSAGE, kind="internal")
                )

    async def _answer(self, batch: list[_Job]) -> None:
        """One forward pass in a model thread; every job of the batch gets its answer, whatever happens."""
        recognizer = self.recognizer
        self.batch_sizes = [*self.batch_sizes[-999:], len(batch)]
        started = time.perf_counter()
        _DEPTH.set(self._queue.qsize())
        _BATCH.observe(len(batch))
        for job in batch:
            _WAITED.observe(started - job.queued_at)
        loop = asyncio.get_running_loop()
        try:
            answers = await loop.run_in_executor(self._model_threads, _run_batch, recognizer, batch)
            _INFERENCE.observe(time.perf_counter() - started)
        except Exception:
            _LOGGER.exception("recognition failed for a batch of %d", len(batch))
            self._fail_internal(batch)
            return
        for job, answer in zip(batch, answers, strict=True):
            if not job.future.done():
                job.future.set_result(answer)

    async def close(self) -> None:
        """Stop batching; callers still waiting get an "internal" answer rather than hanging."""
        if self._watch is not None:
            await self._watch.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._in_flight:  # batches the model is on: their answers are moments away
            await asyncio.wait(self._in_flight, timeout=self.timeout_s)
        self._fail_internal([self._queue.get_nowait() for _ in range(self._queue.qsize())])
        if self._model_threads is not None:
            self._model_threads.shutdown(wait=False)
        self._decoders.shutdown(wait=False)
