"""Appending to the audit chain and verifying it.

Every ORM write is captured automatically by a flush listener (so no service can forget);
events that are not row writes — logins, failed logins, denied requests, reveals of personal
data — are appended with :func:`record`. Appends are serialised: PostgreSQL takes a
transaction-scoped advisory lock, SQLite's write transactions (BEGIN IMMEDIATE) already hold
the database lock. The head (last seq and hash) is cached for the rest of the transaction.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, UOWTransaction

from civicgrid.audit import repository
from civicgrid.audit.chain import GENESIS_HASH, canonical_json, entry_hash, hashed_fields, to_jsonable
from civicgrid.audit.models import AuditEntry
from civicgrid.authz.principal import Principal
from civicgrid.db import Base, within_transaction
from civicgrid.kit.clock import utcnow
from civicgrid.kit.personal import is_personal
from civicgrid.kit.statements import DriverStatement, Sent, pipeline

log = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x43475244  # "CGRD"
_HEAD = "_audit_head"
REDACTED = "***"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, or a named system process."""

    name: str
    user_id: str | None = None


def system_actor(process: str = "cli") -> Actor:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return Actor(name=f"{process}:{user}")


def set_actor(session: Session, actor: Actor) -> None:
    """Attribute the session's writes to ``actor`` (the auth dependency does this per request)."""
    session.info["actor"] = actor


def _head(conn: Connection, session: Session) -> tuple[int, str]:
    take_head(session, conn)
    head: tuple[int, str] | Sent = session.info[_HEAD]
    if isinstance(head, Sent):  # sent by take_head, not read yet
        head = session.info[_HEAD] = _read_head(head)
    return head


def take_head(session: Session, conn: Connection | None = None) -> None:
    """Take the chain's lock (PostgreSQL) and send the read of its head now, not at commit: inside
    a :func:`~civicgrid.kit.statements.pipeline` they ride in the round trip of the statements
    around them. For a transaction about to commit (the intake's group): the lock is held from
    here on. Does nothing if the head is already taken."""
    if _HEAD in session.info:
        return
    conn = conn or session.connection()
    with pipeline(conn):  # alone: the lock and the head in one round trip
        if conn.dialect.name == "postgresql":
            _LOCK.send(conn, {"key": ADVISORY_LOCK_KEY})
        session.info[_HEAD] = _LAST.send(conn, {})


def _read_head(sent: Sent) -> tuple[int, str]:
    rows = sent.rows()
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)


# Every writing transaction runs these: compiled once, run on the driver (kit.statements).
_LOCK = DriverStatement(lambda _d: text("SELECT pg_advisory_xact_lock(:key)"))
_LAST = repository.HEAD
_INSERT_ENTRIES = DriverStatement.insert_into(AuditEntry)


_PENDING = "_audit_pending"
_COMMITTING = "_audit_committing"


def _stamp(session: Session, entry: dict[str, Any]) -> dict[str, Any]:
    """Fix who, where and when at the moment of the change (the link is written at commit)."""
    actor: Actor = session.info.get("actor") or system_actor("system")
    row = {"at": utcnow(), "actor": actor.name, "actor_id": actor.user_id, "ip": session.info.get("ip"),
           "entity_id": None, "division_code": None, "before": None, "after": None, **entry}
    for key in ("before", "after"):
        if row[key] is not None and not isinstance(row[key], str):
            row[key] = canonical_json(to_jsonable(row[key]))
    return row


