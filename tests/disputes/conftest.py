"""Fixtures of the disputes tests: the matters tests' fake clock (shared with the live server) and
draining timer worker, real Yongzhou places, and a helper that sets up the mediation bodies of a
place and the people who act there."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import httpx
from sqlalchemy import Engine

from civicgrid.response.models import Incident
from tests.conftest import LiveServer, Yongzhou
from tests.factories import make_org_unit_committed
from tests.matters.conftest import Actor, Place, clock, place_in, worker  # noqa: F401  (fixtures)

VALID_ID = "11010519491231002X"  # GB 11643 sample with a correct check character
WRONG_ID = "110105194912310021"  # the same number with a wrong check character


@dataclass
class Bodies:
    """The village and township mediation committees of a place, and the people who act there."""

    server: LiveServer
    engine: Engine
    place: Place

    @cached_property
    def village_committee(self) -> str:
        return make_org_unit_committed(
            self.engine, division_code=self.place.village, type_code="village_mediation", name="村人民调解委员会"
        )

    @cached_property
    def township_committee(self) -> str:
        return make_org_unit_committed(
            self.engine, division_code=self.place.township, type_code="township_mediation", name="乡镇人民调解委员会"
        )

    @cached_property
    def county_centre(self) -> str:
        return make_org_unit_committed(
            self.engine,
            division_code=self.place.county,
            type_code="joint_mediation_centre",
            name="县矛盾纠纷多元化解中心",
        )

    @cached_property
    def village(self) -> Actor:
        return Actor(self.server, self.engine, "village_officer", self.place.village)

    @cached_property
    def township(self) -> Actor:
        return Actor(self.server, self.engine, "township_officer", self.place.township)

    @cached_property
    def county(self) -> Actor:
        return Actor(self.server, self.engine, "county_plc_staff", self.place.county)


def bodies(server: LiveServer, engine: Engine, yongzhou: Yongzhou, prefix: str, nth: int) -> Bodies:
    return Bodies(server, engine, place_in(yongzhou, prefix, nth))


def dispute_body(place: Place, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "邻里排水纠纷",
        "summary": "两户因院墙排水沟发生争执",
        "happened_on": "2026-12-06",
        "lng": place.lng,
        "lat": place.lat,
        "category": "neighbours",
        "source": "screening",
        "people_involved": 2,
        "parties": [
            {
                "kind": "person",
                "role": "applicant",
                "full_name": "张三",
                "doc_type": "resident_id",
                "id_number": VALID_ID,
                "phone": "13800138000",
                "address": "湖南省永州市零陵区某村一组",
            },
            {
                "kind": "person",
                "role": "respondent",
                "full_name": "李四",
                "doc_type": "passport",
                "id_number": "E12345678",
            },
        ],
    }
    body.update(extra)
    return body


def act(actor: Actor, dispute_id: str, action: str, note: str | None = None, **data: Any) -> httpx.Response:
    return actor.post(f"/api/v1/disputes/{dispute_id}/transitions", {"action": action, "note": note, **data})


def police_call(at: datetime, lng: float, lat: float, grid: str, hit: bool | None = None) -> Incident:
    """A closed 110 dispute call at a place (rapid response's record), for the early-warning and
    security-prevention tests; ``hit`` says whether its unit arrived within the ring (None: not yet)."""
    return Incident(
        number=f"JQ{uuid.uuid4().hex[:12]}", category="dispute", priority=3, summary="纠纷报警",
        lng=lng, lat=lat, division_code=grid, county_code=grid[:6] + "000000", urban_class="rural",
        source="110", status="closed", call_received_at=at, ring_zone="rural", ring_target_seconds=900,
        arrival_seconds=None if hit is None else (600 if hit else 1200), ring_hit=hit,
    )
