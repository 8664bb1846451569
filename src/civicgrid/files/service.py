"""Rules of the file store: what is accepted (kind, size, type by the bytes), who may read a file
(its owner's rule, or its division's scope), and that only intact bytes are ever served.

A domain stores a file through :func:`store` in its own transaction, after its own checks (may
this caller attach a photo to this matter?), and keeps the returned id. Reads go through
:func:`open_file`: 404 outside the caller's access, the bytes' SHA-256 checked against the row,
a mismatch or a missing blob refused with ``file_corrupted`` (logged and audited, never served).

Ordering: the bytes are written before the row, and the row commits with the domain's
transaction. A rolled-back transaction can leave a blob no row names (harmless: content-addressed,
never served, reusable by the next upload of the same bytes); a row never names bytes that were
not written whole.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from civicgrid.audit.service import Actor, record, set_actor
from civicgrid.authz.principal import Principal
from civicgrid.files import backends, kinds, repository
from civicgrid.files.models import StoredFile
from civicgrid.files.repository import OwnerIds
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError, Invalid, NotFound

log = logging.getLogger(__name__)

_RULES: dict[str, OwnerIds] = {}


def register_owner(owner_type: str, visible_ids: OwnerIds) -> None:
    """Declare who may read the files of ``owner_type`` records (each domain, at import):
    ``visible_ids(principal)`` is a subquery of the owner ids the principal may see — the
    domain's own scoped rule (a matter's photos: whoever may see the matter, its reporter too).
    Files of an owner type without a rule are read by the scope of their own division code."""
    _RULES[owner_type] = visible_ids


def owner_rules() -> Mapping[str, OwnerIds]:
    """Every registered owner rule (tests and docs)."""
    return dict(_RULES)


class FileCorrupted(AppError):
    """The stored bytes no longer match the hash recorded at upload (or are gone): refused."""

    status = 500
    code = "file_corrupted"

    def __init__(self) -> None:
        super().__init__(
            "文件已损坏或缺失，已拒绝读取，请联系管理员",
            "The stored file is damaged or missing and was not served; contact the administrator",
        )


def _mb(limit: int) -> str:
    return f"{limit / (1024 * 1024):g}"


def check(kind_code: str, content: bytes, max_bytes: int | None = None) -> str:
    """The content type of ``content`` if a ``kind_code`` file may hold it: 413 over the kind's
    limit (or the narrower ``max_bytes``), 415 for a type the kind does not accept (by the bytes),
    422 for an empty file."""
    kind = kinds.kinds().get(kind_code)
    if kind is None:
        raise ValueError(f"unknown file kind: {kind_code!r}")
    limit = min(kind.max_bytes, max_bytes) if max_bytes else kind.max_bytes
    if len(content) > limit:
        raise AppError(
            f"{kind.name_zh}过大（上限 {_mb(limit)} MB）",
            f"{kind.name_en.capitalize()} too large (limit {_mb(limit)} MB)",
            status=413,
            code="payload_too_large",
            details={"limit_bytes": limit},
        )
    if not content:
        raise Invalid("文件为空", "The file is empty", details={"field": "file"})
    content_type = kinds.sniff(content)
    if content_type not in kind.types:
        names = [kinds.TYPE_NAMES.get(t, t) for t in kind.types]
        raise AppError(
            f"{kind.name_zh}只接受 {'、'.join(names[:-1])} 或 {names[-1]} 格式",
            f"Only {', '.join(names[:-1])} or {names[-1]} files are accepted for a {kind.name_en}",
            status=415,
            code="unsupported_media_type",
            details={"accepted": list(kind.types)},
        )
    return content_type


_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/]')


def clean_name(name: str | None) -> str | None:
    """The client's file name, kept only to name a download: its last path part, without control
    characters or quotes, at most 200 characters."""
    if not name:
        return None
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("", base).strip()
    return base[:200] or None


def store(
    session: Session,
    principal: Principal | None,
    *,
    owner_type: str,
    owner_id: str,
    division_code: str,
    kind: str,
    content: bytes,
    file_name: str | None = None,
    max_bytes: int | None = None,
) -> StoredFile:
    """Check and store a file for a record, in the caller's transaction (the row is an audited
    ``create``); the bytes go to the configured backend first, whole or not at all."""
    content_type = check(kind, content, max_bytes)
    if not (division_code.isdigit() and len(division_code) in (12, 15)):
        raise ValueError(f"not a division or grid code: {division_code!r}")
    digest = hashlib.sha256(content).hexdigest()
    target = backends.backend()
    key = backends.blob_key(digest)
    target.put(key, content)
    stored = StoredFile(
        owner_type=owner_type,
        owner_id=owner_id,
        division_code=division_code,
        kind=kind,
        content_type=content_type,
        size=len(content),
        sha256=digest,
        backend=target.name,
        storage_key=key,
        file_name=clean_name(file_name),
        created_by=principal.user_id if principal is not None else None,
        created_at=utcnow(),
    )
    session.add(stored)
    session.flush()
    return stored


def get(session: Session, principal: Principal, file_id: str) -> StoredFile:
    """A file the caller may read (its owner's rule, or its division's scope); 404 otherwise."""
    stored = repository.get(session, file_id, principal, _RULES)
    if stored is None:
        raise NotFound("文件", "file")
    return stored


def read_bytes(stored: StoredFile) -> bytes:
    """The file's bytes, only if their SHA-256 is the one recorded at upload; else
    :class:`FileCorrupted` (also for a blob the backend no longer has)."""
    try:
        content = backends.backend(stored.backend).get(stored.storage_key)
    except backends.BlobMissing:
        log.error("stored file %s: blob %s missing from backend %s", stored.id, stored.storage_key, stored.backend)
        raise FileCorrupted() from None
    if len(content) != stored.size or hashlib.sha256(content).hexdigest() != stored.sha256:
        log.error(
            "stored file %s: bytes at %s:%s do not match the recorded SHA-256",
            stored.id,
            stored.backend,
            stored.storage_key,
        )
        raise FileCorrupted()
    return content


def open_file(engine: Engine, session: Session, principal: Principal, file_id: str) -> tuple[StoredFile, bytes]:
    """Check access (404), read and verify the bytes. A refusal for damaged bytes is written to
    the audit chain (``files.corrupted``); a read of a kind marked ``audit_read`` (agreements,
    case documents) is too (``files.read``) — not a reveal: no purpose is asked, and the fields of
    the owner record stay masked. Both in a transaction of their own (the request's only reads),
    before any byte is sent."""
    stored = get(session, principal, file_id)
    try:
        content = read_bytes(stored)
    except FileCorrupted:
        _audit_alone(
            engine, principal, "files.corrupted", stored, {"sha256": stored.sha256, "storage_key": stored.storage_key}
        )
        raise
    if kinds.kinds()[stored.kind].audit_read:
        _audit_alone(engine, principal, "files.read", stored, {"kind": stored.kind})
    return stored, content


def _audit_alone(engine: Engine, principal: Principal, action: str, stored: StoredFile, after: dict[str, Any]) -> None:
    from civicgrid.db import transaction

    try:
        with transaction(engine) as session:
            set_actor(session, Actor(principal.username, principal.user_id))
            record(
                session,
                action,
                StoredFile.__tablename__,
                stored.id,
                division_code=stored.division_code,
                after={"owner_type": stored.owner_type, "owner_id": stored.owner_id, **after},
            )
    except Exception:
        log.exception("could not audit %s of stored file %s", action, stored.id)
        if action == "files.read":
            raise  # an audited kind is not served without its entry


def content_disposition(stored: StoredFile, download: bool = False) -> str:
    """``inline`` (shown in the browser) or ``attachment`` (saved), named after the uploaded file
    or, without one, the file id and the extension of its type (RFC 6266 / 5987)."""
    fallback = f"{stored.id}{kinds.EXTENSIONS.get(stored.content_type, '')}"
    name = stored.file_name or fallback
    ascii_name = name.encode("ascii", "ignore").decode().strip() or fallback
    mode = "attachment" if download else "inline"
    return f"{mode}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
