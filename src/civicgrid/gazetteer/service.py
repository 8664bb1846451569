"""Search the gazetteer, and import named places.

Search reads words, not forms: ``朝阳街道东岳宫社区``, ``零陵 朝阳``, ``新圩镇``,
``冷水滩区梅湾小区``. It finds every division or place named anywhere in the words (by full name
or a short form, :mod:`civicgrid.gazetteer.names`), strings names into chains where each later
name lies inside the earlier one (county → township → village → place; levels may be missing),
and ranks each place by the words its best chain explains. It **selects** the first only when the
words name exactly one place: no other match explains as much, and no other place of the level
asked for shares its name inside what the earlier words narrowed to. Otherwise every match is
listed, with its full chain, and none is selected — an operator chooses (``朝阳`` is a 街道 in
零陵区 and several 村 and 社区 elsewhere; ``新圩镇`` exists in 蓝山县 and 新田县).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from civicgrid.audit.service import record
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.city import get_city
from civicgrid.gazetteer import names, repository
from civicgrid.gazetteer.importer import KINDS, parse_places_csv
from civicgrid.gazetteer.models import Place
from civicgrid.geo.models import GeoImport
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import Invalid

LEVELS = ("city", "county", "township", "village", "place")
MAX_WORDS = 60
MAX_FORM = 40


@dataclass(frozen=True)
class Entry:
    """One division or place the index knows."""

    key: str  # division code, or "place:<id>"
    kind: str  # "division" or "place"
    level: str  # county, township, village, or place
    name: str
    code: str  # the division code (a place's: the division it lies in)
    core: str
    lng: float | None
    lat: float | None
    place_kind: str | None = None

    def inside(self, outer: Entry) -> bool:
        """Whether this entry lies inside ``outer`` (a division); a place lies inside nothing."""
        if outer.kind != "division" or outer.key == self.key:
            return False
        prefix = jurisdiction_prefix(outer.code)
        return self.code.startswith(prefix) and (self.kind == "place" or self.code != outer.code)


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    entry: Entry
    words: str


@dataclass
class Match:
    entry: Entry
    segments: list[Segment]
    covered: int
    exact: bool

    @property
    def rank(self) -> tuple[int, int, int, int]:
        return (self.covered, int(self.exact), len(self.segments), -LEVELS.index(self.entry.level))


@dataclass
class SearchResult:
    query: str
    words: str
    matches: list[Match]
    selected: Match | None
    rest: str
    chains: dict[str, list[Entry]] = field(default_factory=dict)


class Index:
    """Every division and place by each of its forms; built from the database, cached per version."""

    def __init__(self, divisions: list[Any], places: list[Place]) -> None:
        self.by_form: dict[str, list[Entry]] = defaultdict(list)
        self.by_code: dict[str, Entry] = {}
        self.by_core: dict[str, list[Entry]] = defaultdict(list)
        for code, name, level, lng, lat in divisions:
            if level == "city":
                continue
            variants = names.forms(name, level)
            entry = Entry(code, "division", level, name, code, variants[-1], lng, lat)
            self.by_code[code] = entry
            self.by_core[entry.core].append(entry)
            for form in variants:
                self.by_form[form].append(entry)
        for place in places:
            entry = Entry(f"place:{place.id}", "place", "place", place.name, place.division_code, place.name,
                          place.lng, place.lat, place.kind)
            self.by_core[entry.core].append(entry)
            for form in {place.name, *place.alias_list}:
                self.by_form[form].append(entry)
                if form != place.name:
                    self.by_core[form].append(entry)

    def chain(self, entry: Entry) -> list[Entry]:
        """County → … → the entry itself (a place: its division's chain, then the place)."""
        out: list[Entry] = []
        code = entry.code
        for length in (6, 9, 12):
            prefix_code = code[:length].ljust(12, "0")
            parent = self.by_code.get(prefix_code)
            if parent is not None and (not out or out[-1].key != parent.key):
                out.append(parent)
        if not out or out[-1].key != entry.key:
            out.append(entry)
        return out

    def segments(self, words: str) -> list[Segment]:
        found = []
        for start in range(len(words)):
            for end in range(start + 2, min(len(words), start + MAX_FORM) + 1):
                for entry in self.by_form.get(words[start:end], ()):
                    found.append(Segment(start, end, entry, words[start:end]))
        return found


def _best_chains(segments: list[Segment]) -> dict[str, tuple[int, list[Segment]]]:
    """For every entry, the chain of segments ending in it that explains the most words."""
    ordered = sorted(segments, key=lambda s: (s.end, s.start))
    best: list[tuple[int, list[Segment]]] = []
    for i, seg in enumerate(ordered):
        covered, chain = seg.end - seg.start, [seg]
        for j in range(i):
            prev = ordered[j]
            if prev.end <= seg.start and seg.entry.inside(prev.entry):
                prev_covered, prev_chain = best[j]
                if prev_covered + seg.end - seg.start > covered or (
                        prev_covered + seg.end - seg.start == covered and len(prev_chain) + 1 > len(chain)):
                    covered, chain = prev_covered + seg.end - seg.start, [*prev_chain, seg]
        best.append((covered, chain))
    by_entry: dict[str, tuple[int, list[Segment]]] = {}
    for covered, chain in best:
        key = chain[-1].entry.key
        if key not in by_entry or (covered, len(chain)) > (by_entry[key][0], len(by_entry[key][1])):
            by_entry[key] = (covered, chain)
    return by_entry


def _exact(segment: Segment) -> bool:
    """The words said the name in full, or with the ending of the entry's own level."""
    if segment.words == segment.entry.name:
        return True
    return segment.entry.kind == "division" and names.level_hint(segment.words) == segment.entry.level


def _rivals(index: Index, top: Match) -> list[Entry]:
    """Other places the top match's last words could mean, of the level they asked for, inside
    the entry before it in the chain."""
    last = top.segments[-1]
    context = top.segments[-2].entry if len(top.segments) > 1 else None
    hint = names.level_hint(last.words) if top.entry.kind == "division" else None
    out = []
    for other in index.by_core.get(top.entry.core, ()):
        if other.key == top.entry.key or (hint is not None and other.level != hint):
            continue
        if context is not None and not other.inside(context):
            continue
        out.append(other)
    return out


def search_index(index: Index, query: str, limit: int = 20) -> SearchResult:
    words = names.normalise(query)
    if not words:
        raise Invalid("请输入地名或地址", "Enter a place name or an address")
    if len(words) > MAX_WORDS:
        raise Invalid(f"地址过长（最多 {MAX_WORDS} 字）", f"Address too long (at most {MAX_WORDS} characters)")
    chains = _best_chains(index.segments(words))
    matches = [Match(index.by_code.get(key) or chain[-1].entry, chain, covered, _exact(chain[-1]))
               for key, (covered, chain) in chains.items()]
    matches.sort(key=lambda m: (tuple(-x for x in m.rank), m.entry.code, m.entry.name))
    selected = None
    rest = words
    if matches:
        top = matches[0]
        tied = len(matches) > 1 and matches[1].rank == top.rank
        if not tied and not _rivals(index, top):
            selected = top
        spans = sorted((s.start, s.end) for s in top.segments)
        rest = "".join(ch for i, ch in enumerate(words) if not any(a <= i < b for a, b in spans))
    matches = matches[:limit]
    return SearchResult(query, words, matches, selected, rest,
                        {m.entry.key: index.chain(m.entry) for m in matches})


_cache: dict[str, tuple[str, Index]] = {}
_lock = threading.Lock()


def index_for(session: Session) -> Index:
    """The index for this database, rebuilt when a geo or places import moved the version."""
    key = str(session.get_bind().engine.url)
    current = repository.version(session)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == current:
            return cached[1]
    built = Index(repository.division_rows(session), repository.all_places(session))
    with _lock:
        _cache[key] = (current, built)
    return built


def search(session: Session, query: str, limit: int = 20) -> SearchResult:
    return search_index(index_for(session), query, limit)


# ---------------------------------------------------------------- import


@dataclass(frozen=True)
class PlacesReport:
    source: str
    digest: str
    created: int
    updated: int
    unchanged: int


def import_places(session: Session, data: bytes, *, source: str) -> PlacesReport:
    """Add or update the named places of a CSV file (by division and name), in the caller's
    transaction; one audit event for the whole file."""
    rows = parse_places_csv(data, repository.division_codes(session))
    existing = repository.places_by_key(session)
    now = utcnow()
    created: list[Place] = []
    updated = unchanged = 0
    for row in rows:
        values = {"aliases": "|".join(row.aliases), "kind": row.kind, "lng": row.lng, "lat": row.lat,
                  "generated": row.generated}
        place = existing.get((row.division_code, row.name))
        if place is None:
            created.append(Place(name=row.name, division_code=row.division_code, source=source, updated_at=now,
                                 **values))
        elif any(getattr(place, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(place, k, v)
            place.source, place.updated_at = source, now
            updated += 1
        else:
            unchanged += 1
    repository.add_places(session, created)
    digest = hashlib.sha256(data).hexdigest()
    report = PlacesReport(source, digest, len(created), updated, unchanged)
    summary = {"created": report.created, "updated": updated, "unchanged": unchanged}
    entry = GeoImport(at=now, kind="places", source=source[:200], digest=digest,
                      summary=json.dumps(summary, ensure_ascii=False, sort_keys=True))
    session.add(entry)
    session.flush()
    record(session, "geo.import.places", "geo_imports", str(entry.seq),
           after={"source": source, "digest": digest, **summary})
    return report


def kinds() -> dict[str, tuple[str, str]]:
    return dict(KINDS)


def load_demo_places(session: Session) -> PlacesReport | None:
    """Import the city's places file (``files.places`` of its city.json; Yongzhou ships generated
    demo places, marked so) when the table is empty."""
    places = get_city().places_file
    if places is None or repository.any_place(session):
        return None
    return import_places(session, places.read_bytes(), source=f"{places.parent.name}/{places.name}")
