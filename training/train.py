"""Fine-tuning a timm classifier on a dataset and exporting it as a model bundle.

One code path for every device: the device is chosen at run time (`DEVICE`), and on CUDA the same loop
runs under bf16 autocast with channels_last tensors. A run writes into its own folder:

    RUN_DIR/bundle/          the model bundle (MODEL_DIR for the bot), with model.onnx
    RUN_DIR/last.pt          the checkpoint after each epoch (model, optimizer, schedule, history)
    RUN_DIR/best.pt          the weights of the best epoch on the validation metric
    RUN_DIR/curves.png       loss and validation metric per epoch
    RUN_DIR/history.json     the same figures as JSON; metrics.json the final evaluation in full
    RUN_DIR/label_foods.json the label → food mapping used
    RUN_DIR/lr_find.png      when the LR range test ran

This module is the run itself: `train` (its epochs, the best epoch's export) and `find_lr`. What a run is
built from lives beside it: `config` (TrainConfig), `setup` (data, loaders, the model on its device),
`backbone`, `losses`, `mixing`, `schedule`, `checkpoint` (resuming) and `validate` (per-epoch scores).

Determinism: every epoch starts by seeding Python, NumPy and torch with `seed + epoch`, and the data
order comes from a generator seeded the same way, so a run resumed after epoch k continues exactly as
the uninterrupted run would have (bit for bit on the CPU; on CUDA cuDNN runs in deterministic mode).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from meallog.nutrition import NutritionTable
from model.bundle import BundleMeta
from training.backbone import set_body_frozen
from training.checkpoint import RunState, atomic_save, checkpoint, restore
from training.config import Report, TrainConfig, TrainingError, TrainResult
from training.export import export_bundle
from training.lr_find import LRFindResult, lr_range_test
from training.metrics import tune_thresholds
from training.plots import plot_curves, plot_lr_find
from training.schedule import param_groups, warmup_cosine
from training.setup import Setup, prepare, progress_bar, seed_everything
from training.validate import headline, predict_loader, score

_LOGGER = logging.getLogger(__name__)

#: Thresholds every trained bundle carries for the bot (see model/recognizer.py and bot/services.py).
FOOD_MASS_THRESHOLD = 0.5
UNSURE_THRESHOLD = 0.35


def find_lr(config: TrainConfig, report: Report = print, setup: Setup | None = None) -> LRFindResult:
    """The LR range test on the run's data and model; writes RUN_DIR/lr_find.png."""
    setup = setup or prepare(config, report)
    result = lr_range_test(
        setup.model,
        setup.train_loader,
        setup.criterion,
        setup.train_inputs,
        setup.autocast,
        steps=config.lr_find_steps,
        weight_decay=config.weight_decay,
        progress=lambda steps: progress_bar(config, steps, desc="lr find"),
    )
    plot = plot_lr_find(result.lrs, result.losses, result.suggestion, config.out / "lr_find.png")
    report(f"LR range test: suggested learning rate {result.suggestion:.2e} (plot: {plot})")
    return result


