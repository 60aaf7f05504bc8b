"""The nutrition table: what a food is called and what 100 g of it holds.

The table ships with the package as `meallog/data/nutrition.csv` (built from USDA FoodData Central by
`scripts/build_nutrition_table.py`; every row cites its FDC id). The model's labels and the words people type
are both keys into it:

    table = default_table()
    egg = table["egg"]                  # KeyError if absent; table.get("egg") gives None instead
    table.search("capucino")            # [Food(key='cappuccino', ...), ...], best first; [] for nonsense

With an index of all of USDA FoodData Central attached (`attach_index`, `meallog.food_index`), search
and lookup reach its 365,000 foods too, the curated foods first.

Values are per 100 g; `portion_g`/`portion_name` are the default serving ("1 large egg", 50 g). Turning grams
into macros is `meallog.portions`.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

if TYPE_CHECKING:
    from meallog.food_index import FoodIndex

COLUMNS = (
    "key",
    "name",
    "aliases",
    "kcal",
    "protein_g",
    "fat_g",
    "carbs_g",
    "portion_g",
    "portion_name",
    "fdc_id",
    "source",
)

# A fuzzy match must score at least this (0-100) to count. 85 lets one or two typos through ("capucino",
# "spagetti bolognese", "avacado") and keeps look-alike words out ("hello" is not "jello": 80).
SEARCH_CUTOFF = 85.0

_KEY = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


class NutritionTableError(ValueError):
    """The CSV cannot be used; the message names the file, line and row."""


@dataclass(frozen=True, kw_only=True)
class Food:
    """One food of the table; energy and macros per 100 g, plus its default portion."""

    key: str
    name: str
    aliases: tuple[str, ...] = ()
    kcal: float
    protein_g: float
    fat_g: float
    carbs_g: float
    portion_g: float
    portion_name: str
    fdc_id: int = 0
    source: str = ""


def normalize(text: str) -> str:
    """Lower-case ASCII words separated by single spaces: "Crème-brûlée" and "creme_brulee" meet."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(re.sub(r"[^a-z0-9&%]+", " ", text).split())


def _singulars(term: str) -> list[str]:
    """The term and, if its last word looks plural, the term with that word made singular."""
    head, _, last = term.rpartition(" ")
    guesses = [last]
    if last.endswith("ies") and len(last) > 4:
        guesses.append(last[:-3] + "y")
    if last.endswith("oes") and len(last) > 4:
        guesses.append(last[:-2])
    if last.endswith("s") and len(last) > 3 and not last.endswith(("ss", "us")):
        guesses.append(last[:-1])
    return list(dict.fromkeys(f"{head} {guess}" if head else guess for guess in guesses))


def _covers(term: str, food: Food) -> bool:
    """Whether the food's key, name or an alias holds every word of the query (each as a word's start)."""
    wanted = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in term.split()]
    for way in (food.key.replace("_", " "), food.name, *food.aliases):
        words = normalize(way).split()
        if all(any(word.startswith(stem) for word in words) for stem in wanted):
            return True
    return False


def _score(query: str, choice: str, **_: object) -> float:
    """Edit similarity, or word-set similarity when all the words of one side are in the other.

    Edit similarity forgives typos ("capucino"); word sets find "chicken breast" for "grilled chicken
    breast" and offer "brown rice" and "fried rice" for "rice", without letting "tea" match "steak".
    """
    return max(fuzz.ratio(query, choice), fuzz.token_set_ratio(query, choice))


