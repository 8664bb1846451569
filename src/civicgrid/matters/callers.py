"""A caller's history at the 12345 desk (issue 11 §2): the operator types the phone number of the
call, and sees the caller's earlier matters — found by the keyed hash of the number (never the
number in clear), shown masked. A look-up of personal data: it needs ``matters.caller_history``
and lands in the audit chain with the count found, not the number."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from civicgrid.audit.service import record
from civicgrid.authz.principal import Principal
from civicgrid.kit import pii
from civicgrid.kit.errors import Invalid
from civicgrid.kit.personal import lookup_hashes
from civicgrid.matters import repository
from civicgrid.matters.models import REPORTER_PHONE_CONTEXT, Matter

HISTORY_LIMIT = 20


def history(session: Session, principal: Principal, phone: str, purpose: str) -> Sequence[Matter]:
    """The matters reported from ``phone`` that the caller may see, newest first (at most 20)."""
    try:
        normalized = pii.normalize_phone(phone)
    except Invalid as exc:
        raise Invalid(exc.zh, exc.en, details={"field": "phone"}) from None
    found = repository.by_reporter_phone(session, lookup_hashes(normalized, REPORTER_PHONE_CONTEXT), principal,
                                         HISTORY_LIMIT)
    record(session, "pii.lookup", "matter", None, division_code=principal.division_code or None,
           after={"field": "reporter_phone", "purpose": purpose, "found": len(found),
                  "phone": pii.mask_phone(normalized)})
    return found
