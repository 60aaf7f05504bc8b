"""The `foodbot` command and the composition root: where configuration is read and the parts are joined.

Each subcommand lives here (`run`, `migrate`, `predict`, `worker`, `bench`, `model build-default`,
`train`, `evaluate`, `export-corrections`): it reads the settings, picks the pieces a process needs
(the Telegram layer in `bot`, the meal log in `meallog`, the recognizer in `model`, `training`) and
starts them. It is the top of the house: nothing in the project imports `foodbot` except the tests and
benchmarks, so a package below never learns how it is assembled. Heavy libraries (torch, timm, the
Telegram stack) are imported inside the command that needs them, so `foodbot --help` stays fast.
"""
