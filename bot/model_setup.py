"""Which model the bot serves: `MODEL_DIR` when set, else the default bundle (built on first use)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.settings import Settings
from meallog.nutrition import NutritionTable
from model.bundle import ModelBundle, load_bundle
from model.default_bundle import ensure_default_bundle

if TYPE_CHECKING:
    from meallog.store.registry import RegistryStore
    from model.recognizer import Recognizer
    from model.serving_watch import BundleWatch


def configured_bundle(settings: Settings, progress: Callable[[str], None] = print) -> ModelBundle:
    """The bundle the settings name; the default one is built into DATA_DIR the first time."""
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
