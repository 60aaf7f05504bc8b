"""The meal log's storage: models, engines and sessions. Only `bot.store` queries the tables."""

from bot.db.engine import make_engine, make_sessionmaker
from bot.db.models import Base, Correction, Meal, MealItem, Prediction, User

__all__ = [
    "Base",
    "Correction",
    "Meal",
    "MealItem",
    "Prediction",
    "User",
    "make_engine",
    "make_sessionmaker",
]
