"""The Alembic environment and versions of the meal log's schema (run them with `bot.migrate`)."""
