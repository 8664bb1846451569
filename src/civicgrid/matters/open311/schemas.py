"""Bodies of the Open311 GeoReport v2 resources and of the client administration API.

The GeoReport models list their fields in the order the specification gives them: the XML
rendering writes elements in field order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

# ---------------------------------------------------------------- client administration (/api/v1)


class Open311ClientCreate(BaseModel):
    """A client to register: its name, a contact, and the division whose places it may report."""

    name: str = Field(min_length=1, max_length=100)
    division_code: str = Field(min_length=12, max_length=12, pattern=r"^\d{12}$")
    contact: str = Field(default="", max_length=200)


class Open311ClientRead(BaseModel):
    """A registered client; the key itself is never shown again, only its first characters."""

    id: str
    name: str
    contact: str
    division_code: str
    division_name: str | None
    key_prefix: str
    active: bool
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class Open311ClientCreated(Open311ClientRead):
    """The answer to a registration: the API key, shown this once."""

    api_key: str


# ---------------------------------------------------------------- GeoReport v2 resources


class DiscoveryEndpoint(BaseModel):
    """One API of the discovery document."""

    specification: str
    url: str
    changeset: str | None
    type: str
    formats: list[str]


class Discovery(BaseModel):
    """The Open311 service-discovery document."""

    changeset: str | None
    contact: str
    key_service: str
    endpoints: list[DiscoveryEndpoint]


class Service(BaseModel):
    """One entry of ``GET services``: a matter type of the current catalogue."""

    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: str = "realtime"
    keywords: str
    group: str


class ServiceDefinition(BaseModel):
    """``GET services/{service_code}``: no extra attributes (``metadata`` is false everywhere)."""

    service_code: str
    attributes: list[dict[str, Any]] = Field(default_factory=list)


class ServiceRequest(BaseModel):
    """One entry of ``GET requests``: a matter as GeoReport sees it — never the reporter's name,
    phone or e-mail."""

    service_request_id: str
    status: str  # open | closed
    status_notes: str | None
    service_name: str | None
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None  # None in the public view of a request filed outside the client's division
    long: float | None
    media_url: str | None


class RequestCreated(BaseModel):
    """The answer to ``POST requests``: the matter was created at once, so the id is final; the
    token is returned too (``tokens/{token}`` answers with the same id)."""

    service_request_id: str
    token: str
    service_notice: str
    account_id: str | None = None
    rating_url: str | None = Field(None, description="The resident's link (a path on this server, /rate/<key>) to "
                                   "follow the request and rate it once closed: give it to the resident only")


class TokenAnswer(BaseModel):
    """``GET tokens/{token}``."""

    service_request_id: str
    token: str


class Open311Error(BaseModel):
    """One entry of an error answer: the HTTP status and a sentence in the caller's language."""

    code: int
    description: str
