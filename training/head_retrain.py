"""Head-only retrain: new classes for the foods people taught alike, trained on the stored embeddings.

The memory of corrections keeps, for every taught photo, the serving model's pooled pre-logit features,
L2-normalised (`model.recognition.encode_embedding`). A head-only retrain turns the foods that several
people taught into classes of the model itself, without a photo or a GPU: the backbone stays as it is,
the classifier gets one new row per new food, and only those rows are trained. So

* known foods and "no food" answer as before: the serving rows are copied unchanged, and a new row
  only takes probability where it has learned to (checked by `training.gate`);
* the candidate's embeddings are the serving bundle's, bit for bit (same backbone), so the examples
  already in memory stay valid for it (`provenance["embeddings_of"]` names the bundle that made them);
* training is seconds on a CPU: the serving logits of every example are computed once, and each step
  touches only the new rows (examples × features × new foods).

**The feature scale.** The classifier sees the raw pooled features `f`, the memory keeps `e = f / |f|`.
Training approximates `f = c · e` with one constant `c`, the median feature norm of the serving model on
real photos (`feature_scale`; about 15.6 for the default bundle, norms 10–21 on the photo set). At serving
time a photo's real norm scales the serving rows and the new rows alike, so the approximation shifts the
new rows against the biases only.

**The loss** is cross-entropy against the full softmax (the fixed serving logits `c·W·e + b` and the new
rows together). An example of a food the serving model already has (a label whose `label_foods` is that
food) targets that food's columns, `-log Σ p(columns)`, so a new row is pushed away from it rather than
stealing it. Both parts are convex in the new rows, so full-batch L-BFGS from zero finds the one optimum,
deterministically (nothing is drawn at random; the seed is only recorded). A light L2 penalty on the new
weights and a strong one on their biases (`HeadParams`) keep the rows answering by what a photo looks
like: with biases penalised as lightly as the weights, a food taught once became a little probability on
every photo, and 34 such rows together turned half of the no-food photos into food. No-food photos have
no examples to push against, so `training.gate` measures them.

Choosing what to learn (`choose_training_set`) and which foods become classes (`new_foods`) are plain
functions the caller applies first, so the rules (several people, never a person's own "my food", a
per-person cap) are tested apart from the arithmetic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from model.bundle import BundleMeta, ModelBundle, load_bundle, save_bundle

if TYPE_CHECKING:
    import torch

_LOGGER = logging.getLogger(__name__)

#: A new class's label is this prefix and its food key (`label_foods` maps it back to the key).
TAUGHT_PREFIX = "taught:"
#: A person's own foods (`meallog.my_foods.MY_PREFIX`): they never become classes for everyone.
MY_PREFIX = "my_"
#: `provenance` keys of a candidate.
FEATURE_SCALE_KEY = "feature_scale"
EMBEDDINGS_OF_KEY = "embeddings_of"
#: `provenance["kind"]` of a head-only candidate.
HEAD_ONLY_KIND = "head-only retrain"


class HeadRetrainError(ValueError):
    """The retrain cannot run as asked (the message says why); the serving bundle is untouched."""


class TaughtExample(NamedTuple):
    """One taught example as the retrain sees it: who taught it, the food, the photo's embedding
    (`model.recognition.decode_embedding` of the stored bytes)."""

    user_id: int
    food_key: str
    embedding: np.ndarray


def choose_training_set(
    examples_with_user_ids: Iterable[TaughtExample | tuple[int, str, np.ndarray]],
    min_people: int,
    per_person_cap: int,
) -> list[TaughtExample]:
    """The examples a retrain may learn from, in the order given (`chosen_indices` says which)."""
    rows = [TaughtExample(*row) for row in examples_with_user_ids]
    return [rows[i] for i in chosen_indices(rows, min_people, per_person_cap)]


def chosen_indices(rows: Sequence[TaughtExample], min_people: int, per_person_cap: int) -> list[int]:
    """The places in `rows` of the examples a retrain may learn from, ascending.

    * only foods that at least `min_people` different people taught (what the shared memory would
      share), so one person's habit or mistake never becomes everyone's class;
    * never a `my_` food (a person's own recipe stays in their memory);
    * at most `per_person_cap` examples per person and food, the last ones given (pass them oldest
      first, as `MemoryStore` reads them, to keep each person's latest), so one heavy user does not
      decide what a food looks like.

    People are counted before the cap. Examples without a usable embedding are left out.
    """
    if min_people < 1 or per_person_cap < 1:
        raise HeadRetrainError("min_people and per_person_cap must be at least 1")
    usable = [
        i for i, row in enumerate(rows) if not row.food_key.startswith(MY_PREFIX) and _usable(row.embedding)
    ]
    people: dict[str, set[int]] = {}
    for i in usable:
        people.setdefault(rows[i].food_key, set()).add(rows[i].user_id)
    shared = {food for food, who in people.items() if len(who) >= min_people}
    kept: list[int] = []
    taken: dict[tuple[int, str], int] = {}
    for i in reversed(usable):
        slot = (rows[i].user_id, rows[i].food_key)
        if rows[i].food_key in shared and taken.get(slot, 0) < per_person_cap:
            taken[slot] = taken.get(slot, 0) + 1
            kept.append(i)
    return kept[::-1]


def _usable(vector: np.ndarray) -> bool:
    return vector.ndim == 1 and vector.size > 0 and bool(np.isfinite(vector).all()) and bool(vector.any())


def known_foods(meta: BundleMeta) -> set[str]:
    """The food keys a bundle has labels for."""
    return {food for food in meta.label_foods.values() if food}


def new_foods(meta: BundleMeta, examples: Iterable[tuple[str, np.ndarray] | TaughtExample]) -> list[str]:
    """The foods of `examples` the bundle has no label for, in first-seen order: the classes to add."""
    known = known_foods(meta)
    keys = (row.food_key if isinstance(row, TaughtExample) else row[0] for row in examples)
    return [key for key in dict.fromkeys(keys) if key not in known and not key.startswith(MY_PREFIX)]


@dataclass(frozen=True, slots=True)
class HeadParams:
    """The retrain's knobs, chosen on `bench/data/food_photos` (one photo per food taught, the others
    recognized): the most named first with memory that lost no known food and no no-food photo. Lower
    `l2` rows are more confident and began to take no-food photos; higher ones added nothing to memory.
    """

    #: The penalty on the new weights, `l2 / 2 · Σ |v|²`, with v a row acting on unit embeddings.
    l2: float = 3e-4
    #: The penalty on the new biases, `bias_l2 / 2 · Σ b²`: strong, so a row answers by its weights.
    bias_l2: float = 10.0
    #: L-BFGS iterations at most (the problem is convex: 10,000 examples of 100 foods are within 1e-4 of
    #: the loss of 200 iterations; small sets stop earlier, converged).
    max_iter: int = 100


DEFAULT_HEAD_PARAMS = HeadParams()


@dataclass
class HeadCandidate:
    """A retrained model not yet on disk: the timm state dict and its `bundle.json`."""

    state_dict: dict[str, torch.Tensor]
    meta: BundleMeta
    #: What the retrain did: examples used and left out, new foods, loss, seconds.
    stats: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path | str, *, onnx: bool = True) -> ModelBundle:
        """Write the bundle (`model.bundle.save_bundle`, atomically) and, by default, its ONNX export, which
        the CPU runtime serves, checked against PyTorch (`training.export.check_onnx`). Loading is strict,
        so a head that does not fit the architecture stops here."""
        bundle = save_bundle(path, self.state_dict, self.meta)
        if onnx:
            from model.onnx_export import export_onnx
            from training.export import ExportError, check_onnx

            onnx_path = export_onnx(bundle)
            try:
                check_onnx(bundle)
            except ExportError:
                onnx_path.unlink(missing_ok=True)
                raise
        return load_bundle(bundle.path)


def feature_scale(bundle: ModelBundle, photos: Sequence[bytes]) -> float:
    """The median norm of the bundle's raw pooled features on these photos (the module's `c`).

    Give it a few real photos (a dozen is plenty; unreadable ones are skipped). A head-only candidate
    stores it in its provenance (`FEATURE_SCALE_KEY`), and `scale_of` reads it back, so a candidate of a
    candidate need not measure again: its backbone is the same.
    """
    from model.images import ImageDecodeError
    from model.recognizer import Recognizer

    recognizer = Recognizer(bundle, device="cpu")
    norms: list[float] = []
    for start in range(0, len(photos), 16):
        arrays = []
        for data in photos[start : start + 16]:
            try:
                arrays.append(recognizer.preprocess(data))
            except ImageDecodeError:
                continue
        if arrays:
            embeddings = recognizer.forward(np.stack(arrays)).embeddings
            if embeddings is None:
                raise HeadRetrainError(f"{bundle.path} gives no embeddings (re-export its ONNX file)")
            norms += np.linalg.norm(embeddings, axis=1).tolist()
    if not norms:
        raise HeadRetrainError("no readable photo to measure the feature scale on")
    return float(np.median(norms))


def is_head_only(bundle: ModelBundle) -> bool:
    """Whether the bundle is a head-only candidate (`retrain_head`'s, saved)."""
    return bundle.meta.provenance.get("kind") == HEAD_ONLY_KIND


def embeddings_of(bundle: ModelBundle) -> str:
    """The id of the bundle whose embeddings this one's are, bit for bit: a head-only candidate's
    ancestor that made them, else the bundle itself. Memory examples under that id serve this bundle."""
    return str(bundle.meta.provenance.get(EMBEDDINGS_OF_KEY, bundle.id))


def scale_of(bundle: ModelBundle) -> float | None:
    """The feature scale a head-only candidate recorded, or None for a bundle that was not one."""
    value = bundle.meta.provenance.get(FEATURE_SCALE_KEY)
    return float(value) if isinstance(value, int | float) else None


def params_of(bundle: ModelBundle) -> HeadParams:
    """The `HeadParams` a head-only candidate was trained with (the defaults for any other bundle)."""
    recorded = bundle.meta.provenance.get("head_params")
    if not is_head_only(bundle) or not isinstance(recorded, dict):
        return DEFAULT_HEAD_PARAMS
    fields = {name for name in HeadParams.__dataclass_fields__}
    return HeadParams(**{k: v for k, v in recorded.items() if k in fields})


def taught_label(food_key: str) -> str:
    """The label a new class of `food_key` gets."""
    return f"{TAUGHT_PREFIX}{food_key}"


def classifier_keys(state: Mapping[str, torch.Tensor], labels: int) -> tuple[str, str]:
    """The (weight, bias) names of a timm state dict's linear classifier of `labels` outputs.

    The classifier is the last such pair in the state dict's order (timm registers it last).
    """
    found: tuple[str, str] | None = None
    for key, tensor in state.items():
        if key.endswith(".weight") and tensor.ndim == 2 and tensor.shape[0] == labels:
            bias_key = key.removesuffix(".weight") + ".bias"
            if bias_key in state and tuple(state[bias_key].shape) == (labels,):
                found = (key, bias_key)
    if found is None:
        raise HeadRetrainError(f"no linear classifier of {labels} outputs in the weights")
    return found


def target_columns(meta: BundleMeta) -> dict[str, list[int]]:
    """Each food's columns in the bundle's classifier (a food may have several labels)."""
    columns: dict[str, list[int]] = {}
    for column, label in enumerate(meta.labels):
        food = meta.food_of(label)
        if food is not None:
            columns.setdefault(food, []).append(column)
    return columns


def retrain_head(
    serving: ModelBundle,
    examples: Sequence[tuple[str, np.ndarray]],
    new: Sequence[str],
    scale: float,
    seed: int = 0,
    params: HeadParams = DEFAULT_HEAD_PARAMS,
) -> HeadCandidate:
    """A candidate: the serving bundle plus one trained class per food in `new` (module docstring).

    `examples` are (food key, unit embedding) pairs, usually `choose_training_set`'s; those of a food
    neither new nor known to the serving bundle (a food taught by too few people) are left out, and
    counted in `stats`. `new` must not name a food the serving bundle knows. With no new food the
    candidate is the serving model under a new provenance (a retrain that has nothing to add).
    Deterministic for the same inputs and number of torch threads.
    """
    import torch

    started = time.perf_counter()
    meta = serving.meta
    if meta.head != "softmax":
        raise HeadRetrainError(f"head-only retrain trains softmax heads; {serving.path} is {meta.head}")
    if not np.isfinite(scale) or scale <= 0:
        raise HeadRetrainError(f"the feature scale must be a positive number, not {scale}")
    columns = target_columns(meta)
    new = list(dict.fromkeys(new))
    clash = [food for food in new if food in columns or taught_label(food) in meta.labels]
    if clash:
        raise HeadRetrainError(f"the serving model knows these foods already: {clash[:5]}")
    state = serving.state_dict()
    weight_key, bias_key = classifier_keys(state, len(meta.labels))
    weight, bias = state[weight_key], state[bias_key]
    width = weight.shape[1]
    row_of = {food: n for n, food in enumerate(new)}

    vectors: list[np.ndarray] = []
    rows_of_examples: list[int] = []  # the example's trainable row, or -1
    fixed_cols: list[list[int]] = []  # the example's food's serving columns
    left_out: dict[str, int] = {}
    for food, vector in examples:
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape != (width,) or not _usable(vector):
            left_out["unusable embedding"] = left_out.get("unusable embedding", 0) + 1
            continue
        if food not in row_of and food not in columns:
            left_out["food neither new nor known"] = left_out.get("food neither new nor known", 0) + 1
            continue
        rows_of_examples.append(row_of.get(food, -1))
        fixed_cols.append(columns.get(food, []))
        vectors.append(vector / np.linalg.norm(vector))
    taught_counts = {food: rows_of_examples.count(n) for food, n in row_of.items()}
    empty = [food for food, count in taught_counts.items() if count == 0]
    if empty:
        raise HeadRetrainError(f"no usable example of the new foods {empty[:5]}")

    torch.manual_seed(seed)
    rows = len(new)
    new_weight = torch.zeros(rows, width)
    new_bias = torch.zeros(rows)
    loss_value = 0.0
    train_right = 0
    if rows:
        emb = torch.from_numpy(np.stack(vectors))
        with torch.no_grad():
            fixed = scale * emb @ weight.float().T + bias.float()
            fixed_lse = torch.logsumexp(fixed, dim=1)
            # The log of the example's food's probability mass on the serving columns (-inf: none).
            fixed_target = torch.full((len(vectors),), -torch.inf)
            for i, cols in enumerate(fixed_cols):
                if cols:
                    fixed_target[i] = torch.logsumexp(fixed[i, cols], dim=0)
            fixed_best = fixed.max(dim=1).values
            del fixed
        target = torch.tensor(rows_of_examples, dtype=torch.int64)
        has_row = target >= 0
        gather = target.clamp(min=0).unsqueeze(1)
        v = torch.zeros(rows, width, requires_grad=True)
        b = torch.zeros(rows, requires_grad=True)
        optimizer = torch.optim.LBFGS(
            [v, b], lr=1.0, max_iter=params.max_iter, history_size=20, line_search_fn="strong_wolfe"
        )
        count = float(len(vectors))

        def objective() -> torch.Tensor:
            logits = emb @ v.T + b
            lse = torch.logaddexp(fixed_lse, torch.logsumexp(logits, dim=1))
            own = torch.where(has_row, logits.gather(1, gather).squeeze(1), -torch.inf)
            numerator = torch.logaddexp(fixed_target, own)
            penalty = params.l2 / 2 * v.pow(2).sum() + params.bias_l2 / 2 * b.pow(2).sum()
            return (lse - numerator).sum() / count + penalty

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = objective()
            loss.backward()  # type: ignore[no-untyped-call]
            return loss

        optimizer.step(closure)  # type: ignore[no-untyped-call]
        with torch.no_grad():
            loss_value = float(objective())
            logits = emb @ v.T + b
            best_new, which = logits.max(dim=1)
            right_new = has_row & (best_new > fixed_best) & (which == target)
            train_right = int(right_new.sum())
            # Acting on raw features f ≈ c·e: the stored row is v / c.
            new_weight = v.detach() / scale
            new_bias = b.detach().clone()

    state[weight_key] = torch.cat([weight, new_weight.to(weight.dtype)])
    state[bias_key] = torch.cat([bias, new_bias.to(bias.dtype)])
    labels = [*meta.labels, *(taught_label(food) for food in new)]
    label_foods = {**meta.label_foods, **{taught_label(food): food for food in new}}
    seconds = time.perf_counter() - started
    stats: dict[str, Any] = {
        "examples": len(vectors),
        "examples_of_new_foods": int(sum(taught_counts.values())),
        "left_out": left_out,
        "new_foods": taught_counts,
        "loss": round(loss_value, 5),
        "new_foods_right_on_training": {"right": train_right, "of": int(sum(taught_counts.values()))},
        "seconds": round(seconds, 3),
    }
    provenance: dict[str, Any] = {
        "kind": HEAD_ONLY_KIND,
        "from": serving.id,
        EMBEDDINGS_OF_KEY: embeddings_of(serving),
        FEATURE_SCALE_KEY: round(float(scale), 6),
        "seed": seed,
        "head_params": {"l2": params.l2, "bias_l2": params.bias_l2, "max_iter": params.max_iter},
        "new_foods": new,
        "examples": len(vectors),
        "from_provenance": meta.provenance,
    }
    candidate_meta = meta.model_copy(
        update={
            "id": "",
            "labels": labels,
            "label_foods": label_foods,
            "provenance": provenance,
            "metrics": {"head_retrain": stats},
        }
    )
    _LOGGER.info("head retrain: %d new foods from %d examples in %.1f s", rows, len(vectors), seconds)
    return HeadCandidate(state, BundleMeta.model_validate(candidate_meta.model_dump()), stats)
