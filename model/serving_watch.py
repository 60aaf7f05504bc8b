"""Switching the served model without a restart: watch which bundle should serve, load it aside, swap.

A process that serves (the in-process queue, a `foodbot worker`) asks `wanted` every `every_s` seconds
which bundle should serve now (the registry's promoted one: `meallog.store.registry`). When that is not
the bundle it serves, the new recognizer is built in a thread while the old one keeps answering; the
batcher then takes it with `take()` between two batches. So no photo waits for the load, no photo is
lost, and no batch is answered by two models: a batch runs whole on the recognizer it started with.

A bundle whose preprocessing differs from the served one (another input size) is not switched to here:
photos already decoded for the old size are in the queue; a restart serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from model.bundle import BundleError, ModelBundle, load_bundle

if TYPE_CHECKING:
    from model.recognizer import Recognizer

_LOGGER = logging.getLogger(__name__)

#: Where the bundle to serve is, or None to keep serving what serves (nothing promoted yet).
Wanted = Callable[[], Awaitable[Path | None]]
Build = Callable[[ModelBundle], "Recognizer"]


class BundleWatch:
    """Polls `wanted`, builds the new recognizer aside, and hands it over once (`take`)."""

    def __init__(self, wanted: Wanted, build: Build, *, every_s: float = 30.0) -> None:
        self._wanted = wanted
        self._build = build
        self.every_s = every_s
        self.serving_id = ""
        self._ready: Recognizer | None = None
        self._refused: set[str] = set()
        self._last_error = ""
        self._task: asyncio.Task[None] | None = None
        #: Set whenever a new recognizer is ready (tests and the worker's loop wait on it).
        self.changed = asyncio.Event()

    def start(self, serving: Recognizer) -> None:
        """Begin watching on behalf of a process that serves `serving` now."""
        self.serving_id = serving.bundle_id
        self._serving = serving
        if self._task is None and self.every_s > 0:
            self._task = asyncio.create_task(self._watch(), name="foodbot-bundle-watch")

    def take(self) -> Recognizer | None:
        """The recognizer to switch to before the next batch, once; None when nothing changed."""
        ready, self._ready = self._ready, None
        if ready is not None:
            self.serving_id = ready.bundle_id
            self._serving = ready
            _LOGGER.info("now serving bundle %s", ready.bundle_id)
        return ready

    async def check(self) -> None:
        """One look at what should serve; builds it (in a thread) when it is new. Never raises: a failed
        look or load is logged and the process keeps serving what it serves."""
        try:
            path = await self._wanted()
            if path is None:
                return
            bundle = await asyncio.to_thread(load_bundle, path)
            if bundle.id == self.serving_id:
                self._ready = None  # promoted and rolled back before a batch took it: keep what serves
                return
            if bundle.id in self._refused or (self._ready is not None and self._ready.bundle_id == bundle.id):
                return
            if bundle.meta.data_config != self._serving.bundle.meta.data_config:
                _LOGGER.warning(
                    "bundle %s preprocesses photos differently from %s: it serves from this process's "
                    "next start",
                    bundle.id,
                    self.serving_id,
                )
                self._refused.add(bundle.id)
                return
            recognizer = await asyncio.to_thread(self._build, bundle)
            still = await self._wanted()  # rolled back while it was being built: not this one after all
            if still is None or (await asyncio.to_thread(load_bundle, still)).id != bundle.id:
                return
        except (OSError, BundleError, ValueError) as exc:
            _LOGGER.warning("could not load the bundle to serve: %s", exc)
            return
        except Exception as exc:  # a database that is away: try again at the next look, and say so once
            if str(exc) != self._last_error:
                _LOGGER.warning("could not look up the bundle to serve: %s", exc)
            self._last_error = str(exc)
            return
        self._last_error = ""
        self._ready = recognizer
        self.changed.set()

    async def _watch(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.every_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
