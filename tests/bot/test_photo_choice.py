"""The bot downloads the smallest Telegram photo size that still fills the model's input."""

from __future__ import annotations

from dataclasses import dataclass

from bot.photo_choice import TELEGRAM_DOWNLOAD_LIMIT, choose_photo_size


@dataclass(frozen=True)
class Size:
    width: int
    height: int
    file_size: int | None = 1000


LADDER = [Size(90, 68), Size(320, 240), Size(800, 600), Size(1280, 960)]


def test_smallest_size_at_least_the_input() -> None:
    assert choose_photo_size(LADDER, 224) == Size(320, 240)
    assert choose_photo_size(LADDER, 260) == Size(800, 600)
    assert choose_photo_size(list(reversed(LADDER)), 224) == Size(320, 240), "order does not matter"


def test_a_small_photo_gives_its_largest_size() -> None:
    assert choose_photo_size(LADDER[:2], 300) == Size(320, 240)


def test_sizes_over_the_download_limit_are_never_chosen() -> None:
    huge = Size(4000, 3000, TELEGRAM_DOWNLOAD_LIMIT + 1)
    assert choose_photo_size([Size(90, 68), huge], 224) == Size(90, 68)
    assert choose_photo_size([huge], 224) is None
