"""The meal log: what a person ate, in what portions, against which goals, and where it is stored.

The nutrition table and its search, portions and macros, quick entry, goals, timezones and local day
boundaries, the texts of cards and summaries and when summaries are due, the week chart, the export,
and the database (models, engines, migrations runner, and the stores, the only code that queries the
tables). Everything here is plain data in, data out, so the Telegram layer (`bot`), training, the
migrations, scripts and benchmarks all share one copy of the rules. Neither `telegram` nor `torch` may
enter this package, and it never imports `bot`: the layers above call it, never the other way round.
"""
