"""Running `foodbot` as a real subprocess, as a host does (shared by the CLI and webhook tests)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.telegram_fake import FakeTelegram

FOODBOT = str(Path(sys.executable).parent / "foodbot")


def foodbot_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This environment less any bot settings of the developer's own, plus `extra`."""
    own = ("TELEGRAM_", "MODEL_", "DATABASE_", "WEBHOOK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return {**env, "DATA_DIR": str(data_dir), "DEVICE": "cpu", **extra}


async def start_foodbot_run(
    tmp_path: Path, data_dir: Path, tg: FakeTelegram, token: str, **extra: str
) -> asyncio.subprocess.Process:
    """`foodbot run` against the fake Telegram with a fresh SQLite database in `tmp_path`."""
    env = foodbot_env(
        data_dir,
        TELEGRAM_BOT_TOKEN=token,
        TELEGRAM_API_BASE_URL=tg.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        **extra,
    )
    return await asyncio.create_subprocess_exec(
        FOODBOT, "run", cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
