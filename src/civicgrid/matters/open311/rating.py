"""The resident's rating page behind the Open311 link (满意度 comes from the reporter, issue 11 §5).

A resident who reported through an Open311 client (a city app, a WeChat mini-program) gets, in
the answer to ``POST requests``, a ``rating_url``: ``/rate/<key>``. The key is the matter's id and
a keyed hash of it (HMAC-SHA256 under a key derived for this purpose from the secret key), so it
is stored nowhere, a retry of the same request returns the same link, and no other matter's link
can be made from it. Whoever holds the link sees the matter's public view (number, type, status,
the notes written for the reporter) and, once it is closed, rates it once — as the reporter: the
``evaluate`` transition runs for the filing client, whose guard refuses anyone else. No personal
data is shown on the page. A resident who never rates stays "not rated" (未评价): nobody else
fills it in.
"""

from __future__ import annotations

import hmac

from sqlalchemy.orm import Session

from civicgrid.apiclients import service as apiclients
from civicgrid.apiclients.models import ApiClient
from civicgrid.audit.service import Actor, set_actor
from civicgrid.kit.errors import NotFound
from civicgrid.kit.pii import derive_key, keyed_hash
from civicgrid.matters import service as matters
from civicgrid.matters.open311 import repository
from civicgrid.matters.schemas import MyReport

PURPOSE = "open311-resident-rating"
SIGNATURE_CHARS = 32  # 128 bits of the HMAC


def _signature(matter_id: str) -> str:
    return keyed_hash(f"rate:{matter_id}", derive_key(PURPOSE))[:SIGNATURE_CHARS]


def rating_key(matter_id: str) -> str:
    """The key of the resident's rating link of an Open311 request's matter."""
    return f"{matter_id}.{_signature(matter_id)}"


def rating_path(matter_id: str) -> str:
    return f"/rate/{rating_key(matter_id)}"


def _not_found() -> NotFound:
    return NotFound("评价链接", "rating link")


def _filer(session: Session, key: str) -> tuple[str, ApiClient]:
    """The matter a key stands for and the Open311 client that filed it; 404 for a key that is
    malformed, forged, or of a matter no Open311 client filed (the same answer for each)."""
    matter_id, _, signature = key.partition(".")
    if not matter_id or len(signature) != SIGNATURE_CHARS or not hmac.compare_digest(signature, _signature(matter_id)):
        raise _not_found()
    client = repository.filing_client(session, matter_id)
    if client is None:
        raise _not_found()
    return matter_id, client


def view(session: Session, key: str, lang: str | None = None) -> MyReport:
    """The matter as its reporter follows it: public view, the rating given, whether it may be rated."""
    matter_id, client = _filer(session, key)
    report = matters.my_report(session, apiclients.client_principal(client), matter_id, lang)
    return report.model_copy(update={"can_withdraw": False, "withdraw_until": None})


def rate(session: Session, key: str, satisfaction: int, note: str | None, lang: str | None = None) -> MyReport:
    """满意度 from the resident: the ``evaluate`` transition for the filing client (the reporter),
    once, on a closed matter (409 otherwise, with the reason)."""
    matter_id, client = _filer(session, key)
    principal = apiclients.client_principal(client)
    set_actor(session, Actor(f"{principal.username} · 居民评价"[:64], principal.user_id))
    matters.rate(session, principal, matter_id, satisfaction, note)
    return view(session, key, lang)
