"""Routes of the gazetteer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, UploadFile

from civicgrid.authz.dependencies import require
from civicgrid.authz.principal import Principal
from civicgrid.db import DbSession
from civicgrid.gazetteer import service
from civicgrid.gazetteer.schemas import ChainLink, PlaceKindRead, PlaceMatch, PlacesImportRead, SearchRead
from civicgrid.kit.errors import AppError
from civicgrid.kit.i18n import pick

router = APIRouter(prefix="/api/v1/gazetteer", tags=["gazetteer"])
ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Not logged in"},
                                           403: {"description": "Missing the permission"}}
MAX_FILE_BYTES = 8 * 1024 * 1024


def _match(result: service.SearchResult, match: service.Match) -> PlaceMatch:
    entry = match.entry
    return PlaceMatch(
        kind=entry.kind, id=entry.key.removeprefix("place:"), name=entry.name, level=entry.level,
        place_kind=entry.place_kind, division_code=entry.code,
        chain=[ChainLink(code=link.code, name=link.name, level=link.level) for link in result.chains[entry.key]],
        matched=[s.words for s in match.segments], lng=entry.lng, lat=entry.lat, covered=match.covered)


@router.get("/search", response_model=SearchRead, responses=ERRORS)
def search(session: DbSession, q: Annotated[str, Query(min_length=1, max_length=200,
                                                      description="A place name or address in words")],
           limit: Annotated[int, Query(ge=1, le=50)] = 20,
           principal: Principal = Depends(require("geo.read"))) -> SearchRead:
    """Places a name or address may mean, ranked, each with its full chain; ``selected`` only
    when the words name exactly one. Reference geography: city-wide for every caller."""
    result = service.search(session, q, limit)
    matches = [_match(result, m) for m in result.matches]
    selected = _match(result, result.selected) if result.selected is not None else None
    return SearchRead(query=q, words=result.words, matches=matches, selected=selected,
                      ambiguous=bool(matches) and selected is None, rest=result.rest)


@router.get("/place-kinds", response_model=list[PlaceKindRead], responses=ERRORS)
def place_kinds(principal: Principal = Depends(require("geo.read"))) -> list[PlaceKindRead]:
    """The kinds a named place may have."""
    return [PlaceKindRead(code=code, name=pick(zh, en)) for code, (zh, en) in service.kinds().items()]


@router.post("/places/import", response_model=PlacesImportRead, responses=ERRORS)
def import_places(session: DbSession, file: UploadFile,
                        principal: Principal = Depends(require("geo.import"))) -> PlacesImportRead:
    """Add or update named places from a CSV file (docs/data-format.md); refused whole, with the
    line number, when any row is malformed."""
    data = file.file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise AppError("文件过大（最大 8 MB）", "File too large (at most 8 MB)", status=413, code="too_large")
    report = service.import_places(session, data, source=file.filename or "places.csv")
    return PlacesImportRead(source=report.source, digest=report.digest, created=report.created,
                            updated=report.updated, unchanged=report.unchanged)
