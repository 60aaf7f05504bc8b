"""The model bundle: the one on-disk format every part speaks (DESIGN.md, "Model bundle").

A bundle is a directory with `model.safetensors` (a timm state dict), `bundle.json` (architecture, labels,
their food keys, head type, thresholds, preprocessing, provenance, metrics) and optionally `model.onnx`.
Preprocessing is read from `data_config` here and nowhere else, so a bundle trained at 260 px with other
normalisation is served correctly without code changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

if TYPE_CHECKING:  # reading a bundle's metadata needs no torch: a bot whose model is elsewhere never loads it
    import torch

_LOGGER = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
META_FILE = "bundle.json"
ONNX_FILE = "model.onnx"
#: Below this confidence a food is marked unsure, for a bundle whose thresholds do not say.
UNSURE_THRESHOLD = 0.35


class BundleError(RuntimeError):
    """A bundle directory that cannot be used; the message says which file and why."""


class DataConfig(BaseModel):
    """Preprocessing for a bundle, in the shape timm's `resolve_model_data_config` returns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_size: tuple[int, int, int]
    interpolation: str = "bicubic"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop_pct: float = 0.875
    crop_mode: str = "center"

    @property
    def image_size(self) -> int:
        """The square side the model sees (the larger of height and width)."""
        return max(self.input_size[1], self.input_size[2])

    @property
    def resize_size(self) -> int:
        """The short side an image is resized to before the centre crop."""
        return int(self.image_size / self.crop_pct)


class BundleMeta(BaseModel):
    """The contents of `bundle.json`."""

    model_config = ConfigDict(extra="forbid")

    id: str = ""
    arch: str
    labels: list[str]
    label_foods: dict[str, str | None]
    head: Literal["softmax", "sigmoid"] = "softmax"
    thresholds: dict[str, float] = Field(default_factory=dict)
    data_config: DataConfig
    provenance: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _labels_consistent(self) -> BundleMeta:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be unique")
        unknown = set(self.label_foods) - set(self.labels)
        if unknown:
            raise ValueError(f"label_foods names labels the bundle does not have: {sorted(unknown)[:5]}")
        return self

    def food_of(self, label: str) -> str | None:
        """The nutrition key a label stands for, or None for a non-food label."""
        return self.label_foods.get(label)


@dataclass(frozen=True, slots=True)
class ServedModel:
    """What the bot needs to know of the model that answers it, and nothing that needs the model.

    The bot picks which Telegram photo size to download by `input_size` and marks foods below
    `unsure_threshold` as unsure. With the model in process these come from its bundle; with the model
    in `foodbot worker`s each worker publishes them to Redis, so a bot replica never reads or builds a
    bundle (`model.redis_queue`).
    """

    input_size: int
    unsure_threshold: float
    bundle_id: str = ""

    @classmethod
    def of(cls, bundle: ModelBundle) -> ServedModel:
        return cls(
            input_size=bundle.meta.data_config.image_size,
            unsure_threshold=bundle.meta.thresholds.get("unsure", UNSURE_THRESHOLD),
            bundle_id=bundle.id,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ServedModel:
        data: dict[str, Any] = json.loads(text)
        return cls(
            input_size=int(data["input_size"]),
            unsure_threshold=float(data["unsure_threshold"]),
            bundle_id=str(data.get("bundle_id", "")),
        )


#: The default bundle's figures: what a bot assumes until a worker has said what it serves.
DEFAULT_SERVED = ServedModel(input_size=224, unsure_threshold=UNSURE_THRESHOLD)


class ModelBundle:
    """A loaded bundle: its metadata, and its weights on demand."""

    def __init__(self, path: Path, meta: BundleMeta) -> None:
        self.path = path
        self.meta = meta

    @property
    def id(self) -> str:
        """A stable name for these exact weights, stored with every prediction."""
        return self.meta.id

    @property
    def onnx_path(self) -> Path | None:
        """The ONNX export, when the bundle has one."""
        path = self.path / ONNX_FILE
        return path if path.is_file() else None

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The timm state dict, read from safetensors (no pickle, so no code runs on load)."""
        from safetensors.torch import load_file

        return load_file(self.path / WEIGHTS_FILE)

    def create_model(self) -> torch.nn.Module:
        """The timm model with this bundle's weights, in eval mode on the CPU.

        `strict=True`: a bundle whose weights do not fit its architecture is refused, not half-loaded.
        """
        import timm  # timm is slow to import; only a runtime that serves needs it

        model = timm.create_model(self.meta.arch, pretrained=False, num_classes=len(self.meta.labels))
        try:
            model.load_state_dict(self.state_dict(), strict=True)
        except RuntimeError as exc:
            raise BundleError(f"{self.path / WEIGHTS_FILE} does not fit {self.meta.arch}: {exc}") from exc
        return model.eval()


def load_bundle(path: Path | str) -> ModelBundle:
    """Read a bundle directory, validating `bundle.json`; raises BundleError with a clear reason."""
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise BundleError(f"{path} is not a model bundle: {META_FILE} is missing")
    if not (path / WEIGHTS_FILE).is_file():
        raise BundleError(f"{path} is not a model bundle: {WEIGHTS_FILE} is missing")
    try:
        meta = BundleMeta.model_validate(json.loads(meta_path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise BundleError(f"{meta_path} is invalid: {exc}") from exc
    return ModelBundle(path, meta)


def weights_digest(path: Path) -> str:
    """SHA-256 of a weights file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_bundle(path: Path | str, state_dict: dict[str, torch.Tensor], meta: BundleMeta) -> ModelBundle:
    """Write a bundle atomically: into a sibling temporary directory, then rename into place.

    Two processes building the same bundle at once (the bot and a worker on first start) therefore never
    see a half-written directory; the loser of the race discards its copy. The bundle id is derived from
    the weights so that predictions name exactly the model that made them.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        weights = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
        save_file(weights, tmp / WEIGHTS_FILE)
        meta = meta.model_copy(update={"id": f"{meta.arch}-{weights_digest(tmp / WEIGHTS_FILE)[:12]}"})
        (tmp / META_FILE).write_text(meta.model_dump_json(indent=2) + "\n", encoding="utf-8")
        if path.exists():
            shutil.rmtree(path)
        try:
            os.replace(tmp, path)
        except OSError:
            if not (path / META_FILE).is_file():
                raise
            _LOGGER.info("bundle %s was written by another process meanwhile; keeping that one", path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return load_bundle(path)
