"""The layers stay layers: each package imports only the ones below it.

From the top: `foodbot` (the command line, which assembles everything) and the tests; `bot` (the Telegram
layer); then `meallog` (the meal log's rules and storage), `model`, `training`, `migrations` and
`scripts`, none of which may reach up into `bot` or `foodbot`. The meal log is plain data in, data out:
neither Telegram nor the model libraries enter it, so training, migrations and scripts can use it
without loading either. `bot` never imports `training`, `migrations` or `foodbot`: the command line
composes them. `bench/` measures whole processes and, like the tests, may import anything.

Every import counts, also one inside a function or under `if TYPE_CHECKING:`, since a lazy import is
still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Packages below the Telegram layer, and what none of them may import.
BELOW_BOT = ("meallog", "model", "training", "migrations", "scripts")
ABOVE_THEM = frozenset({"bot", "foodbot"})
#: What the meal log must do without.
NOT_IN_MEALLOG = frozenset({"telegram", "torch", "torchvision", "timm"})
#: What the Telegram layer must not import.
NOT_IN_BOT = frozenset({"training", "migrations", "foodbot"})


def imported(source: str) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of every absolute import in `source`, wherever it stands."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            yield node.lineno, node.module.split(".")[0]


def violations(folders: tuple[str, ...], forbidden: frozenset[str]) -> list[str]:
    """`path:line imports name` for each import of a `forbidden` package by a module under `folders`."""
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, name in imported(path.read_text(encoding="utf-8")):
                if name in forbidden:
                    found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return found


def test_the_checker_sees_imports_inside_functions_and_from_imports() -> None:
    source = "import os\n\ndef f():\n    from bot.app import x\n    import telegram.ext\n"
    assert list(imported(source)) == [(1, "os"), (4, "bot"), (5, "telegram")]


@pytest.mark.parametrize("folder", BELOW_BOT)
def test_nothing_below_the_telegram_layer_imports_it_or_the_command_line(folder: str) -> None:
    assert (ROOT / folder).is_dir()
    assert violations((folder,), ABOVE_THEM) == []


def test_the_meal_log_imports_neither_telegram_nor_torch() -> None:
    assert violations(("meallog",), NOT_IN_MEALLOG) == []


def test_the_telegram_layer_imports_neither_training_nor_migrations_nor_the_command_line() -> None:
    assert violations(("bot",), NOT_IN_BOT) == []
