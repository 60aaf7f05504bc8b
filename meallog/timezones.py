"""Turn what a person types for their timezone into an IANA name, or into a few suggestions.

People answer "what's your timezone?" with "europe/oslo", "Oslo", "new york", "UTC" or a typo. The bot stores
IANA names only (they survive daylight-saving changes), so this module maps the loose answer onto one, and
when nothing fits it offers the closest names for a "did you mean …?" reply. Plain functions; no Telegram.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from functools import cache

from rapidfuzz import fuzz, process

from meallog.places import CityAnswer, find_area, find_city, label, needs_region, suggest_places
from meallog.places_data import Place

# Names in the zone list that are not places a person lives in.
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
# The continental areas of the tz database; a city under one of them is preferred over a legacy alias
# such as "US/Eastern" or the bare "Singapore", which name the same rules less clearly.
_REGIONS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
# Words that mean Coordinated Universal Time; all map to the one name the bot stores.
_UTC_WORDS = frozenset(
    {
        "utc",
        "gmt",
        "z",
        "zulu",
        "utc0",
        "gmt0",
        "gmt+0",
        "gmt_0",
        "utc+0",
        "utc_0",
        "universal",
        "greenwich",
        "uct",
    }
)
# "UTC+2", "GMT -5": whole-hour offsets, which the Etc/GMT zones cover (from -14 to +12 in their sign).
_OFFSET = re.compile(r"^(?:utc|gmt)?([+-])(\d{1,2})(?::?00)?$")
# Suggestions scoring below this are noise ("hello" looks a little like "Hermosillo").
_SUGGEST_CUTOFF = 70.0


@dataclass(frozen=True, slots=True)
class _Zones:
    """The zone list with the lookups built from it once."""

    by_name: dict[str, str]  # normalised full name -> IANA name
    by_city: dict[str, str]  # normalised last path segment -> preferred IANA name
    choices: tuple[str, ...]  # fuzzy-match strings: full names and cities, spaces for underscores
    owners: tuple[str, ...]  # the IANA name each choice stands for


def _normalise(text: str) -> str:
    """Lowercase, strip accents and punctuation, join words with underscores: the shape zone names have.

    "São Paulo" -> "sao_paulo", "Port au Prince" and "Port-au-Prince" -> "port_au_prince",
    "Europe / Oslo" -> "europe/oslo", "St. John's" -> "st_johns".
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower().strip()
    text = re.sub(r"[.'\u2019]", "", text)
    text = re.sub(r"\s*/\s*", "/", text)
    return re.sub(r"[\s_-]+", "_", text).strip("_")


def _preference(name: str) -> tuple[int, int, str]:
    """Sort key among zones sharing a city: continental regions first, then the deeper canonical path.

    "America/Argentina/Buenos_Aires" beats the older link "America/Buenos_Aires", and "Asia/Singapore" beats
    "Singapore"; the name breaks the remaining ties so the answer never depends on set order.
    """
    parts = name.split("/")
    return (0 if parts[0] in _REGIONS else 1, -len(parts), name)


@cache
def _zones() -> _Zones:
    """Build the lookups once per process; reading the zone list from disk is the slow part."""
    names = sorted(zoneinfo.available_timezones() - _NOT_ZONES, key=_preference)
    by_name: dict[str, str] = {}
    by_city: dict[str, str] = {}
    choices: list[str] = []
    owners: list[str] = []
    for name in names:
        by_name.setdefault(_normalise(name), name)
        if name.split("/")[0] in _REGIONS:
            # Only real places count as cities ("US/Eastern" is not a city called Eastern); setdefault keeps
            # the first, which `names` ordered by preference.
            by_city.setdefault(_normalise(name.rsplit("/", 1)[-1]), name)
        full = name.lower().replace("_", " ")
        last = name.rsplit("/", 1)[-1]
        city = last.lower().replace("_", " ")
        choices.append(full)
        owners.append(name)
        # "Australia/LHI" and "Australia/NSW" are abbreviations, not cities: as cities they would be
        # offered for anything short that shares letters ("Dehli" -> Australia/LHI).
        if city != full and not last.isupper():
            choices.append(city)
            owners.append(name)
    return _Zones(by_name=by_name, by_city=by_city, choices=tuple(choices), owners=tuple(owners))