class NutritionTable:
    """All foods by key, with exact and fuzzy lookup by what people call them."""

    def __init__(self, foods: Iterable[Food]) -> None:
        self._index: FoodIndex | None = None
        self._personal: Callable[[str], Food | None] | None = None
        self._own: tuple[Food, ...] = ()
        self._foods: dict[str, Food] = {}
        for food in foods:
            if food.key in self._foods:
                raise NutritionTableError(f"food {food.key!r} is in the table twice")
            self._foods[food.key] = food
        # Every way to call a food, normalized, in order of authority: keys, then names, then aliases.
        self._terms: list[str] = []
        self._term_foods: list[Food] = []
        self._exact: dict[str, list[Food]] = {}
        ways = (
            lambda food: (food.key.replace("_", " "),),
            lambda food: (food.name,),
            lambda food: food.aliases,
        )
        for names_of in ways:
            for food in self._foods.values():
                for name in names_of(food):
                    term = normalize(name)
                    if not term:
                        continue
                    self._terms.append(term)
                    self._term_foods.append(food)
                    matches = self._exact.setdefault(term, [])
                    if food not in matches:
                        matches.append(food)

    @classmethod
    def load(cls, path: Path | None = None) -> NutritionTable:
        """Read a table CSV; by default the one packaged as `meallog/data/nutrition.csv`.

        Every row is checked (numbers finite and not negative, portion above 0, a valid key) so that a bad
        edit fails at start-up with the line at fault rather than later as a wrong calorie count.
        """
        if path is None:
            label = "meallog/data/nutrition.csv"
            text = resources.files("meallog").joinpath("data", "nutrition.csv").read_text(encoding="utf-8")
        else:
            label = str(path)
            text = path.read_text(encoding="utf-8")
        return cls(_parse(text, label))

    def get(self, key: str) -> Food | None:
        """The food with this key (curated, a person's own, or from the attached index), or None."""
        food = self._foods.get(key)
        if food is None and self._personal is not None and key.startswith("my_"):
            return self._personal(key)
        if food is None and self._index is not None:
            food = self._index.get(key)
        return food

    def name_of(self, key: str) -> str:
        """The food's name; for a key the table does not have (any more), the key made readable."""
        food = self.get(key)
        return food.name if food is not None else key.replace("_", " ").capitalize()

    def __getitem__(self, key: str) -> Food:
        food = self.get(key)
        if food is None:
            raise KeyError(key)
        return food

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def without_own(self) -> NutritionTable:
        """This table without a person's own foods (`with_own`)."""
        return self.with_own(()) if self._own else self

    def is_curated(self, key: str) -> bool:
        """Whether the food is one of the curated table's (or the person's own), not only in the attached
        FoodData Central index."""
        return key in self._foods or self.is_own(key)

    def __len__(self) -> int:
        return len(self._foods)

    def __iter__(self) -> Iterator[Food]:
        return iter(self._foods.values())

    def with_own(self, foods: Sequence[Food]) -> NutritionTable:
        """This table as one person sees it: their own foods (`meallog.my_foods`) found first by search
        and by exact name. A shallow copy: it shares everything else with this table."""
        view = copy.copy(self)
        view._own = tuple(foods)
        return view

    def is_own(self, key: str) -> bool:
        """Whether the food is one of the person's own foods this view was made with (`with_own`)."""
        return any(food.key == key for food in self._own)

    def exact(self, query: str) -> Food | None:
        """The food whose key, name or alias is the query (or its singular), else None; the person's own
        foods first (`with_own`)."""
        term = normalize(query)
        for variant in _singulars(term) if term else ():
            for food in self._own:
                if normalize(food.name) == variant:
                    return food
        for variant in _singulars(term) if term else ():
            for food in self._exact.get(variant, ()):
                return food
        return None

    def closest(self, query: str, limit: int = 3) -> list[Food]:
        """The foods whose names are nearest the query, however far: suggestions when nothing matches."""
        term = normalize(query)
        if not term or limit <= 0:
            return []
        found: dict[str, Food] = {}
        for _, _, index in process.extract(term, self._terms, scorer=_score, limit=limit * 5):
            found.setdefault(self._term_foods[index].key, self._term_foods[index])
        return list(found.values())[:limit]

    def search(self, query: str, limit: int = 5) -> list[Food]:
        """Foods the query may mean, best first, at most `limit`; empty when nothing is close enough.

        A key, name or alias equal to the query (or to its singular: "eggs" is "egg") comes first; fuzzy
        matches over keys, names and aliases follow, so typos and longer phrasings still find their food.
        """
        term = normalize(query)
        if not term or limit <= 0:
            return []
        own = match_foods(query, self._own, limit)
        if own:
            shared = self.without_own().search(query, limit)
            return [*own, *(food for food in shared if food.key not in {f.key for f in own})][:limit]
        found: dict[str, Food] = {}
        for variant in _singulars(term):
            for food in self._exact.get(variant, ()):
                found.setdefault(food.key, food)
        matches = process.extract(term, self._terms, scorer=_score, score_cutoff=SEARCH_CUTOFF, limit=None)
        # Best score first; among equals, the term closest in length to the query, then table order (keys
        # before names before aliases), so results are stable from run to run.
        matches.sort(key=lambda match: (-match[1], abs(len(match[0]) - len(term)), match[2]))
        exact = len(found)
        for _, _, index in matches:
            if len(found) >= limit:
                break
            food = self._term_foods[index]
            found.setdefault(food.key, food)
        curated = list(found.values())[:limit]
        if self._index is None:
            return curated
        # All of FoodData Central: a curated food that leaves out a word of the query ("Butter" for
        # "butter chicken") comes after foods of the index that hold every word.
        whole = [f for n, f in enumerate(curated) if n < exact or _covers(term, f)]
        if len(whole) >= limit:
            return whole[:limit]
        partial = [f for f in curated if f not in whole]
        names = {normalize(f.name) for f in curated}
        more = [f for f in self._index.search(query, limit) if normalize(f.name) not in names]
        return [*whole, *more, *partial][:limit]

    def attach_index(self, index: FoodIndex | None) -> None:
        """Search and look up all of FoodData Central too (`meallog.food_index`); None detaches it."""
        self._index = index

    def attach_personal(self, lookup: Callable[[str], Food | None]) -> None:
        """Look up people's own foods (keys `my_<id>`) with `lookup` (`meallog.store.my_foods`). Only
        by key: search stays the shared foods', and a person's own are searched by `meallog.my_foods`."""
        self._personal = lookup

    @property
    def index(self) -> FoodIndex | None:
        """The attached index of all of FoodData Central, if any."""
        return self._index


