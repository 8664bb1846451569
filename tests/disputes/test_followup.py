"""After and around mediation: extending a court referral's limit with both parties' consent
(最高人民法院关于人民法院特邀调解的规定 2016 Art. 27 — the length is what the parties agreed, no
cap verified) and the return visit that confirms an agreement's performance (人民调解法 2010
Art. 31: the committee supervises performance), counted in the figures (service management)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from civicgrid.kit.clock import CHINA_TZ, FakeClock
from tests.conftest import LiveServer, Yongzhou
from tests.disputes.conftest import act, bodies, dispute_body
from tests.disputes.test_disputes import _alerts
from tests.matters.conftest import DrainingWorker, china


def test_a_court_referral_is_extended_with_both_parties_consent_before_expiry(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock, worker: DrainingWorker
) -> None:
    b = bodies(live_server, engine, yongzhou, "431128", 13)
    receipt = china(2026, 12, 7, 9, 0)
    dispute = b.county.post(
        "/api/v1/disputes",
        dispute_body(
            b.place,
            source="court",
            court_mode="entrusted_summary",
            court_receipt_at=receipt.isoformat(),
            category="contract",
            unit_id=b.county_centre,
        ),
    ).json()
    due = datetime.fromisoformat(dispute["due_at"]).astimezone(CHINA_TZ)
    assert act(b.county, dispute["id"], "accept").status_code == 200
    no_consent = act(b.county, dispute["id"], "extend_limit", "双方同意延长", days=7)
    assert no_consent.status_code == 422 and no_consent.json()["error"]["field"] == "consent"
    no_note = act(b.county, dispute["id"], "extend_limit", days=7, consent=True)
    assert no_note.status_code == 422
    extended = act(b.county, dispute["id"], "extend_limit", "双方当事人书面同意延长7日", days=7, consent=True)
    assert extended.status_code == 200, extended.text
    new_due = datetime.fromisoformat(extended.json()["due_at"]).astimezone(CHINA_TZ)
    assert (new_due - due).days == 7
    # The old limit passes without a breach; the new one breaches.
    clock.set(due.replace(hour=0, minute=1))
    worker.run_due()
    assert _alerts(engine, "disputes.limit_court", dispute["id"]) == []
    clock.set(new_due.replace(minute=1))
    worker.run_due()
    assert len(_alerts(engine, "disputes.limit_court", dispute["id"])) == 1
    b.county.relogin()
    late = act(b.county, dispute["id"], "extend_limit", "双方同意", days=3, consent=True)
    assert late.status_code == 409  # once it has passed, it cannot be extended

    plain = b.village.post("/api/v1/disputes", dispute_body(b.place, unit_id=b.village_committee)).json()
    b.village.relogin()
    assert act(b.village, plain["id"], "accept").status_code == 200
    assert act(b.village, plain["id"], "extend_limit", "双方同意", days=3, consent=True).status_code == 409


def test_a_return_visit_confirms_performance_and_counts(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    b = bodies(live_server, engine, yongzhou, "431128", 14)
    dispute = b.village.post("/api/v1/disputes", dispute_body(b.place, unit_id=b.village_committee)).json()
    visit = {"performed": "performed", "note": "回访：排水沟已疏通，双方无异议"}
    assert b.village.post(f"/api/v1/disputes/{dispute['id']}/agreement/return-visits", visit).status_code == 409
    assert act(b.village, dispute["id"], "accept").status_code == 200
    assert act(b.village, dispute["id"], "settle_oral", terms="李四疏通排水沟").status_code == 200
    bad = b.village.post(f"/api/v1/disputes/{dispute['id']}/agreement/return-visits", {"performed": "yes", "note": "x"})
    assert bad.status_code == 422
    visited = b.village.post(f"/api/v1/disputes/{dispute['id']}/agreement/return-visits", visit)
    assert visited.status_code == 200, visited.text
    assert visited.json()["performance_status"] == "performed" and visited.json()["visited_at"]
    timeline = b.village.get(f"/api/v1/disputes/{dispute['id']}").json()["timeline"]
    assert timeline[-1]["action"] == "return_visit" and "已疏通" in timeline[-1]["note"]
    figures = b.village.get(
        "/api/v1/dispute-figures", division_code=b.place.village, start="2026-12-01", end="2026-12-31"
    ).json()
    assert figures["return_visited"] == 1 and figures["agreements_performed"] == 1


def test_session_attachments_go_through_the_file_store_scoped_by_the_dispute(
    live_server: LiveServer, engine: Engine, yongzhou: Yongzhou, clock: FakeClock
) -> None:
    from tests.matters.conftest import Actor
    from tests.matters.test_intake import png

    b = bodies(live_server, engine, yongzhou, "431128", 15)
    dispute = b.village.post("/api/v1/disputes", dispute_body(b.place, unit_id=b.village_committee)).json()
    assert act(b.village, dispute["id"], "accept").status_code == 200
    held = b.village.post(
        f"/api/v1/disputes/{dispute['id']}/sessions",
        {"participants": "双方", "notes": "现场查看", "result": "progress"},
    ).json()

    def upload(actor: Actor, content: bytes, kind: str = "photo", session_id: str | None = None) -> Any:
        return httpx.post(
            f"{live_server.url}/api/v1/disputes/{dispute['id']}/attachments",
            headers=actor.headers(),
            files={"file": ("scene.png", content, "image/png")},
            data={"session_id": session_id or held["id"], "kind": kind},
            timeout=30,
        )

    assert upload(b.village, b"not an image at all").status_code == 415  # the type is read from the bytes
    assert upload(b.village, png(), session_id="0" * 32).status_code == 422
    stored = upload(b.village, png())
    assert stored.status_code == 201, stored.text
    file_id = stored.json()["file_id"]
    sessions = b.village.get(f"/api/v1/disputes/{dispute['id']}").json()["sessions"]
    assert [a["file_id"] for a in sessions[0]["attachments"]] == [file_id]
    assert b.village.get(f"/api/v1/files/{file_id}").content == png()
    elsewhere = Actor(live_server, engine, "county_plc_staff", "431102000000")
    assert elsewhere.get(f"/api/v1/files/{file_id}").status_code == 404
