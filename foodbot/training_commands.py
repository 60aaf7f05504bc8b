"""The training subcommands of `foodbot`: train, evaluate, export-corrections.

foodbot train DATA --out RUN_DIR [--epochs N] [--lr RATE|auto] [--find-lr] [--resume] ...
foodbot evaluate BUNDLE DATA [--split test|val|all] [--json FILE]
foodbot export-corrections OUT_DIR [--user ID] [--no-download]

`foodbot/cli.py` calls `add_commands` while building its parser and `run` for these commands. Only argparse
and `training.config` (the run's settings and their defaults, standard library only) are imported here at
start, so `foodbot --help` stays fast; torch and timm load when a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.settings import Settings
from training.config import MAX_WORKERS, TrainConfig, default_workers

COMMANDS = frozenset({"train", "evaluate", "export-corrections"})
#: `foodbot train`'s defaults are TrainConfig's, so each lives in one place; data and out have none, and
#: these stand-ins for them are never read.
DEFAULTS = TrainConfig(data=Path(), out=Path())


def _lr(value: str) -> float | None:
    if value == "auto":
        return None
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number or 'auto'") from None
    return rate


def add_commands(sub: Any) -> None:
    """Add train, evaluate and export-corrections to `foodbot`'s subparsers."""
    train = sub.add_parser(
        "train",
        help="fine-tune a classifier on a dataset and export a model bundle",
        description="Fine-tune a timm classifier; writes RUN_DIR/bundle (serve it with MODEL_DIR), "
        "checkpoints, curves.png and metrics.json. Dataset layouts: coco (annotations.json), food101 "
        "(meta/*.txt), folder (<class>/*.jpg), corrections (foodbot export-corrections).",
    )
    train.add_argument("data", type=Path, metavar="DATA", help="the dataset folder")
    train.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="where the run is written")
    data = train.add_argument_group("data")
    data.add_argument(
        "--layout", default=DEFAULTS.layout, choices=["auto", "coco", "food101", "folder", "corrections"]
    )
    data.add_argument("--val-data", type=Path, metavar="DIR", help="coco: the validation folder")
    data.add_argument(
        "--val-fraction",
        type=float,
        default=DEFAULTS.val_fraction,
        help=f"held out for validation ({DEFAULTS.val_fraction})",
    )
    data.add_argument("--mapping", type=Path, metavar="FILE", help="label → food key CSV/JSON")
    data.add_argument(
        "--write-mapping", type=Path, metavar="FILE", help="write a draft mapping file and stop"
    )
    model = train.add_argument_group("model")
    model.add_argument("--arch", default=DEFAULTS.arch, help="any timm architecture")
    model.add_argument(
        "--backbone",
        default=DEFAULTS.backbone,
        help="auto, default (the default bundle), hub, none, or a bundle folder / weights file",
    )
    model.add_argument("--image-size", type=int, metavar="PX", help="input size (the arch's default)")
    model.add_argument("--head", default=DEFAULTS.head, choices=["auto", "softmax", "sigmoid"])
    model.add_argument(
        "--loss",
        default=DEFAULTS.multilabel_loss,
        choices=["asl", "bce"],
        help=f"multi-label loss ({DEFAULTS.multilabel_loss})",
    )
    opt = train.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    opt.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    opt.add_argument(
        "--accum", type=int, default=DEFAULTS.accum_steps, metavar="STEPS", help="gradient accumulation steps"
    )
    opt.add_argument(
        "--lr", type=_lr, default=DEFAULTS.lr, metavar="RATE", help="AdamW peak rate, or auto (LR finder)"
    )
    opt.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay)
    opt.add_argument("--warmup-epochs", type=float, default=DEFAULTS.warmup_epochs)
    opt.add_argument("--label-smoothing", type=float, default=DEFAULTS.label_smoothing)
    opt.add_argument(
        "--aa", default=DEFAULTS.auto_augment or "none", help="timm auto-augment policy, or none"
    )
    opt.add_argument("--mixup", type=float, default=DEFAULTS.mixup, metavar="ALPHA")
    opt.add_argument("--cutmix", type=float, default=DEFAULTS.cutmix, metavar="ALPHA")
    opt.add_argument(
        "--freeze-epochs",
        type=int,
        default=DEFAULTS.freeze_epochs,
        help="train only the head for the first N epochs",
    )
    opt.add_argument("--balanced", action="store_true", help="sample classes evenly")
    opt.add_argument("--patience", type=int, metavar="EPOCHS", help="stop after N epochs without improvement")
    opt.add_argument("--seed", type=int, default=DEFAULTS.seed)
    run = train.add_argument_group("run")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], help="overrides DEVICE")
    run.add_argument("--workers", type=int, help=f"data loading processes (up to {MAX_WORKERS})")
    run.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last epoch")
    run.add_argument("--find-lr", action="store_true", help="run the LR range test, write lr_find.png, stop")
    run.add_argument(
        "--lr-find-steps",
        type=int,
        default=DEFAULTS.lr_find_steps,
        metavar="N",
        help=f"batches the test runs ({DEFAULTS.lr_find_steps})",
    )
    run.add_argument("--no-onnx", action="store_true", help="do not write model.onnx")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    evaluate = sub.add_parser("evaluate", help="score a model bundle on a dataset")
    evaluate.add_argument("bundle", type=Path, metavar="BUNDLE")
    evaluate.add_argument("data", type=Path, metavar="DATA")
    evaluate.add_argument(
        "--layout", default=DEFAULTS.layout, choices=["auto", "coco", "food101", "folder", "corrections"]
    )
    evaluate.add_argument(
        "--split", choices=["train", "val", "test", "all"], help="(test, coco val, else all)"
    )
    evaluate.add_argument(
        "--val-fraction", type=float, default=DEFAULTS.val_fraction, help="as in training, for --split val"
    )
    evaluate.add_argument("--seed", type=int, default=DEFAULTS.seed, help="as in training, for --split val")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--json", type=Path, metavar="FILE", help="also write the full figures as JSON")

    export = sub.add_parser("export-corrections", help="write the photos people corrected as a dataset")
    export.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    export.add_argument("--user", type=int, metavar="ID", help="only this person's corrections")
    export.add_argument("--no-download", action="store_true", help="only the manifest, even with a bot token")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one of the training commands; returns the exit status."""
    if args.command == "train":
        return _train(args, settings)
    if args.command == "evaluate":
        return _evaluate(args, settings)
    if args.command == "export-corrections":
        return _export_corrections(args, settings)
    return 2


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from meallog.nutrition import default_table
    from training.config import TrainingError
    from training.datasets import DatasetError, load_dataset
    from training.export import ExportError
    from training.mapping import MappingError, suggest_mapping, write_mapping_file
    from training.train import find_lr, train

    if args.write_mapping is not None:
        try:
            data = load_dataset(args.data, args.layout, val_data=args.val_data, val_fraction=0.0)
        except DatasetError as exc:
            return _fail(str(exc))
        draft = suggest_mapping(data.labels, default_table(), data.display_names)
        write_mapping_file(args.write_mapping, draft)
        unmatched = sum(1 for food in draft.values() if food is None)
        print(
            f"{args.write_mapping}: a draft for {len(draft)} labels ({unmatched} without a guess); check it, "
            f"then train with --mapping {args.write_mapping}"
        )
        return 0
    config = TrainConfig(
        data=args.data,
        out=args.out,
        layout=args.layout,
        val_data=args.val_data,
        val_fraction=args.val_fraction,
        mapping=args.mapping,
        arch=args.arch,
        backbone=args.backbone,
        default_bundle_dir=settings.default_model_dir,
        image_size=args.image_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs,
        label_smoothing=args.label_smoothing,
        head=args.head,
        multilabel_loss=args.loss,
        auto_augment=None if args.aa in ("", "none") else args.aa,
        mixup=args.mixup,
        cutmix=args.cutmix,
        accum_steps=args.accum,
        freeze_epochs=args.freeze_epochs,
        balanced=args.balanced,
        seed=args.seed,
        device=args.device or settings.device,
        workers=args.workers if args.workers is not None else default_workers(),
        patience=args.patience,
        resume=args.resume,
        onnx=not args.no_onnx,
        progress=False if args.no_progress else None,
        lr_find_steps=args.lr_find_steps,
    )
    try:
        if args.find_lr:
            config.out.mkdir(parents=True, exist_ok=True)
            result = find_lr(config)
            print(f"train with --lr {result.suggestion:.2e}")
            return 0
        outcome = train(config)
    except (TrainingError, DatasetError, MappingError, ExportError) as exc:
        return _fail(str(exc))
    print(f"Serve it: MODEL_DIR={outcome.bundle_dir} foodbot run   (or foodbot predict PHOTO)")
    return 0


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from model.bundle import BundleError
    from training.datasets import DatasetError, load_dataset
    from training.evaluate import evaluate_bundle

    try:
        data = load_dataset(args.data, args.layout, val_fraction=args.val_fraction, seed=args.seed)
        result = evaluate_bundle(
            args.bundle, data, split=args.split, device=settings.device, batch_size=args.batch_size
        )
    except (BundleError, DatasetError, ValueError) as exc:
        return _fail(str(exc))
    print("\n".join(result.lines()))
    if args.json is not None:
        doc = {"bundle_id": result.bundle_id, "split": result.split, "metrics": result.metrics}
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


def _export_corrections(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from meallog.db.engine import make_engine, make_sessionmaker
    from meallog.nutrition import default_table
    from meallog.store.corrections import CorrectionStore
    from meallog.store.meals import MealStore
    from training.corrections import ExportSummary, TelegramPhotos, export_corrections

    download = settings.telegram_bot_token is not None and not args.no_download

    async def export() -> ExportSummary:
        engine = make_engine(settings.database_url)
        try:
            sessions = make_sessionmaker(engine)
            corrections, meals = CorrectionStore(sessions), MealStore(sessions, default_table())
            if not download:
                return await export_corrections(corrections, meals, args.out_dir, None, args.user)
            assert settings.telegram_bot_token is not None
            token = settings.telegram_bot_token.get_secret_value()
            async with TelegramPhotos(token, settings.telegram_api_base_url) as photos:
                return await export_corrections(corrections, meals, args.out_dir, photos.fetch, args.user)
        finally:
            await engine.dispose()

    try:
        summary = asyncio.run(export())
    except SQLAlchemyError as exc:
        return _fail(
            f"cannot read the meal log ({exc.__class__.__name__}); is DATABASE_URL right and migrated?"
        )
    print(f"{summary.manifest}: {summary.photos} photos from {summary.corrections} corrections")
    if download:
        print(
            f"photos: {summary.downloaded} downloaded, {summary.already_there} already there, "
            f"{summary.failed} failed"
        )
    else:
        print("photos not downloaded (set TELEGRAM_BOT_TOKEN to fetch them by file id)")
    return 1 if download and summary.failed else 0
