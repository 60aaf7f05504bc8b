"""`foodbot model list | register | promote | rollback` as a host types them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from model.bundle import ModelBundle
from tests.bot.processes import FOODBOT, foodbot_env


def _foodbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FOODBOT, "model", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_register_promote_list_and_roll_back(
    data_dir: Path, default_bundle: ModelBundle, pizza_bundle: ModelBundle, tmp_path: Path
) -> None:
    pizza = pizza_bundle
    env = foodbot_env(data_dir, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    empty = _foodbot(env, "list")
    assert empty.returncode == 0 and "registry is empty" in empty.stdout

    registered = _foodbot(env, "register", str(pizza.path))
    assert registered.returncode == 0, registered.stderr
    assert f"foodbot model promote {pizza.id}" in registered.stdout

    listed = json.loads(_foodbot(env, "list", "--json").stdout)
    assert {(r["id"], r["state"], r["parent"]) for r in listed} == {
        (default_bundle.id, "serving", None),
        (pizza.id, "candidate", default_bundle.id),
    }, "the configured bundle is registered as what served, the parent of the new one"

    assert _foodbot(env, "promote", pizza.id).returncode == 0
    lines = _foodbot(env, "list").stdout.splitlines()
    assert any(line.startswith("▶") and pizza.id in line for line in lines)

    back = _foodbot(env, "rollback")
    assert back.returncode == 0 and default_bundle.id in back.stdout
    nowhere = _foodbot(env, "rollback")
    assert nowhere.returncode == 1 and "no earlier" in nowhere.stderr
    unknown = _foodbot(env, "promote", "no-such-bundle")
    assert unknown.returncode == 1 and "foodbot model list" in unknown.stderr
    assert _foodbot(env, "register", str(tmp_path)).returncode == 1


def test_a_process_starts_on_the_promoted_bundle_and_looking_makes_no_database(
    data_dir: Path, default_bundle: ModelBundle, pizza_bundle: ModelBundle, tmp_path: Path
) -> None:
    from bot.model_setup import configured_bundle, promoted_bundle_dir
    from bot.settings import Settings

    database = tmp_path / "bot.db"
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{database}", data_dir=data_dir)  # type: ignore[call-arg]
    assert promoted_bundle_dir(settings) is None and not database.exists()
    env = foodbot_env(data_dir, DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    assert _foodbot(env, "register", str(pizza_bundle.path)).returncode == 0
    assert configured_bundle(settings).id == default_bundle.id, "registered is not promoted"
    assert _foodbot(env, "promote", pizza_bundle.id).returncode == 0
    assert configured_bundle(settings).id == pizza_bundle.id, "a restart serves what was promoted"
