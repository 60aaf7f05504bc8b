"""The `foodbot` command: one entry point with a subcommand per job (`foodbot COMMAND --help` for options).

foodbot run                          the bot (migrates the database first)
foodbot migrate                      upgrade the database to the newest schema
foodbot webhook set|info|delete      register WEBHOOK_URL once for all replicas, show it, remove it
foodbot bench                        measure recognition speed on this machine
foodbot worker                       serve recognition jobs from Redis (QUEUE_URL)
foodbot predict IMAGE...             recognize food in photos and print portions and macros
foodbot model build-default          build the default bundle from the packaged weights
foodbot model list|register|promote|rollback   the registry of bundles (what every process serves)
foodbot retrain [--watch]            learn from what people taught: candidate, gate, promote
foodbot foods build                  index all of USDA FoodData Central for search (run does it once)
foodbot foods search QUERY           what the bot's food search finds
foodbot train DATA --out RUN_DIR     fine-tune a classifier on a dataset and export a model bundle
foodbot evaluate BUNDLE DATA         score a model bundle on a dataset
foodbot export-corrections OUT_DIR   write the photos people corrected as a dataset
foodbot teach PHOTO FOOD --user ID   teach a person's memory that a photo shows a food
foodbot evaluate-memory DIR          how well memory names later photos of taught foods

train, evaluate and export-corrections are added by `foodbot.training_commands`, teach and
evaluate-memory by `foodbot.memory_commands`, webhook by `foodbot.webhook_command`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.settings import Settings
from foodbot import memory_commands, model_commands, retrain_command, training_commands, webhook_command

_LOGGER = logging.getLogger(__name__)

TOKEN_HELP = """\
foodbot needs a Telegram bot token to run.
  1. In Telegram, talk to @BotFather, send /newbot and follow the steps; it answers with a token
     that looks like 123456789:AAH...
  2. Put it in a file named .env in this folder (copy .env.example to start from):
       TELEGRAM_BOT_TOKEN=123456789:AAH...
  3. Run `make run` again."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foodbot", description="A Telegram bot that sees food.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="run the bot (migrates the database first)")
    sub.add_parser("migrate", help="upgrade the database to the newest schema")
    webhook_command.add_commands(sub)

    bench = sub.add_parser("bench", help="measure recognition speed on this machine")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override DEVICE")
    bench.add_argument("--size", type=int, choices=[320, 800, 1280], default=320, help="photo width (320)")
    bench.add_argument("--seconds", type=float, default=10.0, help="time per measurement (10)")

    worker = sub.add_parser("worker", help="serve recognition jobs from Redis (QUEUE_URL)")
    worker.add_argument("--name", help="consumer name (default: host-pid)")
    worker.add_argument("--max-batch", type=int, default=32, help="photos per forward pass (32)")
    worker.add_argument("--max-wait-ms", type=int, default=10, help="wait for a batch to fill (10)")
    worker.add_argument(
        "--heartbeat-ms",
        type=int,
        default=1000,
        help="heartbeat interval; a worker that misses 3 beats is dead and its jobs are taken over (1000)",
    )
    worker.add_argument(
        "--claim-idle-ms",
        type=int,
        default=30_000,
        help="take over jobs left unacknowledged this long, from a worker alive but stuck (30000)",
    )

    predict = sub.add_parser("predict", help="recognize food in photos and print portions and macros")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--json", action="store_true", help="print one JSON array")
    predict.add_argument("--top", type=int, default=3, metavar="N", help="foods to list per photo (3)")
    predict.add_argument(
        "--user", type=int, metavar="ID", help="rank with this person's memory of corrections (DATABASE_URL)"
    )

    model = sub.add_parser("model", help="model bundles")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    build = model_sub.add_parser("build-default", help="build the default bundle from the packaged weights")
    build.add_argument("--force", action="store_true", help="rebuild even when it exists")
    model_commands.add_subcommands(model_sub)
    foods = sub.add_parser("foods", help="the food list: index all of FoodData Central, search it")
    foods_sub = foods.add_subparsers(dest="foods_command", required=True)
    foods_build = foods_sub.add_parser("build", help="index all of USDA FoodData Central (FOODS_INDEX)")
    foods_build.add_argument("--force", action="store_true", help="rebuild even when current")
    foods_search = foods_sub.add_parser("search", help="what the bot's food search finds")
    foods_search.add_argument("query", nargs="+", metavar="QUERY")
    foods_search.add_argument("--limit", type=int, default=6, metavar="N", help="foods to list (6)")
    foods_search.add_argument("--json", action="store_true", help="print one JSON array")
    training_commands.add_commands(sub)
    memory_commands.add_commands(sub)
    retrain_command.add_commands(sub)
    return parser