#: A person's own food matches by spelling when it scores this (0-100); word starts always match.
OWN_CUTOFF = 80.0


def _squashed(text: str) -> str:
    """`normalize` with apostrophes dropped, not spaced: "Grandma's" is "grandmas", as people type it."""
    return normalize(re.sub("['\u2019]", "", text))


def match_foods(query: str, foods: Iterable[Food], limit: int = 5) -> list[Food]:
    """Of a short list of foods (a person's own), those the query may mean, best first: every word of
    the query starting a word of the name, or a close spelling ("grandmas pie" finds "Grandma's pie")."""
    term = _squashed(query)
    if not term or limit <= 0:
        return []
    wanted = term.split()
    scored: list[tuple[float, str, Food]] = []
    for food in foods:
        name = _squashed(food.name)
        words = name.split()
        if all(any(word.startswith(w) for word in words) for w in wanted):
            score = 200.0 - abs(len(name) - len(term))
        else:
            score = _score(term, name)
            if score < OWN_CUTOFF:
                continue
        scored.append((score, name, food))
    scored.sort(key=lambda entry: (-entry[0], entry[1]))
    return [food for _, _, food in scored[:limit]]


def _parse(text: str, label: str) -> list[Food]:
    """Rows of a table CSV as foods; raises NutritionTableError naming the first bad row."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise NutritionTableError(f"{label}: columns must be {','.join(COLUMNS)}, got {reader.fieldnames}")
    foods: list[Food] = []
    lines: dict[str, int] = {}
    for raw in reader:
        where = f"{label}:{reader.line_num}: row {raw.get('key')!r}"
        if None in raw or any(value is None for value in raw.values()):
            raise NutritionTableError(f"{where}: expected {len(COLUMNS)} fields")
        if not _KEY.fullmatch(raw["key"]):
            raise NutritionTableError(f"{where}: key must be lower-case snake_case ASCII")
        if raw["key"] in lines:
            raise NutritionTableError(f"{where}: key already used on line {lines[raw['key']]}")
        lines[raw["key"]] = reader.line_num
        if not raw["name"].strip() or not raw["portion_name"].strip():
            raise NutritionTableError(f"{where}: name and portion_name must not be empty")
        numbers: dict[str, float] = {}
        for field in ("kcal", "protein_g", "fat_g", "carbs_g", "portion_g"):
            try:
                value = float(raw[field])
            except ValueError:
                raise NutritionTableError(f"{where}: {field} {raw[field]!r} is not a number") from None
            if not math.isfinite(value) or value < 0:
                raise NutritionTableError(
                    f"{where}: {field} must be a number of at least 0, got {raw[field]!r}"
                )
            numbers[field] = value
        if numbers["portion_g"] <= 0:
            raise NutritionTableError(f"{where}: portion_g must be more than 0")
        try:
            fdc_id = int(raw["fdc_id"] or 0)
        except ValueError:
            raise NutritionTableError(f"{where}: fdc_id {raw['fdc_id']!r} is not a whole number") from None
        if fdc_id < 0:
            raise NutritionTableError(f"{where}: fdc_id must not be negative")
        foods.append(
            Food(
                key=raw["key"],
                name=raw["name"].strip(),
                aliases=tuple(alias.strip() for alias in raw["aliases"].split("|") if alias.strip()),
                kcal=numbers["kcal"],
                protein_g=numbers["protein_g"],
                fat_g=numbers["fat_g"],
                carbs_g=numbers["carbs_g"],
                portion_g=numbers["portion_g"],
                portion_name=raw["portion_name"].strip(),
                fdc_id=fdc_id,
                source=raw["source"].strip(),
            )
        )
    return foods


@cache
def default_table() -> NutritionTable:
    """The packaged table, read once per process."""
    return NutritionTable.load()
