"""Which model the bot serves: the registry's promoted bundle once there is one (`foodbot model promote`,
`foodbot retrain`), else `MODEL_DIR` when set, else the default bundle (built on first use)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings
from meallog.nutrition import NutritionTable
from model.bundle import ModelBundle, load_bundle
from model.default_bundle import ensure_default_bundle

_LOGGER = logging.getLogger(__name__)

if TYPE_CHECKING:
    from meallog.store.registry import RegistryStore
    from model.recognizer import Recognizer
    from model.serving_watch import BundleWatch


def configured_bundle(settings: Settings, progress: Callable[[str], None] = print) -> ModelBundle:
    """The bundle this process serves: the registry's promoted one, else the one the settings name (the
    default one is built into DATA_DIR the first time). Call it outside an event loop (a thread)."""
    promoted = promoted_bundle_dir(settings)
    if promoted is not None:
        return load_bundle(promoted)
    return settings_bundle(settings, progress)


def settings_bundle(settings: Settings, progress: Callable[[str], None] = print) -> ModelBundle:
    """The bundle the settings name (MODEL_DIR), else the default one, built the first time."""
    if settings.model_dir is not None:
        return load_bundle(settings.model_dir)
    return ensure_default_bundle(settings.default_model_dir, progress=progress)


def make_recognizer(
    settings: Settings, table: NutritionTable, progress: Callable[[str], None] = print, top_k: int = 5
) -> Recognizer:
    """A warmed-up recognizer for the configured bundle whose foods carry the nutrition table's names."""
    return recognizer_for(configured_bundle(settings, progress), settings, table, top_k)


def recognizer_for(
    bundle: ModelBundle, settings: Settings, table: NutritionTable, top_k: int = 5
) -> Recognizer:
    """A warmed-up recognizer for `bundle` (the configured one, or one the registry promoted)."""
    from model.recognizer import Recognizer  # numpy and a runtime: only for a process that serves the model

    names = {food.key: food.name for food in table}
    recognizer = Recognizer(
        bundle,
        settings.device,
        food_names=names,
        top_k=top_k,
        compile_model=settings.torch_compile,
    )
    recognizer.warm_up()
    return recognizer


def serving_watch(registry: RegistryStore, settings: Settings, table: NutritionTable) -> BundleWatch:
    """The watch that switches a serving process to the registry's promoted bundle without a restart."""
    from model.serving_watch import BundleWatch

    return BundleWatch(
        lambda: registry.serving_dir(settings.bundle_cache_dir),
        lambda bundle: recognizer_for(bundle, settings, table),
        every_s=settings.model_check_seconds,
    )


def promoted_bundle_dir(settings: Settings) -> Path | None:
    """The directory of the registry's serving bundle (fetched into this machine's cache), or None when
    nothing was promoted, or the database has no registry (not made yet, or not migrated). Runs its own
    event loop: call it from a thread or a command, never from inside one."""
    import asyncio

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).is_file()):
        return None  # no database yet: nothing was ever promoted (and none is made by looking)

    async def look() -> Path | None:
        from meallog.db.engine import make_engine, make_sessionmaker
        from meallog.store.registry import RegistryStore

        engine = make_engine(settings.database_url)
        try:
            return await RegistryStore(make_sessionmaker(engine)).serving_dir(settings.bundle_cache_dir)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(look())
    except (SQLAlchemyError, OSError, LookupError) as exc:
        _LOGGER.warning("serving the configured model: the registry could not be read (%s)", exc)
        return None
