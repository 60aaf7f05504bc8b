"""Telegram handlers, grouped by feature; each is `async def f(update, context) -> None`."""
