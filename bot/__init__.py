"""The Telegram layer: the PTB Application, handlers, keyboards and callback data, the update journal,
the Telegram half of the daily summaries, and the settings and model setup the bot process is built from.

The meal log's rules and storage live in `meallog`; the `foodbot` command in `foodbot`. Nothing below
this package (`meallog`, `model`, `training`, `migrations`, `scripts`) imports it.
"""