def _offset_zone(text: str) -> str | None:
    """Map "UTC+2" to "Etc/GMT-2": the Etc zones count the other way round (POSIX), which nobody expects."""
    match = _OFFSET.match(re.sub(r"\s+", "", text.lower()))
    if not match:
        return None
    sign, hours = match.group(1), int(match.group(2))
    if hours == 0:
        return "UTC"
    etc_sign = "-" if sign == "+" else "+"
    name = f"Etc/GMT{etc_sign}{hours}"
    return name if _normalise(name) in _zones().by_name else None


#: Abbreviations people type for a zone that follows daylight saving. tzdata's "EST" (and "MST", "HST")
#: is a fixed offset all year, which would put a New Yorker's summer days an hour off; so each is taken
#: as the region's zone, and the reply says so (`abbreviation_note`).
ABBREVIATIONS = {
    "est": "America/New_York",
    "edt": "America/New_York",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "akst": "America/Anchorage",
    "hst": "Pacific/Honolulu",
    "bst": "Europe/London",
    "cest": "Europe/Paris",
    "eest": "Europe/Athens",
    "jst": "Asia/Tokyo",
    "kst": "Asia/Seoul",
    "aest": "Australia/Sydney",
    "aedt": "Australia/Sydney",
}


def abbreviation_note(text: str) -> str:
    """ " (EST taken as America/New_York, which follows daylight saving)" for an abbreviation, else ""."""
    key = _normalise(text)
    zone = ABBREVIATIONS.get(key)
    if zone is None:
        return ""
    return f" ({text.strip().upper()} taken as {zone}, which follows daylight saving)"


def resolve_timezone(text: str) -> str | None:
    """The IANA name the person meant, or None when it is not clearly one zone.

    Tried in order: the words for UTC ("UTC", "GMT", "Zulu") -> "UTC"; a city ("oslo", "new york") -> the
    zone named after it; an exact name, case and spacing aside ("europe/oslo" -> "Europe/Oslo"); a whole-hour
    offset ("UTC+2"). A city wins over an exact legacy alias so "Singapore" gives "Asia/Singapore", the name
    people recognise later in settings. Typos are not guessed here; `suggest_timezones` offers them.
    """
    key = _normalise(text)
    if not key:
        return None
    if key in _UTC_WORDS:
        return "UTC"
    if key in ABBREVIATIONS:
        return ABBREVIATIONS[key]
    zones = _zones()
    if "/" not in key and key in zones.by_city:
        return zones.by_city[key]
    if key in zones.by_name:
        return zones.by_name[key]
    return _offset_zone(text)


def _zone_matches(text: str, limit: int) -> list[tuple[str, float]]:
    """Up to `limit` (IANA name, similarity 0-100) that look like `text`, best first, each zone once."""
    query = _normalise(text).replace("_", " ")
    if not query or limit <= 0:
        return []
    zones = _zones()
    matches = process.extract(
        query, zones.choices, scorer=fuzz.ratio, score_cutoff=_SUGGEST_CUTOFF, limit=limit * 4
    )
    # Best score first; among equal scores, prefer the clearer regional name.
    ranked = sorted(matches, key=lambda m: (-m[1], _preference(zones.owners[m[2]])))
    found: dict[str, float] = {}
    for _choice, score, index in ranked:
        found.setdefault(zones.owners[index], score)
        if len(found) == limit:
            break
    return list(found.items())


def suggest_timezones(text: str, limit: int = 3) -> list[str]:
    """Up to `limit` IANA names that look like `text`, best first, for "Unknown timezone — did you mean …?".

    Each zone is matched by its full name and by its city alone, so "europe/olso", "osloo" and "new yrok" all
    find their zone; a zone appears once however many of its strings matched. Nonsense gives an empty list.
    """
    return [name for name, _score in _zone_matches(text, limit)]


@dataclass(frozen=True, slots=True)
class TimezoneReading:
    """What a typed timezone answer came to: a zone to set, places to choose from, or neither.

    `zone` set: take it. `where` then names the place it came from for the reply ("San Francisco, United
    States", "India"; "" for a zone name, "UTC+2" or "EST"), `place` is that place, `note` what an
    abbreviation was taken as, and `elsewhere` a same-named place in another clock that was not taken
    (Paris, Texas beside Paris, France).

    `choices` set: places in different clocks, best first, to ask about: same-named cities ("Which
    Valencia?") or an area's zones (`area`: "United States"); `city` is the name asked about and `missed`
    a state or country that matched none of them ("Paris, Peru").

    Neither: nothing fits; `zones` and `places` are "did you mean" ideas, best first.
    """

    zone: str | None = None
    note: str = ""
    where: str = ""
    place: Place | None = None
    elsewhere: Place | None = None
    city: str = ""
    choices: tuple[Place, ...] = ()
    missed: str = ""
    area: bool = False
    zones: tuple[str, ...] = ()
    places: tuple[Place, ...] = ()


