"""Telegram handlers, one module per feature, registered in `bot.app`.

The handlers are the `on_…(update, context) -> None` functions (and `access.check_access`, which runs
before all of them); `common` (who sent the update), `cards` (send or edit a meal card) and `presses`
(what a menu button press starts with) are the helpers they share.
"""
