"""Positions are telemetry (DESIGN.md "Live data"): 1,000 reports add zero audit entries and one
track batch, the index answers with them at once, a restart rebuilds the index from the track,
and a unit's WebSocket takes position frames; a stranger's report is 404."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from websockets.sync.client import connect

from civicgrid.audit.service import audited
from civicgrid.db import transaction
from civicgrid.response import index as unit_index
from civicgrid.response import telemetry
from civicgrid.response.models import UnitTrackPoint
from civicgrid.response.params import get_params
from tests.conftest import LiveServer, Yongzhou
from tests.factories import audit_mark, audit_since, make_org_unit_committed
from tests.response.conftest import caller, make_unit, ok, places_in

COUNTY = "431102000000"


def _audit_head(engine: Engine) -> dict[str, int]:
    with transaction(engine, write=False) as session:
        return audit_mark(session)


def test_a_thousand_positions_add_no_audit_entry_and_one_track_batch_and_the_index_answers(
        live_server: LiveServer, engine: Engine, yongzhou: Yongzhou) -> None:
    assert not audited(UnitTrackPoint)  # the documented opt-out: __telemetry__
    (place,) = places_in(yongzhou, "431102", None, 1, skip=24)
    station = make_org_unit_committed(engine, division_code=COUNTY)
    officer = caller(live_server, engine, "patrol_officer", COUNTY)
    stranger = caller(live_server, engine, "patrol_officer", "431103000000")
    unit = make_unit(engine, org_unit_id=station, unit_type="patrol_car", members=[officer.user_id],
                     call_sign="零陵快警-遥测")
    telemetry.flush(engine)  # nothing of earlier tests is pending
    start = datetime.now(UTC).replace(microsecond=0)
    # A vehicle terminal catching up after a tunnel: 1,000 fixes, one a second, drifting north.
    points = [{"lng": place.lng, "lat": place.lat + i * 1e-5, "at": (start + timedelta(seconds=i)).isoformat(),
               "speed_kmh": 36.0} for i in range(1000)]
    before = _audit_head(engine)
    assert ok(officer.post(f"/api/v1/response/units/{unit}/positions", {"points": points}), 202) == {"accepted": 1000}
    last = points[-1]
    found = unit_index.cached(str(engine.url))
    assert found is not None
    entry = found.get(unit)
    assert entry is not None and (entry.lng, entry.lat) == (last["lng"], last["lat"])
    nearest = found.nearest(place.lng, float(last["lat"]), county="431102", urban_class="town",
                            params=get_params(), k=1)
    assert [c.unit_id for c in nearest] == [unit] and nearest[0].distance_m < 1
    telemetry.flush(engine)  # (or the server's own flush got there first: then this writes nothing)
    with transaction(engine, write=False) as session:
        rows = session.execute(select(func.count(), func.count(func.distinct(UnitTrackPoint.batch)))
                               .where(UnitTrackPoint.unit_id == unit)).one()
        assert tuple(rows) == (1000, 1)
        since = [e.entity_type for e in audit_since(session, before)]
    assert since == []  # zero entries for 1,000 positions (and for their batch)

    # Someone who is neither a member nor in the unit's jurisdiction: 404, nothing accepted.
    refused = stranger.post(f"/api/v1/response/units/{unit}/positions", {"points": points[:1]})
    assert refused.status_code == 404

    # A restart: the index is rebuilt from the latest written position.
    unit_index.forget()
    with transaction(engine, write=False) as session:
        rebuilt = unit_index.index_for(session).get(unit)
    assert rebuilt is not None and (rebuilt.lng, rebuilt.lat) == (last["lng"], last["lat"])
    assert rebuilt.availability == "available"


def test_a_unit_reports_positions_over_its_websocket(live_server: LiveServer, engine: Engine,
                                                      yongzhou: Yongzhou) -> None:
    (place,) = places_in(yongzhou, "431102", None, 1, skip=26)
    station = make_org_unit_committed(engine, division_code=COUNTY)
    officer = caller(live_server, engine, "patrol_officer", COUNTY)
    unit = make_unit(engine, org_unit_id=station, unit_type="motorcycle", members=[officer.user_id],
                     call_sign="零陵摩托-WS")
    with connect(f"{live_server.ws_url}/api/v1/ws", open_timeout=10) as ws:
        ws.send(json.dumps({"action": "auth", "token": officer.token}))
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        for i in range(3):
            ws.send(json.dumps({"action": "position", "unit_id": unit, "lng": place.lng,
                                "lat": place.lat + i * 1e-4, "ack": i == 2}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "position.accepted", "unit_id": unit, "accepted": 1}
        ws.send(json.dumps({"action": "position", "unit_id": "0" * 32, "lng": place.lng, "lat": place.lat}))
        error = json.loads(ws.recv(timeout=10))
        assert (error["type"], error["code"], error["action"]) == ("error", "not_found", "position")
    found = unit_index.cached(str(engine.url))
    assert found is not None
    entry = found.get(unit)
    assert entry is not None and entry.lat == place.lat + 2e-4
