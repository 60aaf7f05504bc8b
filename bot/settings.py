"""Configuration, read only from the environment and `.env` (every key is documented in .env.example)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """All settings of the bot, the worker and the CLI.

    Values come from environment variables of the same name (upper case) or from `.env` in the working
    directory; the environment wins. Nothing else in the project reads the environment.
    """

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    telegram_rate_limit: float = Field(default=30.0, gt=0)
    database_url: str = "sqlite+aiosqlite:///./data/foodbot.db"
    data_dir: Path = Path("./data")
    model_dir: Path | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    queue_url: str = ""
    queue_prefix: str = "foodbot"
    metrics_port: int | None = None
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = Field(default_factory=frozenset)
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0:8443"

    @field_validator("telegram_bot_token", "webhook_secret", "model_dir", "metrics_port", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """`KEY=` in .env means "not set", not an empty token or the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("device", mode="before")
    @classmethod
    def _device_lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("allowed_user_ids", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """`ALLOWED_USER_IDS=123, 456` → {123, 456}; empty means everyone."""
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError as exc:
                raise ValueError("ALLOWED_USER_IDS must be Telegram user ids separated by commas") from exc
        return value

    @cached_property
    def default_model_dir(self) -> Path:
        """Where the default bundle is built on first use and cached."""
        return self.data_dir / "models" / "default"