def train(
    config: TrainConfig,
    report: Report = print,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    table: NutritionTable | None = None,
) -> TrainResult:
    """Fine-tune, checkpointing every epoch, then export the best epoch's weights as a bundle."""
    config.out.mkdir(parents=True, exist_ok=True)
    last_path, best_path = config.out / "last.pt", config.out / "best.pt"
    if last_path.exists() and not config.resume:
        raise TrainingError(
            f"{config.out} already holds a run: pass --resume to continue it, or another --out"
        )
    setup = prepare(config, report, table)
    model = setup.model
    resuming = config.resume and last_path.exists()
    if config.lr is None:  # "auto"; a resumed run takes its rates from the checkpoint instead
        config.lr = 1e-3 if resuming else find_lr(config, report, setup).suggestion
    optimizer = torch.optim.AdamW(param_groups(model, config.weight_decay), lr=config.lr)
    per_epoch = math.ceil(len(setup.train_loader) / config.accum_steps)
    warmup = min(round(config.warmup_epochs * per_epoch), per_epoch * config.epochs - 1)
    scheduler = LambdaLR(
        optimizer, warmup_cosine(per_epoch * config.epochs, max(warmup, 0), config.min_lr_ratio)
    )
    state = RunState()
    if resuming:
        state = restore(last_path, setup, optimizer, scheduler, report)
    elif config.resume:
        report(f"nothing to resume in {config.out}; starting afresh")
    (config.out / "label_foods.json").write_text(json.dumps(setup.mapping.label_foods, indent=2) + "\n")
    metric = headline(setup.head)
    report(
        f"training {config.arch} ({setup.head}, {len(setup.labels)} labels) on {setup.device}"
        f"{' with bf16 autocast and channels_last' if setup.amp else ''}: {config.epochs} epochs, "
        f"batch {config.batch_size}x{config.accum_steps}, lr {scheduler.base_lrs[0]:.2e}, "
        f"{setup.data_config.image_size} px"
    )

    epochs = progress_bar(
        config, range(state.epoch, config.epochs), desc="epochs", initial=state.epoch, total=config.epochs
    )
    for epoch in epochs:
        if state.stopped:
            break
        record = _run_epoch(setup, optimizer, scheduler, state, epoch)
        if setup.val_loader is not None:
            probs, targets, val_loss = predict_loader(setup, setup.val_loader, desc="validate")
            thresholds = tune_thresholds(probs, targets, setup.labels) if setup.head == "sigmoid" else {}
            figures = score(setup.head, probs, targets, setup.labels, thresholds)
            record.update(val_loss=round(val_loss, 5), **{metric: figures[metric]})
            value, tie_break = float(figures[metric]), -val_loss
        else:
            value, tie_break = -float(record["train_loss"]), 0.0  # no validation: lowest training loss
        # A tie on the metric (common on small validation sets) goes to the lower validation loss.
        improved = state.best_metric is None or (value, tie_break) > (state.best_metric, state.best_tie_break)
        if improved:
            state.best_metric, state.best_tie_break = value, tie_break
            state.best_epoch, state.bad_epochs = epoch + 1, 0
            atomic_save({"epoch": epoch + 1, "model": model.state_dict()}, best_path)
        else:
            state.bad_epochs += 1
        state.epoch = epoch + 1
        state.history.append(record)
        if config.patience is not None and state.bad_epochs >= config.patience:
            state.stopped = True
        atomic_save(checkpoint(setup, optimizer, scheduler, state), last_path)
        _write_history(config.out, state.history, metric)
        report(_epoch_line(record, config.epochs, metric, improved))
        if state.stopped:
            report(
                f"early stop: no better {metric} for {config.patience} epochs; "
                f"best was epoch {state.best_epoch}"
            )
        if on_epoch_end is not None:
            on_epoch_end(record)

    return _finish(setup, state, best_path, report)


def _run_epoch(
    setup: Setup, optimizer: torch.optim.Optimizer, scheduler: LRScheduler, state: RunState, epoch: int
) -> dict[str, Any]:
    """One pass over the training data (stepping the schedule per optimizer step); the epoch's record."""
    config, model = setup.config, setup.model
    seed_everything(config.seed + epoch)
    setup.generator.manual_seed(config.seed + epoch)
    setup.mixer.reseed(config.seed + epoch)
    model.train()
    set_body_frozen(model, setup.prefix, epoch < config.freeze_epochs)
    optimizer.zero_grad(set_to_none=True)
    total_loss, images_seen = 0.0, 0
    started = time.perf_counter()
    batches = len(setup.train_loader)
    for step, batch in enumerate(
        progress_bar(config, setup.train_loader, desc=f"epoch {epoch + 1}", leave=False)
    ):
        if batch is not None:
            images, targets = setup.train_inputs(batch)
            with setup.autocast():
                logits = model(images)
            loss = setup.criterion(logits.float(), targets)
            torch.autograd.backward(loss / config.accum_steps)
            total_loss += float(loss.detach()) * len(images)
            images_seen += len(images)
        if (step + 1) % config.accum_steps == 0 or step + 1 == batches:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
    if setup.device.type == "cuda":
        torch.cuda.synchronize(setup.device)
    seconds = time.perf_counter() - started
    state.train_images += images_seen
    state.train_seconds += seconds
    if not images_seen:
        raise TrainingError("no training image could be read")
    return {
        "epoch": epoch + 1,
        "train_loss": round(total_loss / images_seen, 5),
        "lr": optimizer.param_groups[0]["lr"],
        "images_per_s": round(images_seen / seconds, 1),
        "frozen": epoch < config.freeze_epochs,
    }


