"""The recognizer: a bundle's model on a device, turning photo bytes into ranked foods.

`predict` takes a batch so that every caller (the CLI, the in-process batcher, a Redis worker) shares one
code path; each photo that cannot be read gets its own friendly error while the others are answered.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from model.bundle import ModelBundle
from model.device import device_name
from model.images import ImageDecodeError
from model.preprocess import Preprocessor
from model.recognition import RankedFood, Recognition, encode_embedding
from model.runtime import Batch, Outputs, Pixels, make_runtime

if TYPE_CHECKING:
    from model.device_decode import DevicePreprocessor

_LOGGER = logging.getLogger(__name__)

_PENDING = Recognition(foods=(), no_food=True, bundle_id="")

#: How many raw labels each Recognition keeps for the prediction record.
RAW_LABELS_KEPT = 10


@dataclass(frozen=True, slots=True)
class _FoodIndex:
    """Which output columns belong to which food key (several labels may share one food).

    ``grouped`` lists the columns food by food and ``starts`` where each food's run begins, so one
    ``np.add.reduceat`` (or ``np.maximum.reduceat``) scores every food at once: interpreting a photo
    runs once per photo on the serving path, and a Python loop over the foods cost as much as decoding.
    """

    keys: tuple[str, ...]
    columns: tuple[tuple[int, ...], ...]
    food_columns: np.ndarray
    grouped: np.ndarray
    starts: np.ndarray


def _index_foods(bundle: ModelBundle) -> _FoodIndex:
    by_key: dict[str, list[int]] = {}
    for column, label in enumerate(bundle.meta.labels):
        key = bundle.meta.food_of(label)
        if key is not None:
            by_key.setdefault(key, []).append(column)
    keys = tuple(by_key)
    columns = tuple(tuple(by_key[k]) for k in keys)
    food_columns = np.array(sorted(c for cols in columns for c in cols), dtype=np.int64)
    grouped = np.array([c for cols in columns for c in cols], dtype=np.int64)
    starts = np.cumsum([0, *(len(cols) for cols in columns[:-1])], dtype=np.int64)
    return _FoodIndex(keys, columns, food_columns, grouped, starts)


class Recognizer:
    """Serves one bundle. Create once (loading the model takes a second), then call `predict`.

    On the CPU with an ONNX bundle it needs numpy, Pillow and ONNX Runtime only; PyTorch is imported
    where a PyTorch runtime or decoding on the device is chosen.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        device: str = "auto",
        food_names: Mapping[str, str] | None = None,
        top_k: int = 5,
        runtime: str = "auto",
        compile_model: bool = False,
        device_decode: bool | None = None,
    ) -> None:
        self.bundle = bundle
        #: `cpu` or `cuda[:N]` (`model.device.device_name`).
        self.device = device_name(device)
        self.top_k = top_k
        names = dict(food_names or {})
        self._foods = _index_foods(bundle)
        self._display_names = tuple(names.get(k, k.replace("_", " ").capitalize()) for k in self._foods.keys)
        self._food_thresholds = np.array(
            [self._threshold_of(i) for i in range(len(self._foods.keys))], dtype=np.float64
        )
        self._preprocess = Preprocessor(bundle.meta.data_config)
        self.runtime = make_runtime(bundle, self.device, runtime, compile_model=compile_model)
        #: Whether photos are decoded as a batch on the device (nvJPEG) rather than one by one on the CPU.
        self.decodes_on_device = self.device != "cpu" if device_decode is None else device_decode
        self._device_preprocess: DevicePreprocessor | None = None
        if self.decodes_on_device:
            from model.device_decode import DevicePreprocessor  # torchvision: only where it decodes

            self._device_preprocess = DevicePreprocessor(
                bundle.meta.data_config, self.device, self.preprocess
            )
        _LOGGER.info("recognizer ready: %s on %s (%s)", bundle.id, self.device, self.runtime.name)

    @property
    def bundle_id(self) -> str:
        return self.bundle.id

    def preprocess(self, data: bytes) -> np.ndarray:
        """One photo's input array; raises ImageDecodeError for a bad photo."""
        return self._preprocess(data)

    def _preprocess_or_error(self, data: bytes) -> np.ndarray | ImageDecodeError:
        try:
            return self.preprocess(data)
        except ImageDecodeError as exc:
            return exc

    def predict(self, images: Sequence[bytes]) -> list[Recognition]:
        """Recognize a batch of photos (one forward pass); answers come back in input order."""
        prepared: Sequence[Pixels | ImageDecodeError]
        if self._device_preprocess is not None:
            prepared = self._device_preprocess(images)
        else:
            prepared = [self._preprocess_or_error(data) for data in images]
        good = [(i, t) for i, t in enumerate(prepared) if not isinstance(t, ImageDecodeError)]
        answers: list[Recognition] = [
            Recognition.failed(self.bundle_id, p.friendly) if isinstance(p, ImageDecodeError) else _PENDING
            for p in prepared
        ]
        for (slot, _), answer in zip(good, self.recognize_tensors([t for _, t in good]), strict=True):
            answers[slot] = answer
        return answers

    def recognize_tensors(self, tensors: Sequence[Pixels]) -> list[Recognition]:
        """One forward pass over already preprocessed photos (the batcher decodes in other threads)."""
        if not tensors:
            return []
        probs, embeddings = self.forward(tensors)
        return self.interpret_rows(probs, embeddings)

    def warm_up(self) -> None:
        """Run one blank photo through the model so the first person does not pay for start-up work.

        That work is small on the CPU (ONNX Runtime's first allocations) but large on a GPU: the CUDA
        context, cuDNN's algorithm search and, with TORCH_COMPILE, the compilation itself (a minute).
        """
        channels, height, width = self.bundle.meta.data_config.input_size
        self.forward(np.zeros((1, channels, height, width), dtype=np.float32))

    def forward(self, batch: Batch) -> Outputs:
        """Class probabilities (softmax or sigmoid per the bundle's head) and embeddings for a batch."""
        return self.runtime.forward(batch)

    def probabilities(self, batch: Batch) -> np.ndarray:
        """Class probabilities alone (`forward`)."""
        return self.forward(batch).probs

    def interpret(self, probs: np.ndarray) -> Recognition:
        """Turn one row of probabilities into ranked foods and the no-food verdict (`interpret_rows`)."""
        return self.interpret_rows(probs[np.newaxis, :])[0]

    def interpret_rows(self, probs: np.ndarray, embeddings: np.ndarray | None = None) -> list[Recognition]:
        """Turn each row of a (photos, classes) probability matrix into ranked foods and a verdict.

        `embeddings` (photos, features), when the runtime gave them, travel with each answer, normalised
        and encoded (`model.recognition.encode_embedding`).

        softmax: a food's confidence is the summed probability of its labels; the photo is food when
        the food classes together hold at least `thresholds["food_mass"]`, and then the top food is the
        meal. sigmoid: each food is present when its score reaches its own threshold (`thresholds[label]`,
        else `thresholds["default"]`, else 0.5); no food when none does.

        The arithmetic runs once for the whole batch; only the answer objects are made photo by photo.
        On a GPU that answers thousands of photos a second this loop is the serving path's own cost.
        """
        meta = self.bundle.meta
        rows, classes = probs.shape
        kept = min(RAW_LABELS_KEPT, classes)
        top = np.argpartition(-probs, kept - 1, axis=1)[:, :kept]
        top_p = np.take_along_axis(probs, top, axis=1)
        by_p = np.argsort(-top_p, axis=1, kind="stable")
        top_labels = np.take_along_axis(top, by_p, axis=1).tolist()
        top_probs = np.take_along_axis(top_p, by_p, axis=1).tolist()
        foods = len(self._foods.keys)
        if foods:
            reduce = np.maximum if meta.head == "sigmoid" else np.add
            scores = reduce.reduceat(probs[:, self._foods.grouped], self._foods.starts, axis=1)
        else:
            scores = np.zeros((rows, 0), dtype=probs.dtype)
        orders = np.argsort(-scores, axis=1, kind="stable")[:, : self.top_k].tolist()
        if meta.head == "sigmoid":
            masses = scores.max(axis=1).tolist() if foods else [0.0] * rows
            over = (scores.astype(np.float64) >= self._food_thresholds).tolist()
        else:
            food_columns = self._foods.food_columns
            masses = probs[:, food_columns].sum(axis=1).tolist() if len(food_columns) else [0.0] * rows
        food_mass_threshold = meta.thresholds.get("food_mass", 0.5)
        all_scores = scores.tolist()
        answers = []
        for row in range(rows):
            order, row_scores, food_mass = orders[row], all_scores[row], masses[row]
            if meta.head == "sigmoid":
                present = {i for i in order if over[row][i]}
                no_food = not present
            else:
                no_food = food_mass < food_mass_threshold
                present = set() if no_food or not order else {order[0]}
            answers.append(
                Recognition(
                    foods=tuple(
                        RankedFood(
                            key=self._foods.keys[i],
                            name=self._display_names[i],
                            confidence=round(row_scores[i], 6),
                            present=i in present,
                        )
                        for i in order
                    ),
                    no_food=no_food,
                    bundle_id=self.bundle_id,
                    food_mass=round(food_mass, 6),
                    labels=tuple(
                        (meta.labels[label], round(p, 6))
                        for label, p in zip(top_labels[row], top_probs[row], strict=True)
                    ),
                    embedding=encode_embedding(embeddings[row]) if embeddings is not None else b"",
                )
            )
        return answers

    def _threshold_of(self, food: int) -> float:
        """A sigmoid food's threshold: the lowest of its labels' own, else the default."""
        thresholds = self.bundle.meta.thresholds
        label_thresholds = [
            thresholds[self.bundle.meta.labels[c]]
            for c in self._foods.columns[food]
            if self.bundle.meta.labels[c] in thresholds
        ]
        if label_thresholds:
            return min(label_thresholds)
        return thresholds.get("default", 0.5)
