"""Dataset labels → nutrition keys, through an explicit mapping file per dataset.

A mapping file is a CSV with the header ``label,food_key`` (an empty food_key says "not a food") or a
JSON object ``{label: food_key or null}``. Every food key it names must be in the nutrition table, so a
typo stops the run instead of giving a model whose food has no calories. Labels the file does not name,
or names with no food, are *unmapped*: they are reported, and the bundle keeps them with a null food
(the bot treats them as "not a food it can log").

Without a file, a label that is itself a nutrition key (after lower-casing and turning spaces and
dashes into underscores) maps to that key; Food-101's class names all are (``mappings/food101.csv``
says so explicitly and is used for that layout). `suggest_mapping` drafts a file for a new dataset from
the table's fuzzy search, for a person to check.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from meallog.nutrition import NutritionTable

#: Mapping files shipped for known datasets, by layout.
SHIPPED = {"food101": Path(__file__).parent / "mappings" / "food101.csv"}


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the rows at fault."""


@dataclass(frozen=True)
class LabelMapping:
    """The food of every label (None: unmapped) and where the mapping came from."""

    label_foods: dict[str, str | None]
    source: str

    @property
    def unmapped(self) -> tuple[str, ...]:
        return tuple(label for label, food in self.label_foods.items() if food is None)

    def report(self, limit: int = 20) -> str:
        """A few lines for the person: how many labels map, and which do not."""
        total = len(self.label_foods)
        lines = [f"labels → foods ({self.source}): {total - len(self.unmapped)} of {total} mapped"]
        if self.unmapped:
            shown = ", ".join(self.unmapped[:limit])
            more = f" and {len(self.unmapped) - limit} more" if len(self.unmapped) > limit else ""
            lines.append(f"unmapped (kept in the bundle with no food): {shown}{more}")
        return "\n".join(lines)


def normalize_key(label: str) -> str:
    """`Apple Pie` and `apple-pie` → `apple_pie`, the shape of nutrition keys."""
    return re.sub(r"[\s\-]+", "_", label.strip().lower())


def read_mapping_file(path: Path) -> dict[str, str | None]:
    """A mapping file as {label: food key or None}."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read the mapping file {path}: {exc}") from exc
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MappingError(f"{path} is not JSON: {exc}") from exc
        if not isinstance(doc, dict) or not all(isinstance(v, str | None) for v in doc.values()):
            raise MappingError(f"{path} must be a JSON object of label → food key (or null)")
        return {str(k): (v or None) for k, v in doc.items()}
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or not {"label", "food_key"} <= set(reader.fieldnames):
        raise MappingError(f"{path} must be a CSV with the columns label,food_key")
    mapping: dict[str, str | None] = {}
    for line_no, row in enumerate(reader, start=2):
        label = (row["label"] or "").strip()
        if not label:
            raise MappingError(f"{path} line {line_no}: empty label")
        if label in mapping:
            raise MappingError(f"{path} line {line_no}: {label!r} is mapped twice")
        mapping[label] = (row["food_key"] or "").strip() or None
    return mapping


def resolve_mapping(
    labels: Sequence[str],
    table: NutritionTable,
    mapping_file: Path | None = None,
    layout: str | None = None,
) -> LabelMapping:
    """The food of each label: from `mapping_file`, else the file shipped for `layout`, else by key."""
    if mapping_file is None and layout in SHIPPED:
        mapping_file = SHIPPED[layout]
    if mapping_file is None:
        foods = {label: (normalize_key(label) if normalize_key(label) in table else None) for label in labels}
        return LabelMapping(foods, "labels that are nutrition keys")
    mapping = read_mapping_file(mapping_file)
    bad = sorted({food for food in mapping.values() if food is not None and food not in table})
    if bad:
        raise MappingError(
            f"{mapping_file} names foods the nutrition table lacks: {', '.join(bad[:10])}"
            + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        )
    return LabelMapping({label: mapping.get(label) for label in labels}, f"mapping file {mapping_file}")


def suggest_mapping(
    labels: Sequence[str], table: NutritionTable, display_names: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """A draft mapping: each label's nutrition key if it is one, else the table's best fuzzy match."""
    display_names = display_names or {}
    draft: dict[str, str | None] = {}
    for label in labels:
        key = normalize_key(label)
        if key in table:
            draft[label] = key
            continue
        found = table.search(display_names.get(label, label.replace("_", " ").replace("-", " ")), limit=1)
        draft[label] = found[0].key if found else None
    return draft


def write_mapping_file(path: Path, mapping: Mapping[str, str | None]) -> None:
    """Write a CSV mapping file (label,food_key; empty food_key for none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["label", "food_key"])
    for label, food in mapping.items():
        writer.writerow([label, food or ""])
    path.write_text(buffer.getvalue(), encoding="utf-8")
