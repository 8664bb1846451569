"""Rules of the platform's API clients: registration and keys, authentication, what a client
may send, and idempotent batches (docs/api/clients.md).

* **Keys.** A key is shown once, when its client is registered or its key rotated; only its
  keyed hash (HMAC-SHA256 under a key derived from the secret key) is stored, so a copy of the
  table opens nothing. Open311 keys (``o311_``) keep the derivation they were issued under, so
  the clients moved from the Open311 registry keep working; other keys start ``cgk_``.
* **Kinds.** A client belongs to a kind of external system (``data/system_kinds.json``) and may
  send only the record kinds it was registered for; record kinds are registered by the modules
  that receive them (:func:`register_record_kind`), each with the permissions its records need.
* **Acting as a unit.** A client acts as its owning org unit: its :func:`client_principal`
  carries the unit's division and jurisdiction and only the permissions of its record kinds, so
  services scope its work with the same helper as a user's.
* **Idempotency.** Every record a client sends carries the sender's own id; :func:`receive`
  records (client, kind, sender id) once. The same id again answers the first result; the same id
  with a different payload is a 409. :func:`run_batch` applies a batch item by item, each in a
  savepoint, and answers one result per item.

Every function flushes, never commits.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from civicgrid.apiclients import repository
from civicgrid.apiclients.models import ApiClient, ApiReceipt
from civicgrid.audit.service import Actor, set_actor
from civicgrid.authz.principal import Principal
from civicgrid.authz.scoping import jurisdiction_prefix
from civicgrid.config import get_settings
from civicgrid.geo import service as geo
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Conflict, Invalid, NotFound
from civicgrid.kit.i18n import pick
from civicgrid.kit.ids import new_id
from civicgrid.kit.pii import derive_key, keyed_hash
from civicgrid.people.orgs import repository as orgs_repository
from civicgrid.people.orgs import service as orgs

OPEN311_PREFIX = "o311_"
KEY_PREFIX = "cgk_"
CLIENT_ROLE = "api_client"
MAX_BATCH = 200


# ---------------------------------------------------------------- kinds (data)


@dataclass(frozen=True)
class SystemKind:
    """A kind of external system (12345 hotline, 110, a court's case system …)."""

    code: str
    name_zh: str
    name_en: str


@lru_cache(maxsize=1)
def system_kinds() -> dict[str, SystemKind]:
    """The kinds of ``data/system_kinds.json``, by code."""
    text = resources.files("civicgrid.apiclients").joinpath("data/system_kinds.json").read_text(encoding="utf-8")
    return {k["code"]: SystemKind(k["code"], k["name_zh"], k["name_en"]) for k in json.loads(text)["system_kinds"]}


@dataclass(frozen=True)
class RecordKind:
    """A kind of record a client may send, with the permissions a client sending it acts with."""

    code: str
    name_zh: str
    name_en: str
    permissions: frozenset[str]


_record_kinds: dict[str, RecordKind] = {}


def register_record_kind(code: str, name_zh: str, name_en: str, permissions: Sequence[str] = ()) -> RecordKind:
    """Declare a record kind (called by the module that receives it, at import)."""
    kind = RecordKind(code, name_zh, name_en, frozenset(permissions))
    _record_kinds[code] = kind
    return kind


def record_kinds() -> dict[str, RecordKind]:
    return dict(_record_kinds)


OPEN311_REQUEST = register_record_kind(
    "open311_request", "Open311 服务请求", "Open311 service request", ["matters.report"]
)


# ---------------------------------------------------------------- keys


@lru_cache(maxsize=8)
def _derived(purpose: str, secret: str) -> bytes:
    return derive_key(purpose, secret)


def key_hash(raw_key: str) -> str:
    """The keyed hash a key is stored and looked up by (Open311 keys under their own purpose)."""
    purpose = "open311-api-key" if raw_key.startswith(OPEN311_PREFIX) else "api-client-key"
    return keyed_hash(raw_key, _derived(purpose, get_settings().secret_key))


def new_api_key(system_kind: str) -> str:
    """A fresh key: a prefix and 43 URL-safe characters (256 random bits)."""
    return (OPEN311_PREFIX if system_kind == "open311" else KEY_PREFIX) + secrets.token_urlsafe(32)


def _prefix_of(raw: str) -> str:
    return raw[: (len(OPEN311_PREFIX) if raw.startswith(OPEN311_PREFIX) else len(KEY_PREFIX)) + 4]


# ---------------------------------------------------------------- registry


def kinds_of(client: ApiClient) -> list[str]:
    return [str(k) for k in json.loads(client.record_kinds or "[]")]


def _checked_kinds(system_kind: str, kinds: Sequence[str]) -> list[str]:
    if system_kind not in system_kinds():
        raise Invalid(
            f"未知的外部系统类型：{system_kind}",
            f"Unknown system kind: {system_kind}",
            details={"field": "system_kind"},
        )
    known = record_kinds()
    clean = list(dict.fromkeys(k.strip() for k in kinds))
    unknown = [k for k in clean if k not in known]
    if unknown or not clean:
        raise Invalid(
            f"未知的记录类型：{', '.join(unknown) or '（空）'}",
            f"Unknown record kinds: {', '.join(unknown) or '(none)'}",
            details={"field": "record_kinds"},
        )
    return clean


def create_client(
    session: Session,
    *,
    name: str,
    system_kind: str,
    record_kinds: Sequence[str],
    created_by: str,
    org_unit_id: str | None = None,
    division_code: str | None = None,
    contact: str = "",
    principal: Principal | None = None,
) -> tuple[ApiClient, str]:
    """Register a client; returns it and its key (shown this once).

    The client acts as ``org_unit_id`` (its division is the unit's); without a unit (Open311
    applications) it is registered for ``division_code``. ``principal`` (the administrator, through
    the API) must see the unit or govern the division: outside answers 404 like an unknown one.
    """
    kinds = _checked_kinds(system_kind, record_kinds)
    clean_name = name.strip()
    if not clean_name or len(clean_name) > 100:
        raise Invalid("name 应为 1–100 个字符", "name must be 1 to 100 characters", details={"field": "name"})
    if org_unit_id:
        unit = (
            orgs.get_unit(session, principal, org_unit_id)
            if principal is not None
            else orgs_repository.unit_by_id(session, org_unit_id, "the operator's command line")
        )
        if unit is None:
            raise NotFound("机构", "org unit")
        code = unit.division_code
    else:
        code = (division_code or "").strip()
        if not (code.isdigit() and len(code) == 12):
            raise Invalid(
                "division_code 应为 12 位区划代码",
                "division_code must be a 12-digit division code",
                details={"field": "division_code"},
            )
        if geo.name_of(session, code) is None or (principal is not None and not principal.governs(code)):
            raise NotFound("区划", "division")
    raw = new_api_key(system_kind)
    client = ApiClient(
        id=new_id(),
        name=clean_name,
        contact=contact.strip()[:200],
        system_kind=system_kind,
        org_unit_id=org_unit_id or None,
        division_code=code,
        record_kinds=json.dumps(kinds),
        key_hash=key_hash(raw),
        key_prefix=_prefix_of(raw),
        active=True,
        created_at=utcnow(),
        created_by=created_by[:64],
    )
    repository.add(session, client)
    return client, raw


def list_clients(session: Session, principal: Principal, *, system_kind: str | None = None) -> list[ApiClient]:
    """The clients registered inside the caller's jurisdiction."""
    return list(repository.list_clients(session, principal, system_kind=system_kind))


def all_clients(session: Session, *, system_kind: str | None = None) -> list[ApiClient]:
    """Every client (the command line, run by the operator)."""
    return list(repository.all_clients(session, system_kind=system_kind))


def get_client(
    session: Session, client_id: str, *, principal: Principal | None, system_kind: str | None = None
) -> ApiClient:
    """A client inside ``principal``'s jurisdiction (``None``: the operator, anywhere); 404 otherwise."""
    client = (
        repository.client_for_operator(session, client_id, system_kind=system_kind)
        if principal is None
        else repository.get_client(session, client_id, principal, system_kind=system_kind)
    )
    if client is None:
        raise NotFound("接入方", "API client")
    return client


def revoke_client(
    session: Session, client_id: str, *, principal: Principal | None, system_kind: str | None = None
) -> ApiClient:
    """Revoke a client's key at once (a revoked client stays revoked)."""
    client = get_client(session, client_id, principal=principal, system_kind=system_kind)
    if client.active:
        client.active = False
        client.revoked_at = utcnow()
        session.flush()
    return client


def rotate_key(session: Session, client_id: str, *, principal: Principal | None) -> tuple[ApiClient, str]:
    """Issue a new key (shown this once); the old one stops working at once. A revoked client
    stays revoked (409): register a new one."""
    client = get_client(session, client_id, principal=principal)
    if not client.active:
        raise Conflict("接入方已被吊销，不能更换密钥", "The client is revoked: its key cannot be rotated")
    raw = new_api_key(client.system_kind)
    client.key_hash = key_hash(raw)
    client.key_prefix = _prefix_of(raw)
    client.rotated_at = utcnow()
    session.flush()
    return client, raw


# ---------------------------------------------------------------- authentication


def missing_key() -> AppError:
    return AppError(
        "缺少 API 密钥：请在 X-API-Key 请求头（或 Authorization: ApiKey …）中发送登记时发放的密钥",
        "API key required: send the key issued at registration in the X-API-Key header (or Authorization: ApiKey …)",
        status=401,
        code="api_key_required",
    )


def authenticate(
    session: Session, raw_key: str | None, record_kind: str | None = None, *, touch: bool = False
) -> ApiClient:
    """The active client holding ``raw_key``: no key → 401; an unknown or revoked key, or one whose
    client may not send ``record_kind`` → 403. Attributes the session's writes to the client;
    ``touch`` stamps ``last_used_at`` (writing requests only)."""
    if not raw_key:
        raise missing_key()
    client = repository.client_by_key_hash(session, key_hash(raw_key.strip()))
    if client is None or not client.active:
        raise AppError("API 密钥无效或已被吊销", "Invalid or revoked API key", status=403, code="invalid_api_key")
    if record_kind is not None and record_kind not in kinds_of(client):
        raise AppError(
            f"该接入方无权发送“{record_kind}”类记录",
            f"This client may not send records of kind '{record_kind}'",
            status=403,
            code="record_kind_not_allowed",
        )
    set_actor(session, Actor(f"apiclient:{client.id}"))
    if touch:
        client.last_used_at = utcnow()
    return client


def client_principal(client: ApiClient) -> Principal:
    """The client as services see a caller: it acts as its owning unit (the unit's division and
    jurisdiction) with only the permissions of the record kinds it may send."""
    known = record_kinds()
    permissions = frozenset(p for k in kinds_of(client) if k in known for p in known[k].permissions)
    return Principal(
        user_id=client.id,
        username=f"{client.system_kind}:{client.name}"[:64],
        role=CLIENT_ROLE,
        division_code=client.division_code,
        jurisdiction=jurisdiction_prefix(client.division_code),
        permissions=permissions,
        display_name=client.name,
        org_unit_id=client.org_unit_id,
    )


# ---------------------------------------------------------------- idempotent receipt


def payload_hash(payload: Any) -> str:
    """SHA-256 of the payload's canonical JSON (keys sorted): a retry hashes alike."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Received:
    """A receipt and whether it is new (the record must be applied) or a retry of an earlier one."""

    receipt: ApiReceipt
    fresh: bool


class DifferentPayload(Conflict):
    code = "sender_id_reused"


def _check_sender_id(sender_id: str) -> str:
    clean = sender_id.strip()
    if not clean or len(clean) > 64 or "\x00" in clean:
        raise Invalid(
            "发送方编号应为 1–64 个字符", "The sender's id must be 1 to 64 characters", details={"field": "sender_id"}
        )
    return clean


def receive(session: Session, client: ApiClient, kind: str, sender_id: str, digest: str) -> Received:
    """Record that ``client`` sent a ``kind`` record under ``sender_id`` (its own id) once.

    The same id again returns the first receipt (``fresh`` False: answer its result); the same id
    with another payload (``digest`` differs) is a 409 — the sender reused an id. Call it inside a
    savepoint: a concurrent first receipt makes the flush fail on the unique key."""
    sender_id = _check_sender_id(sender_id)
    earlier = repository.receipt(session, client.id, kind, sender_id)
    if earlier is not None:
        if earlier.payload_hash != digest:
            raise DifferentPayload(
                f"发送方编号 {sender_id} 已用于另一条内容不同的记录",
                f"Sender id {sender_id} was already used for a different record",
            )
        return Received(earlier, False)
    row = ApiReceipt(
        id=new_id(),
        client_id=client.id,
        kind=kind,
        sender_id=sender_id,
        payload_hash=digest,
        division_code=client.division_code,
        created_at=utcnow(),
    )
    repository.add(session, row)
    return Received(row, True)


# ---------------------------------------------------------------- batches


@dataclass(frozen=True)
class Applied:
    """What applying one record produced (the row a retry answers with)."""

    result_type: str
    result_id: str


@dataclass(frozen=True)
class ItemResult:
    """One item's answer: ``accepted`` (applied now), ``duplicate`` (sent before: the first result)
    or ``refused`` (nothing applied; ``status`` the HTTP status it would have had, ``code`` and
    ``message`` why)."""

    sender_id: str
    outcome: str
    result_type: str | None = None
    result_id: str | None = None
    status: int = 200
    code: str | None = None
    message: str | None = None


Apply = Callable[[Session, Mapping[str, Any]], Applied]


def run_batch(
    session: Session,
    client: ApiClient,
    kind: str,
    items: Sequence[tuple[str, Mapping[str, Any]]],
    apply: Apply,
    lang: str | None = None,
) -> list[ItemResult]:
    """Apply ``(sender_id, payload)`` items one by one, each in a savepoint: an item that fails
    is rolled back alone and answered ``refused`` with its reason; the others are applied. An item
    sent before (same sender id, same payload) answers the first result without a second record."""
    if len(items) > MAX_BATCH:
        raise Invalid(f"一批最多 {MAX_BATCH} 条", f"At most {MAX_BATCH} items per batch", details={"field": "items"})
    out: list[ItemResult] = []
    for sender_id, payload in items:
        digest = payload_hash(payload)
        try:
            with session.begin_nested():
                received = receive(session, client, kind, sender_id, digest)
                if received.fresh:
                    applied = apply(session, payload)
                    received.receipt.result_type = applied.result_type
                    received.receipt.result_id = applied.result_id
                    session.flush()
            receipt = received.receipt
            out.append(
                ItemResult(
                    sender_id, "accepted" if received.fresh else "duplicate", receipt.result_type, receipt.result_id
                )
            )
        except AppError as exc:
            out.append(ItemResult(sender_id, "refused", status=exc.status, code=exc.code, message=exc.message(lang)))
        except IntegrityError:
            # Another request recorded the same sender id (or the same external record) first.
            earlier = repository.receipt(session, client.id, kind, sender_id.strip())
            if earlier is not None and earlier.payload_hash == digest:
                out.append(ItemResult(sender_id, "duplicate", earlier.result_type, earlier.result_id))
            else:
                out.append(
                    ItemResult(
                        sender_id,
                        "refused",
                        status=409,
                        code="conflict",
                        message=pick("与已有记录冲突", "Conflicts with an existing record", lang),
                    )
                )
    return out
