"""Settings come from the environment and .env, with friendly parsing of the few odd keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("TELEGRAM_BOT_TOKEN", "MODEL_DIR", "DEVICE", "ALLOWED_USER_IDS", "DATA_DIR", "DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_need_nothing() -> None:
    settings = Settings()
    assert settings.telegram_bot_token is None
    assert settings.telegram_api_base_url == "https://api.telegram.org"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.device == "auto"
    assert settings.allowed_user_ids == frozenset()
    assert settings.default_model_dir == Path("data/models/default")


def test_dotenv_is_read_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "TELEGRAM_BOT_TOKEN=123:abc\nDEVICE=CPU\nMODEL_DIR=\nALLOWED_USER_IDS=5, 7\n"
    )
    settings = Settings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "123:abc"
    assert "123:abc" not in repr(settings), "the token never shows in logs"
    assert settings.device == "cpu"
    assert settings.model_dir is None, "an empty MODEL_DIR means the default bundle"
    assert settings.allowed_user_ids == frozenset({5, 7})
    monkeypatch.setenv("DEVICE", "cuda")
    assert Settings().device == "cuda"


def test_bad_values_are_refused_with_the_key_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_USER_IDS", "alice,bob")
    with pytest.raises(ValidationError, match="ALLOWED_USER_IDS must be Telegram user ids"):
        Settings()
    monkeypatch.delenv("ALLOWED_USER_IDS")
    monkeypatch.setenv("DEVICE", "tpu")
    with pytest.raises(ValidationError, match="device"):
        Settings()


@pytest.mark.parametrize("value", [",", " , ", "abc", "12,,x", "1 2", "5,7,", ",5", "0", "-5", "+5", "1.5"])
def test_a_malformed_allow_list_stops_the_start_rather_than_allow_everyone(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ALLOWED_USER_IDS", value)
    with pytest.raises(
        ValidationError, match=r"ALLOWED_USER_IDS must be Telegram user ids .* separated by commas"
    ):
        Settings()


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("", frozenset()), ("  ", frozenset()), ("5", frozenset({5})), (" 5 , 007 ", frozenset({5, 7}))],
)
def test_an_allow_list_is_ids_and_empty_means_everyone(
    monkeypatch: pytest.MonkeyPatch, value: str, allowed: frozenset[int]
) -> None:
    monkeypatch.setenv("ALLOWED_USER_IDS", value)
    assert Settings().allowed_user_ids == allowed


def test_every_setting_is_documented_in_env_example() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    documented = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line and line[0].isupper()}
    assert documented == {name.upper() for name in Settings.model_fields}
