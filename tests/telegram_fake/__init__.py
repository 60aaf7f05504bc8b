"""A loopback Telegram Bot API server for tests: the real python-telegram-bot Application runs against it."""

from tests.telegram_fake.server import FakeTelegram
from tests.telegram_fake.state import ApiError, FakeMessage, Stats, UploadedFile
from tests.telegram_fake.users import FakeUser

__all__ = ["ApiError", "FakeMessage", "FakeTelegram", "FakeUser", "Stats", "UploadedFile"]
