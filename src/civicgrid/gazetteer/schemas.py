"""Gazetteer payloads."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ChainLink(BaseModel):
    code: str = Field(description="12-digit division code")
    name: str
    level: str = Field(description="county, township, village or place")


class PlaceMatch(BaseModel):
    kind: str = Field(description="division or place")
    id: str = Field(description="The division code, or the place's id")
    name: str
    level: str
    place_kind: str | None = Field(None, description="For a place: compound, school, market …")
    division_code: str = Field(description="The division it is (or lies in)")
    chain: list[ChainLink] = Field(description="County → township → village (→ place), as far as known")
    matched: list[str] = Field(description="The words of the query each name in the chain matched")
    lng: float | None = Field(None, description="WGS-84 longitude")
    lat: float | None = Field(None, description="WGS-84 latitude")
    covered: int = Field(description="How many characters of the query the match explains")


class SearchRead(BaseModel):
    query: str
    words: str = Field(description="The query as searched (spaces, punctuation and the city's name removed)")
    matches: list[PlaceMatch]
    selected: PlaceMatch | None = Field(None, description="Set only when the words name exactly one place")
    ambiguous: bool = Field(description="True when there are matches but none is selected")
    rest: str = Field(description="Words the best match did not explain (house numbers …)")


class PlacesImportRead(BaseModel):
    source: str
    digest: str
    created: int
    updated: int
    unchanged: int


class PlaceKindRead(BaseModel):
    code: str
    name: str