def _settings() -> Settings | None:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")  # pydantic's prefix to our validators' own
            print(f"Configuration error in {key}: {message} (see .env.example)", file=sys.stderr)
        return None


def _run(settings: Settings) -> int:
    if settings.telegram_bot_token is None:
        print(TOKEN_HELP, file=sys.stderr)
        return 2
    from bot.app import run_bot

    return run_bot(settings)


def _build_default(settings: Settings, force: bool) -> int:
    from model.bundle import load_bundle  # keep `foodbot run --help` fast
    from model.default_bundle import build_default_bundle

    path = settings.default_model_dir
    if (path / "bundle.json").is_file() and not force:
        print(f"{path}: {load_bundle(path).id} (exists; --force rebuilds)")
        return 0
    bundle = build_default_bundle(path)
    print(f"{path}: {bundle.id}")
    return 0


def _foods(settings: Settings, args: argparse.Namespace) -> int:
    from meallog.food_index import FoodIndexError, ensure_food_index, open_food_index
    from meallog.nutrition import NutritionTable

    if args.foods_command == "build":
        try:
            foods = ensure_food_index(settings.foods_index_path, force=args.force)
        except FoodIndexError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"{settings.foods_index_path}: {foods} foods")
        return 0
    table = NutritionTable.load()
    table.attach_index(open_food_index(settings.foods_index_path))
    found = table.search(" ".join(args.query), limit=max(1, args.limit))
    if args.json:
        print(json.dumps([{"key": f.key, "name": f.name, "kcal": f.kcal, "source": f.source} for f in found]))
    else:
        for food in found:
            print(f"{food.name:<48} {food.kcal:6.0f} kcal/100 g  {food.key}  ({food.source})")
        if not found:
            print("nothing found")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one subcommand; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = _settings()
    if settings is None:
        return 2
    if args.command == "run":
        return _run(settings)
    if args.command == "bench":
        from foodbot.bench_command import run_bench_command

        return run_bench_command(
            settings, as_json=args.json, device=args.device, size=args.size, seconds=args.seconds
        )
    if args.command == "worker":
        from foodbot.worker_command import run_worker

        return run_worker(
            settings,
            name=args.name,
            max_batch=args.max_batch,
            max_wait_ms=args.max_wait_ms,
            claim_idle_ms=args.claim_idle_ms,
            heartbeat_ms=args.heartbeat_ms,
        )
    if args.command == "migrate":
        from meallog.migrate import upgrade_database

        upgrade_database(settings.database_url)
        print("Database is up to date.")
        return 0
    if args.command == webhook_command.COMMAND:
        return webhook_command.run(args, settings)
    if args.command == "predict":
        from foodbot.predict_command import run_predict

        if args.top < 1:
            print("--top must be at least 1", file=sys.stderr)
            return 2
        return run_predict(args.images, args.json, args.top, settings, sys.stdout, user_id=args.user)
    if args.command == "model" and args.model_command == "build-default":
        return _build_default(settings, args.force)
    if args.command == "model" and args.model_command in model_commands.SUBCOMMANDS:
        return model_commands.run(args, settings)
    if args.command == "foods":
        return _foods(settings, args)
    if args.command in training_commands.COMMANDS:
        return training_commands.run(args, settings)
    if args.command == "retrain":
        return retrain_command.run(args, settings)
    if args.command in memory_commands.COMMANDS:
        return memory_commands.run(args, settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
