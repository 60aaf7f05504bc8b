"""The long-lived resources handlers use, made in `post_init` and closed in `post_shutdown`.

Only handles to resources live here (the meal log, the nutrition table, the recognition queue); no state
about people does: that is in the database, so any bot process can serve any update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import CallbackContext

from bot.meal_log import MealLog
from bot.nutrition import NutritionTable
from bot.settings import Settings
from model.queue import RecognitionQueue

SERVICES_KEY = "foodbot.services"


@dataclass(slots=True)
class Services:
    """Everything a handler needs besides the update."""

    settings: Settings
    meal_log: MealLog
    table: NutritionTable
    queue: RecognitionQueue
    #: The model's input side in pixels: the smallest Telegram photo size at least this big is fetched.
    input_size: int
    #: Below this confidence a food is marked unsure on the card.
    unsure_threshold: float


def services(context: CallbackContext[Any, Any, Any, Any]) -> Services:
    """The services of the running application."""
    found: Services = context.application.bot_data[SERVICES_KEY]
    return found