def _epoch_line(record: Mapping[str, Any], epochs: int, metric: str, improved: bool) -> str:
    """The epoch's line for the report; `*` marks a new best."""
    parts = [f"epoch {record['epoch']}/{epochs}", f"train loss {record['train_loss']:.4f}"]
    if record.get("val_loss") is not None:
        parts.append(f"val loss {record['val_loss']:.4f}")
        parts.append(f"{metric} {record[metric]:.4f}{' *' if improved else ''}")
    parts.append(f"{record['images_per_s']:.0f} img/s")
    if record.get("frozen"):
        parts.append("(body frozen)")
    return "  ".join(parts)


def _write_history(out: Path, history: list[dict[str, Any]], metric: str) -> None:
    """history.json and curves.png, rewritten every epoch so an interrupted run still has them."""
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")
    try:
        plot_curves(history, metric, out / "curves.png")
    except ImportError:
        _LOGGER.warning("matplotlib is not installed; curves.png not drawn")


def _finish(setup: Setup, state: RunState, best_path: Path, report: Report) -> TrainResult:
    """Score the best epoch's weights on val and test, tune the thresholds and export the bundle."""
    config = setup.config
    best = torch.load(best_path, map_location="cpu", weights_only=True)
    setup.model.load_state_dict(best["model"])
    metrics: dict[str, Any] = {}
    thresholds: dict[str, float] = {}
    if setup.val_loader is not None:
        probs, targets, _ = predict_loader(setup, setup.val_loader, desc="validate")
        if setup.head == "sigmoid":
            thresholds = tune_thresholds(probs, targets, setup.labels)
        metrics["val"] = score(setup.head, probs, targets, setup.labels, thresholds)
    if setup.test_loader is not None:
        probs, targets, _ = predict_loader(setup, setup.test_loader, desc="test")
        metrics["test"] = score(setup.head, probs, targets, setup.labels, thresholds)
    images_per_s = state.train_images / state.train_seconds if state.train_seconds else 0.0
    (config.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    meta = BundleMeta(
        arch=config.arch,
        labels=list(setup.labels),
        label_foods=setup.mapping.label_foods,
        head=setup.head,
        thresholds={**thresholds, "food_mass": FOOD_MASS_THRESHOLD, "unsure": UNSURE_THRESHOLD},
        data_config=setup.data_config,
        provenance=_provenance(setup, state),
        metrics={
            **{split: {k: v for k, v in m.items() if k != "per_class"} for split, m in metrics.items()},
            "best_epoch": state.best_epoch,
            "epochs_run": state.epoch,
            "train_images_per_s": round(images_per_s, 1),
            "device": str(setup.device),
        },
    )
    model = setup.model.to("cpu").to(memory_format=torch.contiguous_format).eval()
    bundle = export_bundle(config.out / "bundle", model, meta, onnx=config.onnx)
    report(f"best epoch {state.best_epoch}; bundle {bundle.id} written to {bundle.path}")
    return TrainResult(bundle.path, state.history, metrics, setup.mapping, images_per_s)


def _provenance(setup: Setup, state: RunState) -> dict[str, Any]:
    """What the bundle records about how it was made; the config without paths or settings that leave the
    weights alone (workers, progress bars, resume)."""
    config, data = setup.config, setup.data
    hyper = {
        k: v
        for k, v in asdict(config).items()
        if k
        not in ("data", "out", "val_data", "mapping", "default_bundle_dir", "workers", "progress", "resume")
    }
    return {
        "trained_by": "foodbot train",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backbone": setup.backbone.provenance,
        "dataset": {
            "layout": data.layout,
            "path": str(data.root),
            "labels": len(data.labels),
            "train_images": len(data.train),
            "val_images": len(data.val),
            "test_images": len(data.test),
            "notes": list(data.notes),
        },
        "label_mapping": setup.mapping.source,
        "unmapped_labels": list(setup.mapping.unmapped),
        "config": hyper,
        "device": str(setup.device),
        "bf16_autocast": setup.amp,
        "channels_last": setup.channels_last,
        "versions": {pkg: metadata.version(pkg) for pkg in ("torch", "timm")},
        "epochs_run": state.epoch,
        "best_epoch": state.best_epoch,
    }
