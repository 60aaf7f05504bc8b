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
        city = name.rsplit("/", 1)[-1].lower().replace("_", " ")
        choices.append(full)
        owners.append(name)
        if city != full:
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


def suggest_timezones(text: str, limit: int = 3) -> list[str]:
    """Up to `limit` IANA names that look like `text`, best first, for "Unknown timezone — did you mean …?".

    Each zone is matched by its full name and by its city alone, so "europe/olso", "osloo" and "new yrok" all
    find their zone; a zone appears once however many of its strings matched. Nonsense gives an empty list.
    """
    query = _normalise(text).replace("_", " ")
    if not query or limit <= 0:
        return []
    zones = _zones()
    matches = process.extract(
        query, zones.choices, scorer=fuzz.ratio, score_cutoff=_SUGGEST_CUTOFF, limit=limit * 4
    )
    # Best score first; among equal scores, prefer the clearer regional name.
    ranked = sorted(matches, key=lambda m: (-m[1], _preference(zones.owners[m[2]])))
    found: list[str] = []
    for _choice, _score, index in ranked:
        name = zones.owners[index]
        if name not in found:
            found.append(name)
        if len(found) == limit:
            break
    return found
