"""Shared fixtures: the real default bundle (built once per run) and the committed photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from meallog.food_index import ensure_food_index
from model.bundle import ModelBundle
from model.default_bundle import ensure_default_bundle
from model.recognizer import Recognizer

FIXTURES = Path(__file__).parent / "fixtures"
FOOD_PHOTOS = ("coffee.png", "orange.jpg", "fruits.jpg", "apple.jpg")
NON_FOOD_PHOTOS = ("astronaut.png", "chelsea.png", "camera.png")


def photo(name: str) -> bytes:
    """The bytes of a committed photo."""
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DATA_DIR shared by the whole run, so the default bundle and the index of all foods (as `foodbot
    run` makes them on its first start) are built only once."""
    path = tmp_path_factory.mktemp("data")
    ensure_food_index(path / "foods-fdc.sqlite", progress=lambda _line: None)
    return path


@pytest.fixture(scope="session")
def default_bundle(data_dir: Path) -> ModelBundle:
    return ensure_default_bundle(data_dir / "models" / "default", progress=lambda _line: None)


@pytest.fixture(scope="session")
def recognizer(default_bundle: ModelBundle) -> Recognizer:
    """The default model on the CPU, the same code path a GPU takes."""
    return Recognizer(default_bundle, device="cpu")


@pytest.fixture(scope="session")
def pizza_bundle(default_bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> ModelBundle:
    """A second real bundle, built once: the default model that sees pizza in every photo (for the tests
    of switching the served model)."""
    from tests.model.variants import variant_bundle

    return variant_bundle(default_bundle, tmp_path_factory.mktemp("variant") / "pizza", "pizza")
