"""The Alembic environment and versions of the meal log's schema (run them with `meallog.migrate`)."""
