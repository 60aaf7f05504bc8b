"""The long-lived resources handlers use, made in `post_init` and closed in `post_shutdown`.

Only handles to resources live here (the stores, the nutrition table, the recognition queue); no state
about people does: that is in the database, so any bot process can serve any update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import CallbackContext

from bot.lanes import Lanes
from bot.settings import Settings
from meallog.memory.recall import Recall
from meallog.nutrition import NutritionTable
from meallog.store.account import AccountStore
from meallog.store.meals import MealStore
from meallog.store.memory import MemoryStore
from meallog.store.my_foods import MyFoodStore
from meallog.store.people import PeopleStore
from meallog.store.repeats import RepeatStore
from meallog.store.summaries import SummaryStore
from model.queue import RecognitionQueue

SERVICES_KEY = "foodbot.services"


@dataclass(slots=True)
class Services:
    """Everything a handler needs besides the update."""

    settings: Settings
    #: The stores (`meallog.store`), one a concern, all over the same database.
    people: PeopleStore
    meals: MealStore
    summaries: SummaryStore
    account: AccountStore
    #: Recent meals and favourites, and new drafts copied from them (/again).
    repeats: RepeatStore
    #: The memory of corrections: its examples, and ranking a person's photos with them.
    memory: MemoryStore
    recall: Recall
    #: People's own foods (/myfoods); the table looks their keys up in this store's copy.
    my_foods: MyFoodStore
    table: NutritionTable
    queue: RecognitionQueue
    #: Each person's photos in order, and the shared slots for downloading and recognizing them.
    lanes: Lanes

    @property
    def input_size(self) -> int:
        """The model's input side in pixels: the smallest Telegram photo size at least this big is fetched."""
        return self.queue.served.input_size

    @property
    def unsure_threshold(self) -> float:
        """Below this confidence a food is marked unsure on the card."""
        return self.queue.served.unsure_threshold


def services(context: CallbackContext[Any, Any, Any, Any]) -> Services:
    """The services of the running application."""
    found: Services = context.application.bot_data[SERVICES_KEY]
    return found