def _append(session: Session, conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Chain and insert stamped rows in one statement (takes the head, and on PostgreSQL the
    advisory lock, for the rest of the transaction)."""
    if not rows:
        return
    seq, prev = _head(conn, session)
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = prev
        row["hash"] = prev = entry_hash(prev, hashed_fields(row))
    _INSERT_ENTRIES.executemany(conn, rows)
    session.info[_HEAD] = (seq, prev)


def _queue(session: Session, entries: list[dict[str, Any]]) -> None:
    """Keep the entries until the transaction commits: one INSERT per transaction instead of one
    per flush, and on PostgreSQL the chain's lock is held only while committing, not from the
    first write on. Entries of a savepoint that rolls back are dropped with it."""
    if not entries:
        return
    rows = [_stamp(session, entry) for entry in entries]
    if session.info.get(_COMMITTING):  # a flush after our before_commit hook: write now
        _append(session, session.connection(), rows)
        return
    # Queuing begins the session's transaction if nothing has yet, so that it is committed.
    txn = session.get_nested_transaction() or session.get_transaction() or session.begin()
    session.info.setdefault(_PENDING, []).extend((txn, row) for row in rows)


def record(session: Session, action: str, entity_type: str, entity_id: str | None = None, *,
           division_code: str | None = None, before: Any = None, after: Any = None) -> None:
    """Append one event that is not a row write (login, denial, reveal, export…); it is
    written with the transaction's other entries when the transaction commits."""
    _queue(session, [{
        "action": action, "entity_type": entity_type, "entity_id": entity_id,
        "division_code": division_code, "before": before, "after": after,
    }])


def record_created(session: Session, model: type[Base], row: dict[str, Any]) -> None:
    """Queue the ``create`` entry of a row written with a Core ``INSERT`` (hot paths that skip the
    unit of work): the same entry the flush listener makes for an ORM insert, so the chain cannot
    tell the two apart. ``row`` must hold every column the insert wrote."""
    if not model.__audit__:
        return
    columns, keys = _shape(model)
    after = {key: (REDACTED if redacted else _jsonable(row.get(key))) for key, redacted in columns}
    identity = "/".join(str(row[key]) for key in keys if row.get(key) is not None)
    code = row.get("division_code") or row.get("grid_code")
    # Already plain JSON values: canonical here, so the stamp does not walk them again.
    _queue(session, [{"action": "create", "entity_type": model.__tablename__, "entity_id": identity,
                      "division_code": code if isinstance(code, str) else None, "after": canonical_json(after)}])


_SHAPES: dict[type[Base], tuple[tuple[tuple[str, bool], ...], tuple[str, ...]]] = {}
_REDACTED: dict[type[Base], frozenset[str]] = {}


def redacted(model: type[Base]) -> frozenset[str]:
    """The column keys whose values the chain never records: the model's ``__audit_redact__``
    and every personal-data column (:class:`~civicgrid.kit.personal.Personal`)."""
    keys = _REDACTED.get(model)
    if keys is None:
        personal = {attr.key for attr in inspect(model).column_attrs
                    if any(is_personal(column.type) for column in attr.columns)}
        keys = _REDACTED[model] = frozenset(model.__audit_redact__) | personal
    return keys
_PLAIN = (str, int, float, bool, type(None))


def _shape(model: type[Base]) -> tuple[tuple[tuple[str, bool], ...], tuple[str, ...]]:
    """The model's column keys with their redaction, and its primary-key columns (cached)."""
    shape = _SHAPES.get(model)
    if shape is None:
        mapper = inspect(model)
        redact = redacted(model)
        shape = _SHAPES[model] = (tuple((attr.key, attr.key in redact) for attr in mapper.column_attrs),
                                  tuple(str(c.name) for c in mapper.primary_key))
    return shape


def _jsonable(value: Any) -> Any:
    return value if type(value) in _PLAIN else to_jsonable(value)


_INSERTS: dict[type[Base], DriverStatement] = {}


def insert_rows(session: Session, model: type[Base], rows: list[dict[str, Any]], *, audit: bool = True) -> None:
    """Write rows (each with every column of the table) with one cached ``INSERT`` run on the
    driver in the session's transaction, and queue their audit entries (a row audited this way
    is indistinguishable from an ORM insert). With ``audit=False`` the caller queues them with
    :func:`record_created` (under each row's actor)."""
    if not rows:
        return
    stmt = _INSERTS.get(model)
    if stmt is None:
        stmt = _INSERTS[model] = DriverStatement.insert_into(model)
    stmt.executemany(session.connection(), rows)
    if audit:
        for row in rows:
            record_created(session, model, row)


def pending_entries(session: Session) -> int:
    """How many entries this session will write at commit (tests and diagnostics)."""
    return len(session.info.get(_PENDING, []))


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint is released, not the transaction: its entries wait for the real commit
    for _ in range(10):  # the final flush would otherwise happen after this hook
        if not (session.new or session.dirty or session.deleted):
            break
        session.flush()
    queued: list[tuple[Any, dict[str, Any]]] = session.info.pop(_PENDING, [])
    session.info[_COMMITTING] = True
    if queued:
        _append(session, session.connection(), [row for _txn, row in queued])


def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    queued: list[tuple[Any, dict[str, Any]]] = session.info.get(_PENDING, [])
    kept = [(txn, row) for txn, row in queued if not within_transaction(txn, previous_transaction)]
    if kept:
        session.info[_PENDING] = kept
    else:
        session.info.pop(_PENDING, None)


def audit_export(engine: Engine, principal: Principal, action: str, details: dict[str, Any]) -> None:
    """Record a download (an export of a list) in a transaction of its own: exports are GET
    requests, whose transaction only reads. Run it as a response background task."""
    from civicgrid.db import transaction

    try:
        with transaction(engine) as session:
            set_actor(session, Actor(principal.username, principal.user_id))
            record(session, action, "export", None, division_code=principal.division_code, after=details)
    except Exception:  # the file went out; a failed record is logged, not raised at nobody
        log.exception("could not audit an export")


def _columns(obj: Base) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    redact = redacted(type(obj))
    return {c.key: (REDACTED if c.key in redact else to_jsonable(getattr(obj, c.key)))
            for c in mapper.column_attrs}


def _changes(obj: Base) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    redact = redacted(type(obj))
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        before[attr.key] = REDACTED if attr.key in redact else to_jsonable(old)
        after[attr.key] = REDACTED if attr.key in redact else to_jsonable(new)
    return before, after


def _identity(obj: Base) -> str:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return "/".join(str(part) for part in key if part is not None)


def _division(obj: Base) -> str | None:
    code = getattr(obj, "division_code", None) or getattr(obj, "grid_code", None)
    if code is None and getattr(obj, "__tablename__", "") in {"divisions", "grids"}:
        code = getattr(obj, "code", None)
    return code if isinstance(code, str) else None


def _entity_type(obj: Base) -> str:
    return str(getattr(obj, "__tablename__", type(obj).__name__))


def _on_after_flush(session: Session, _ctx: UOWTransaction) -> None:
    entries: list[dict[str, Any]] = []
    for obj in session.new:
        if isinstance(obj, Base) and type(obj).__audit__:
            entries.append({"action": "create", "entity_type": _entity_type(obj), "entity_id": _identity(obj),
                            "division_code": _division(obj), "after": _columns(obj)})
    for obj in session.dirty:
        if isinstance(obj, Base) and type(obj).__audit__ and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                entries.append({"action": "update", "entity_type": _entity_type(obj),
                                "entity_id": _identity(obj), "division_code": _division(obj),
                                "before": before, "after": after})
    for obj in session.deleted:
        if isinstance(obj, Base) and type(obj).__audit__:
            entries.append({"action": "delete", "entity_type": _entity_type(obj), "entity_id": _identity(obj),
                            "division_code": _division(obj), "before": _columns(obj)})
    _queue(session, entries)


def _forget_head(session: Session, transaction: Any) -> None:
    if transaction.parent is None or transaction.nested:
        session.info.pop(_HEAD, None)
    if transaction.parent is None:
        session.info.pop(_COMMITTING, None)
        session.info.pop(_PENDING, None)  # ended without a commit (or after it): nothing to keep


def install(session_class: type[Session] = Session) -> None:
    """Register the listeners (idempotent)."""
    from sqlalchemy import event

    if not event.contains(session_class, "after_flush", _on_after_flush):
        event.listen(session_class, "after_flush", _on_after_flush)
        event.listen(session_class, "before_commit", _before_commit)
        event.listen(session_class, "after_soft_rollback", _drop_rolled_back)
        event.listen(session_class, "after_transaction_end", _forget_head)


install()


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of recomputing the chain."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""


def iter_entries(conn: Connection, batch: int = 5000) -> Iterator[dict[str, Any]]:
    # A statement option: Connection.execution_options() would change the connection for good,
    # and every later statement on it would run through a server-side cursor.
    yield from repository.iter_chain(conn, batch)


def verify(conn: Connection) -> VerifyResult:
    """Recompute every link; name the first sequence number whose link is broken.

    A changed row breaks its own hash; a deleted row leaves a gap in ``seq`` (and the next
    row's ``prev_hash`` no longer matches); reordered rows break the hash of the first moved one.
    """
    from civicgrid.db import UTCDateTime

    expected_seq = 1
    prev = GENESIS_HASH
    count = 0
    utc = UTCDateTime()
    for row in iter_entries(conn):
        row["at"] = utc.process_result_value(row["at"], conn.dialect)
        seq = row["seq"]
        if seq != expected_seq:
            return VerifyResult(False, count, expected_seq,
                                f"sequence {expected_seq} is missing (next row found is {seq})")
        if row["prev_hash"] != prev:
            return VerifyResult(False, count, seq, "prev_hash does not match the previous entry's hash")
        if entry_hash(prev, hashed_fields(row)) != row["hash"]:
            return VerifyResult(False, count, seq, "hash does not match the entry's content")
        prev = row["hash"]
        expected_seq += 1
        count += 1
    return VerifyResult(True, count)
