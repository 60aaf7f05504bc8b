"""Configuration, read only from the environment and `.env` (every key is documented in .env.example)."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_SECRET_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
_USER_ID: Final = re.compile(r"0*[1-9][0-9]*")


class Settings(BaseSettings):
    """All settings of the bot, the worker and the CLI.

    Values come from environment variables of the same name (upper case) or from `.env` in the working
    directory; the environment wins. Nothing else in the project reads the environment.
    """

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    telegram_rate_limit: float = Field(default=30.0, gt=0, le=1000)
    telegram_paid_broadcast: bool = False
    database_url: str = "sqlite+aiosqlite:///./data/foodbot.db"
    data_dir: Path = Path("./data")
    model_dir: Path | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    torch_compile: bool = False
    queue_url: str = ""
    queue_prefix: str = "foodbot"
    metrics_port: int | None = None
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = Field(default_factory=frozenset)
    webhook_url: str = ""
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0:8443"
    webhook_register: bool = True
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    admin_chat_id: int | None = None
    update_lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    photo_backlog: int = Field(default=50, ge=1, le=10_000)
    foods_index: Path | None = None
    memory_shared: bool = True
    memory_shared_min_people: int = Field(default=3, ge=2, le=1000)
    model_check_seconds: float = Field(default=30.0, ge=0, le=86_400)
    retrain_hour: int | None = Field(default=3, ge=0, le=23)
    retrain_min_examples: int = Field(default=50, ge=1, le=10_000_000)
    retrain_per_person: int = Field(default=20, ge=1, le=10_000)
    retrain_photos: Path = Path("bench/data/food_photos")
    retrain_strength: Literal["auto", "head", "full"] = "auto"
    ready_listen: str = ""

    @field_validator(
        "telegram_bot_token",
        "webhook_secret",
        "model_dir",
        "metrics_port",
        "admin_chat_id",
        "foods_index",
        "retrain_hour",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """`KEY=` in .env means "not set", not an empty token or the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _https_webhook(cls, value: Any) -> Any:
        """Telegram only posts to https URLs; say so at start rather than when setWebhook fails."""
        if isinstance(value, str) and value.strip():
            parts = urlsplit(value.strip())
            if parts.scheme != "https" or not parts.hostname:
                raise ValueError(
                    "WEBHOOK_URL must be a public https:// URL, e.g. https://bot.example.com/telegram"
                )
            return value.strip()
        return "" if isinstance(value, str) else value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_alphabet(cls, value: SecretStr | None) -> SecretStr | None:
        """Telegram's rule for `secret_token`: 1-256 of A-Z, a-z, 0-9, _ and -."""
        if value is not None and not _SECRET_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("webhook_listen")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("WEBHOOK_LISTEN must be host:port, e.g. 127.0.0.1:8443")
        return value.strip()

    @field_validator("ready_listen")
    @classmethod
    def _ready_host_and_port(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if value.strip() and (not host or not port.isdigit() or not 0 <= int(port) < 65536):
            raise ValueError("READY_LISTEN must be host:port, e.g. 127.0.0.1:8081, or empty")
        return value.strip()

    @property
    def ready_address(self) -> tuple[str, int] | None:
        """READY_LISTEN as (host, port), or None when the readiness endpoint is off."""
        if not self.ready_listen:
            return None
        host, _, port = self.ready_listen.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def webhook_address(self) -> tuple[str, int]:
        """WEBHOOK_LISTEN as (host, port); brackets around an IPv6 host are dropped."""
        host, _, port = self.webhook_listen.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def webhook_path(self) -> str:
        """The path Telegram posts to (that of WEBHOOK_URL), which the local listener serves."""
        return urlsplit(self.webhook_url).path.strip("/")

    @field_validator("device", mode="before")
    @classmethod
    def _device_lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("allowed_user_ids", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """`ALLOWED_USER_IDS=123, 456` → {123, 456}; empty means everyone.

        Anything else stops the start: a list that reads as empty by accident (`,`) would let everyone
        in, and one with a typo (`12,,x`, `1 2`) would lock out someone the owner meant to allow.
        """
        if not isinstance(value, str) or not value.strip():
            return frozenset() if isinstance(value, str) else value
        parts = [part.strip() for part in value.split(",")]
        if not all(_USER_ID.fullmatch(part) for part in parts):
            shown = value.strip() if len(value.strip()) <= 40 else value.strip()[:39] + "…"
            raise ValueError(
                "ALLOWED_USER_IDS must be Telegram user ids (whole numbers above 0) separated by commas, "
                f"like 123456789,987654321, or empty to allow everyone; it is {shown!r}"
            )
        return frozenset(int(part) for part in parts)

    @property
    def foods_index_path(self) -> Path:
        """The index of all of FoodData Central (`meallog.food_index`): FOODS_INDEX, else in DATA_DIR."""
        return self.foods_index or self.data_dir / "foods-fdc.sqlite"

    @property
    def bundle_cache_dir(self) -> Path:
        """Where bundles fetched from the registry are kept on this machine (`meallog.store.registry`)."""
        return self.data_dir / "models" / "registry"

    @cached_property
    def default_model_dir(self) -> Path:
        """Where the default bundle is built on first use and cached."""
        return self.data_dir / "models" / "default"