def _zone_name(text: str) -> str | None:
    """A zone named outright: UTC's words, an abbreviation, or a full name with its slash ("europe/oslo")."""
    key = _normalise(text)
    if key in _UTC_WORDS:
        return "UTC"
    if key in ABBREVIATIONS:
        return ABBREVIATIONS[key]
    if "/" in key:
        return _zones().by_name.get(key)
    return None


def _alias_zone(text: str) -> str | None:
    """A tz database name without a slash that is no city ("CET", "PRC", "Eire"): read after countries
    ("Japan" is Asia/Tokyo, not the old alias "Japan") and before cities, which share some of them."""
    key = _normalise(text)
    zones = _zones()
    return zones.by_name[key] if key in zones.by_name and key not in zones.by_city else None


def place_where(place: Place) -> str:
    """How a reply names the place a zone came from: "San Francisco, United States", with the state when
    its country has another place of the name ("Portland, Oregon, United States")."""
    return label(place, region=needs_region(place))


#: A town and a state (or nation) of the same name on different clocks: the one whose biggest place is this
#: many times the other's is taken ("Arizona" is the state, not a Honduran town); closer, both are asked.
DOMINANCE = 10


def city_or_area(city: CityAnswer | None, area: CityAnswer | None) -> CityAnswer | None:
    """The answer for a name that is both a city and a state ("Arizona", "Washington", "Virginia").

    Same clock: the city. Otherwise the side whose biggest place is `DOMINANCE` times the other's (a
    capital counts double, as in the gazetteer's ranking) wins; when neither does, both are offered.
    """
    if city is None or area is None or not city.places or not area.places:
        return city or area
    town, state = city.places[0], area.places[0]
    if town.zone == state.zone:
        return city
    town_size = town.population * (2 if town.capital else 1)
    if state.population >= DOMINANCE * town_size:
        return area
    if town_size >= DOMINANCE * state.population:
        return city
    return CityAnswer(city=city.city, places=(town, state))


def _from_places(found: CityAnswer) -> TimezoneReading:
    if found.sure:
        place = found.places[0]
        where = found.city if found.area else place_where(place)
        return TimezoneReading(zone=place.zone, where=where, place=place, elsewhere=found.elsewhere)
    return TimezoneReading(city=found.city, choices=found.places, missed=found.missed, area=found.area)


def read_timezone(text: str, limit: int = 3) -> TimezoneReading:
    """Everything a typed answer to "what's your timezone?" can be, tried in the order people mean it.

    A zone named outright ("Europe/Oslo", "UTC", "EST"); a country ("India", "Japan"); another tz
    database name ("CET"); a city ("San Francisco", "München", "Portland, Maine"); a US state or UK nation
    ("Texas"); a city a zone is named after that the gazetteer lacks ("Tell City"); a whole-hour offset
    ("UTC+2"). Places come from `meallog.places`, which asks when same-named ones keep different clocks.
    Else up to `limit` suggestions: places that look like it ("Mumbia" -> Mumbai, India) and zone names
    ("europe/olso" -> Europe/Oslo); a zone whose place is suggested is not listed again.
    """
    if not _normalise(text):
        return TimezoneReading()
    zone = _zone_name(text)
    if zone is not None:
        return TimezoneReading(zone=zone, note=abbreviation_note(text))
    if "/" not in text:
        country = find_area(text, countries_only=True)
        if country is not None:
            return _from_places(country)
        zone = _alias_zone(text)
        if zone is not None:
            return TimezoneReading(zone=zone)
        found = city_or_area(find_city(text), find_area(text))
        if found is not None:
            return _from_places(found)
    zone = resolve_timezone(text)
    if zone is not None:
        return TimezoneReading(zone=zone, note=abbreviation_note(text))
    places = suggest_places(text, limit) if "/" not in text else []
    taken = {place.zone for place, _ in places}
    zones = [(name, score) for name, score in _zone_matches(text, limit) if name not in taken]
    # Places keep their order (likeness, then size); a zone name more alike than all of them goes first.
    top = max((score for _, score in places), default=0.0)
    ideas: list[str | Place] = [name for name, score in zones if score > top]
    ideas += [place for place, _ in places]
    ideas += [name for name, score in zones if score <= top]
    best = ideas[:limit]
    return TimezoneReading(
        zones=tuple(idea for idea in best if isinstance(idea, str)),
        places=tuple(idea for idea in best if isinstance(idea, Place)),
    )
