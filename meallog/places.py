"""A typed city or country becomes a place with an IANA zone, or a short choice between places.

Most people answer "what's your timezone?" with their city, and most cities are not zone names ("San
Francisco", "Munich", "Mumbai"). The gazetteer (`meallog.places_data`: GeoNames' places of 15,000 people or
more) knows them in any case, with or without accents, and the larger ones also by the names other
languages give them ("München", "Bombay", "Peking"). A country or a US state works too ("India",
"Germany", "Texas"): its zone, or a choice of its zones ("United States").

Same-named places are ranked by how likely someone typing the name means each one: its population times
the number of names GeoNames knows it by (how widely the world talks about it: Barcelona, Spain has 83,
Barcelona, Venezuela 29, and the district of Hong Kong called Victoria 2 against Victoria, Canada's 48);
times 2 for a country's capital, times 2 for the place a zone is named after (San Juan, Argentina, of
America/Argentina/San_Juan); times 1/100 when only another spelling matched (`_ALIAS_WEIGHT`: Dili is
also spelled "Delhi", but "Delhi" means Delhi, while "Bombay" and "Peking" still find their cities).
When a place that keeps a different clock comes close (at least `ASK_SHARE` of the first one's weight:
Valencia, Venezuela and Valencia, Spain), the bot asks rather than guessing; when one is far ahead
(Paris, France against Paris, Texas), it takes that one and says how to name the other ("Paris, Texas").
A country, state or nation after the city ("Portland, Maine", "Paris TX", "London, UK") narrows the
choice.

Plain functions; no Telegram. The file is read on first use and kept (`_index`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, available_timezones

from rapidfuzz import fuzz, process

from meallog.places_data import Gazetteer, Place, name_key, read_gazetteer

__all__ = [
    "ASK_SHARE",
    "CityAnswer",
    "Place",
    "country_name",
    "find_area",
    "find_city",
    "label",
    "name_key",
    "naming",
    "needs_region",
    "place_by_id",
    "same_clock",
    "suggest_places",
    "warm_up",
]

#: A place in another clock with at least this share of the first one's weight makes the bot ask:
#: Valencia, Spain against Valencia, Venezuela (0.8) asks; Barcelona, Venezuela against Barcelona, Spain
#: (0.17) and Portland, Maine against Portland, Oregon (0.09) do not, and the reply names the other one.
ASK_SHARE = 1 / 3
#: A country's or state's clock where at least this share of its people (against its biggest clock's)
#: live is offered: "Texas" asks between Central and Mountain (El Paso), "Spain" between Madrid and the
#: Canary Islands; Hawaii (a fraction of a percent of the United States) is left to "Honolulu".
_AREA_SHARE = 0.02
#: At most this many places to choose from (one button each).
MAX_CHOICES = 5
#: Weight of a place matched by another of its spellings only: a place's own name comes first, but a
#: world city's old name still beats a township's own ("Calcutta" is Kolkata, not Calcutta, South
#: Africa); Hong Kong, once called Victoria, then stands beside Victoria, Canada.
_ALIAS_WEIGHT = 0.01
#: Typo suggestions below this similarity (0-100) are noise.
_SUGGEST_CUTOFF = 78.0
#: What separates a city from its state or country, as people write it: "Portland, Maine", "Paris (TX)".
_SEPARATORS = re.compile(r"\s*[,;()]\s*")

#: Names for countries beyond their own (GeoNames') names, for "London, UK" and "USA".
_COUNTRY_ALIASES = {
    "usa": "US",
    "us": "US",
    "u s": "US",
    "u s a": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u k": "GB",
    "britain": "GB",
    "great britain": "GB",
    "holland": "NL",
    "the netherlands": "NL",
    "czech republic": "CZ",
    "korea": "KR",
    "republic of korea": "KR",
    "uae": "AE",
    "emirates": "AE",
    "russian federation": "RU",
    "viet nam": "VN",
    "turkiye": "TR",
    "burma": "MM",
    "cote divoire": "CI",
    "macedonia": "MK",
    "swaziland": "SZ",
}


@dataclass(frozen=True, slots=True)
class CityAnswer:
    """What a typed place name came to.

    `city` is the name as the gazetteer spells it ("Portland"; "India" for a country). `places` holds one
    place (take it) or several in different clocks (ask), best first; for a country they stand for its
    zones (its biggest place in each). `elsewhere` is the best place of the name in another clock that was
    not offered, for "Another Paris? Type “Paris, Texas”". `missed` is a state or country that none of the
    places called `city` lies in ("Paris, Peru"): `places` are then the ones there are, to choose from.
    `area` tells a country or state from a city.
    """

    city: str
    places: tuple[Place, ...]
    elsewhere: Place | None = None
    missed: str = ""
    area: bool = False

    @property
    def sure(self) -> bool:
        """Whether there is one answer to take without asking."""
        return len(self.places) == 1 and not self.missed


@dataclass(frozen=True, slots=True)
class _Index:
    """The gazetteer with the lookups built from it once."""

    data: Gazetteer
    by_id: dict[int, Place]
    by_name: dict[str, tuple[Place, ...]]  # own name key -> places
    by_alias: dict[str, tuple[Place, ...]]  # another spelling's key -> places
    by_country: dict[str, tuple[Place, ...]]  # iso2 -> places
    qualifiers: dict[str, tuple[tuple[str, str], ...]]  # key -> the (country, region or "") it may mean
    areas: dict[str, tuple[tuple[str, str], ...]]  # a country's or state's full name -> the same
    names: tuple[str, ...]  # own name keys, for typo suggestions
    zone_cities: dict[str, frozenset[str]]  # a zone's last segment, as a key -> the zones named so


@cache
def _index() -> _Index:
    """Read the file and build the lookups: once per process, a few tenths of a second."""
    data = read_gazetteer()
    known = available_timezones()
    by_name: dict[str, list[Place]] = {}
    by_alias: dict[str, list[Place]] = {}
    by_country: dict[str, list[Place]] = {}
    by_id: dict[int, Place] = {}
    for place in data.places:
        if place.zone not in known:
            continue  # an older tzdata than the file's: leave the place out rather than fail later
        by_id[place.id] = place
        by_name.setdefault(name_key(place.name), []).append(place)
        by_country.setdefault(place.country_code, []).append(place)
        for key in data.aliases.get(place.id, ()):
            by_alias.setdefault(key, []).append(place)
    # Qualifiers are what may follow a city (codes too: "Paris, TX"); areas what may stand alone, so only
    # full names ("IT", "in" and "no" are words before they are countries).
    qualifiers: dict[str, set[tuple[str, str]]] = {}
    areas: dict[str, set[tuple[str, str]]] = {}
    for iso2, (iso3, name) in data.countries.items():
        areas.setdefault(name_key(name), set()).add((iso2, ""))
        for key in (name_key(name), iso2.lower(), iso3.lower()):
            qualifiers.setdefault(key, set()).add((iso2, ""))
    for key, iso2 in _COUNTRY_ALIASES.items():
        areas.setdefault(key, set()).add((iso2, ""))
        qualifiers.setdefault(key, set()).add((iso2, ""))
    for (iso2, code), name in data.regions.items():
        # "Georgia" is a state and a country, "CA" California and Canada: such a word means both.
        areas.setdefault(name_key(name), set()).add((iso2, code))
        qualifiers.setdefault(name_key(name), set()).add((iso2, code))
        if iso2 == "US":
            qualifiers.setdefault(code.lower(), set()).add((iso2, code))
    zone_cities: dict[str, set[str]] = {}
    for zone in known:
        zone_cities.setdefault(name_key(zone.rsplit("/", 1)[-1]), set()).add(zone)
    return _Index(
        data=Gazetteer((), {}, data.countries, data.regions),  # the places live on in the lookups
        by_id=by_id,
        by_name={k: tuple(v) for k, v in by_name.items()},
        by_alias={k: tuple(v) for k, v in by_alias.items()},
        by_country={k: tuple(v) for k, v in by_country.items()},
        qualifiers={k: tuple(sorted(v)) for k, v in qualifiers.items()},
        areas={k: tuple(sorted(v)) for k, v in areas.items()},
        names=tuple(by_name),
        zone_cities={k: frozenset(v) for k, v in zone_cities.items()},
    )


def warm_up() -> None:
    """Read the gazetteer now (a process can do it at start instead of on someone's first city)."""
    _index()


def place_by_id(ident: int) -> Place | None:
    """The place a button named, or None for an id the gazetteer does not have (forged, or data changed)."""
    return _index().by_id.get(ident)


def country_name(place: Place) -> str:
    """The place's country as people read it ("United States")."""
    found = _index().data.countries.get(place.country_code)
    return found[1] if found else place.country_code


def region_name(place: Place) -> str:
    """The place's state or nation where the gazetteer names it (US states, GB nations), else ""."""
    return _index().data.regions.get((place.country_code, place.region_code), "")


def label(place: Place, *, region: bool = True) -> str:
    """ "Portland, Maine, United States"; without the state when `region` is False or it is unknown."""
    parts = [place.name]
    state = region_name(place) if region else ""
    if state and state != place.name:
        parts.append(state)
    country = country_name(place)
    if country != place.name:
        parts.append(country)
    return ", ".join(parts)


def needs_region(place: Place) -> bool:
    """Whether the place's country has another place of its name, so that a reply should name the state
    too ("Portland, Oregon, United States", but "San Francisco, United States")."""
    return any(
        other.id != place.id and other.country_code == place.country_code
        for other in _index().by_name.get(name_key(place.name), ())
    )


def naming(place: Place) -> str:
    """How to type this place unmistakably: "Paris, Texas", "Valencia, Spain"."""
    return f"{place.name}, {region_name(place) or country_name(place)}"


@cache
def _noons(year: int) -> tuple[datetime, ...]:
    start = datetime(year, 1, 1, 12, tzinfo=UTC)
    return tuple(start + timedelta(days=day) for day in range(366))


@lru_cache(maxsize=4096)
def same_clock(first: str, second: str, year: int | None = None) -> bool:
    """Whether two zones show the same time every day of the year (`year`, by default this one).

    America/Detroit and America/New_York do, and so do Europe/London and Europe/Lisbon; America/Havana and
    America/New_York do not (their daylight saving starts on other days). Choosing between zones that do
    changes nothing the person would notice, so the bot does not ask.
    """
    if first == second:
        return True
    a, b = ZoneInfo(first), ZoneInfo(second)
    return all(
        noon.astimezone(a).utcoffset() == noon.astimezone(b).utcoffset()
        for noon in _noons(year or date.today().year)
    )


def _qualified(place: Place, qualifier: str, index: _Index) -> bool:
    """Whether `place` lies in the country, state or nation `qualifier` (a name key) names."""
    return any(
        place.country_code == country and (not region or place.region_code == region)
        for country, region in index.qualifiers.get(qualifier, ())
    )


def _weight(place: Place, city: str, index: _Index) -> float:
    weight = float(max(place.population, 1) * max(place.names, 1))
    if place.capital:
        weight *= 2
    if place.zone in index.zone_cities.get(city, frozenset()):
        weight *= 2
    return weight


def _candidates(city: str, index: _Index) -> list[tuple[float, bool, Place]]:
    """Every place called `city`, likeliest first: (weight, by its own name?, place)."""
    found = [(_weight(place, city, index), True, place) for place in index.by_name.get(city, ())]
    taken = {place.id for _, _, place in found}
    found += [
        (_weight(place, city, index) * _ALIAS_WEIGHT, False, place)
        for place in index.by_alias.get(city, ())
        if place.id not in taken
    ]
    return sorted(found, key=lambda c: (-c[0], c[2].id))


def _parts(text: str) -> list[str]:
    return [part for part in (name_key(p) for p in _SEPARATORS.split(text)) if part]


def _readings(text: str, index: _Index) -> list[tuple[str, tuple[str, ...]]]:
    """The ways to read `text` as a city and the states or countries it lies in, likeliest first.

    "Portland, Maine" -> [("portland", ("maine",))]; "paris texas" -> [("paris texas", ()), ("paris",
    ("texas",))]: a place may be called that, and if none is, the last words may be a state or country.
    """
    parts = _parts(text)
    if not parts:
        return []
    readings = [(parts[0], tuple(parts[1:]))]
    if len(parts) == 1:
        words = parts[0].split(" ")
        for cut in range(len(words) - 1, max(0, len(words) - 4), -1):
            tail = " ".join(words[cut:])
            if tail in index.qualifiers:
                readings.append((" ".join(words[:cut]), (tail,)))
    return readings


def _choose(
    name: str,
    ranked: list[tuple[float, bool, Place]],
    *,
    share: float = ASK_SHARE,
    missed: str = "",
    area: bool = False,
) -> CityAnswer:
    """One place, or the close ones (`share` of the first's weight or more) in different clocks; and the
    likeliest other clock of the name, for the hint."""
    top = ranked[0][0]
    offered: list[Place] = []
    elsewhere: Place | None = None
    for weight, own_name, place in ranked:
        if any(same_clock(place.zone, other.zone) for other in offered):
            continue
        if (missed or weight >= share * top) and len(offered) < MAX_CHOICES:
            offered.append(place)
        elif elsewhere is None and own_name and not area:
            elsewhere = place
    return CityAnswer(city=name, places=tuple(offered), elsewhere=elsewhere, missed=missed, area=area)


def find_city(text: str) -> CityAnswer | None:
    """The place(s) `text` names, or None when no place is called that.

    "San Francisco" -> San Francisco, United States; "Valencia" -> Valencia, Venezuela and Valencia,
    Spain, to choose from; "Valencia, Spain" -> that one; "Paris, Peru" -> the Parises there are, with
    `missed` = "Peru".
    """
    index = _index()
    fallback: tuple[list[tuple[float, bool, Place]], str] | None = None
    for city, qualifiers in _readings(text, index):
        ranked = _candidates(city, index)
        if not ranked:
            continue
        kept = [c for c in ranked if all(_qualified(c[2], q, index) for q in qualifiers)]
        if kept:
            return _choose(kept[0][2].name, kept)
        if fallback is None:
            fallback = (ranked, ", ".join(qualifiers))
    if fallback is None:
        return None
    ranked, _ = fallback
    typed = [part.strip() for part in _SEPARATORS.split(text) if part.strip()]
    return _choose(ranked[0][2].name, ranked, missed=", ".join(typed[1:]) or "?")


def find_area(text: str, *, countries_only: bool = False) -> CityAnswer | None:
    """The zone(s) of a country or US state typed alone ("India", "Texas", "United States"), or None.

    Each of the area's clocks is represented by its biggest place and weighed by how many people the
    gazetteer has living in it, so "Texas" is Central time (with El Paso, on Mountain time, as the
    hint) and "United States" asks between its main zones. A word that is a state and a country
    ("Georgia") weighs both. `countries_only` leaves out words that name only a state or nation, for
    callers that try cities before those ("Washington" is a city first).
    """
    index = _index()
    key = " ".join(_parts(text))
    targets = index.areas.get(key)
    if not targets or (countries_only and all(region for _, region in targets)):
        return None
    # Per zone: how many people live there, and its biggest place.
    zones: dict[str, tuple[int, Place]] = {}
    for country, region in targets:
        for place in index.by_country.get(country, ()):
            if region and place.region_code != region:
                continue
            people, biggest = zones.get(place.zone, (0, place))
            if place.population > biggest.population:
                biggest = place
            zones[place.zone] = (people + place.population, biggest)
    if not zones:
        return None
    # Zones that keep one clock count together, under the biggest place among them.
    clocks: list[tuple[int, Place]] = []
    for people, biggest in sorted(zones.values(), key=lambda z: (-z[1].population, z[1].id)):
        for number, (total, first) in enumerate(clocks):
            if same_clock(first.zone, biggest.zone):
                clocks[number] = (total + people, first)
                break
        else:
            clocks.append((people, biggest))
    ranked = sorted(((float(total), True, place) for total, place in clocks), key=lambda c: (-c[0], c[2].id))
    names = {index.data.regions.get(t) or index.data.countries.get(t[0], ("", t[0]))[1] for t in targets}
    return _choose(" / ".join(sorted(names)), ranked, share=_AREA_SHARE, area=True)


def suggest_places(text: str, limit: int = 3) -> list[tuple[Place, float]]:
    """Places whose name looks like `text` ("Mumbia" -> Mumbai), best first, each with its likeness
    (0-100), for "did you mean". A big place comes before a small one of about the same likeness."""
    parts = _parts(text)
    if not parts or limit <= 0:
        return []
    index = _index()
    matches = process.extract(
        parts[0], index.names, scorer=fuzz.ratio, score_cutoff=_SUGGEST_CUTOFF, limit=limit * 10
    )
    scored: list[tuple[float, float, Place]] = []
    for key, score, _ in matches:
        place = _candidates(key, index)[0][2]
        scored.append((score + 2.5 * math.log10(max(place.population, 1) / 15_000), score, place))
    scored.sort(key=lambda s: (-s[0], s[2].id))
    return [(place, score) for _, score, place in scored[:limit]]
