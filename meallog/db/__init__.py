"""The meal log's storage: models, engines and sessions. Only `meallog.store` queries the tables."""

from meallog.db.engine import make_engine, make_sessionmaker
from meallog.db.models import Base, Correction, Meal, MealItem, Prediction, User

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
