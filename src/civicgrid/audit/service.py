"""Appending to the audit chain and verifying it.

Every ORM write is captured automatically by a flush listener (so no service can forget);
events that are not row writes — logins, failed logins, denied requests, reveals of personal
data — are appended with :func:`record`.

There is one chain per county-level unit (its 6-digit code) and one city-wide (``city``: city-level
records and entries tied to no division), chosen by the entry's division (:func:`chain_of`), so
writes in different counties never wait for each other. Appends to one chain are serialised:
PostgreSQL takes a transaction-scoped advisory lock per chain (in chain order, all at once at
commit), SQLite's write transactions (BEGIN IMMEDIATE) already hold the database lock. The heads
(last seq and hash per chain) are cached for the rest of the transaction. A sharded deployment
(Citus, distributed by county code) keeps each chain with its county's rows.
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, UOWTransaction

from civicgrid.audit import repository
from civicgrid.audit.chain import GENESIS_HASH, canonical_json, entry_hash, hashed_fields, to_jsonable
from civicgrid.audit.models import AuditEntry, AuditPurgePermit
from civicgrid.authz.principal import Principal
from civicgrid.db import Base, within_transaction
from civicgrid.kit.clock import utcnow
from civicgrid.kit.errors import AppError
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


CITY_CHAIN = "city"


def chain_of(division_code: str | None) -> str:
    """The chain of an entry: its county-level unit's 6-digit code, or ``city`` for city-level
    records and entries tied to no division."""
    if division_code and len(division_code) >= 6 and division_code[:6].isdigit() and division_code[4:6] != "00":
        return division_code[:6]
    return CITY_CHAIN


def _lock_number(chain: str) -> int:
    return 0 if chain == CITY_CHAIN else int(chain)


def _head(conn: Connection, session: Session, chain: str = CITY_CHAIN) -> tuple[int, str]:
    heads: dict[str, tuple[int, str] | Sent] = session.info.get(_HEAD) or {}
    if chain not in heads:
        take_head(session, conn, chains=[chain])
        heads = session.info[_HEAD]
    head = heads[chain]
    if isinstance(head, Sent):  # sent by take_head, not read yet
        head = heads[chain] = _read_head(head)
    return head


def take_head(session: Session, conn: Connection | None = None, division_codes: Iterable[str | None] | None = None,
              *, chains: Iterable[str] | None = None) -> None:
    """Take the locks (PostgreSQL) of the chains of ``division_codes`` (or of ``chains``; the city
    chain when neither is given) and send the reads of their heads now, not at commit: inside a
    :func:`~civicgrid.kit.statements.pipeline` they ride in the round trip of the statements
    around them. For a transaction about to commit (the intake's group): the locks are held from
    here on. Chains already taken are skipped; new ones are locked in chain order."""
    wanted = set(chains or ()) | ({chain_of(code) for code in division_codes} if division_codes is not None else set())
    heads: dict[str, tuple[int, str] | Sent] = session.info.setdefault(_HEAD, {})
    new = sorted((wanted or {CITY_CHAIN}) - heads.keys())
    if not new:
        return
    conn = conn or session.connection()
    with pipeline(conn):  # alone: the locks and the heads in one round trip
        for chain in new:
            if conn.dialect.name == "postgresql":
                _LOCK.send(conn, {"key": ADVISORY_LOCK_KEY, "chain": _lock_number(chain)})
            heads[chain] = _LAST.send(conn, {"chain": chain})


def _read_head(sent: Sent) -> tuple[int, str]:
    rows = sent.rows()
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)


# Every writing transaction runs these: compiled once, run on the driver (kit.statements).
_LOCK = DriverStatement(lambda _d: text("SELECT pg_advisory_xact_lock(:key, :chain)"))
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
    """Chain and insert stamped rows in one statement (takes the heads of their chains, and on
    PostgreSQL the chains' advisory locks, for the rest of the transaction)."""
    if not rows:
        return
    by_chain: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_chain.setdefault(chain_of(row.get("division_code")), []).append(row)
    take_head(session, conn, chains=by_chain)  # every new chain's lock and head in one round trip
    for chain, chained in by_chain.items():
        seq, prev = _head(conn, session, chain)
        for row in chained:
            seq += 1
            row["chain"] = chain
            row["seq"] = seq
            row["prev_hash"] = prev
            row["hash"] = prev = entry_hash(prev, hashed_fields(row))
        session.info[_HEAD][chain] = (seq, prev)
    _INSERT_ENTRIES.executemany(conn, rows)


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


def audited(model: type[Base]) -> bool:
    """Whether writes of ``model`` enter the chain: not when it opts out (``__audit__ = False``,
    bookkeeping derived from audited rows) or is a telemetry table (``__telemetry__``, positions:
    zero entries per report by design, DESIGN.md "Live data")."""
    return bool(model.__audit__) and not model.__telemetry__


def record_created(session: Session, model: type[Base], row: dict[str, Any]) -> None:
    """Queue the ``create`` entry of a row written with a Core ``INSERT`` (hot paths that skip the
    unit of work): the same entry the flush listener makes for an ORM insert, so the chain cannot
    tell the two apart. ``row`` must hold every column the insert wrote."""
    if not audited(model):
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
        if isinstance(obj, Base) and audited(type(obj)):
            entries.append({"action": "create", "entity_type": _entity_type(obj), "entity_id": _identity(obj),
                            "division_code": _division(obj), "after": _columns(obj)})
    for obj in session.dirty:
        if isinstance(obj, Base) and audited(type(obj)) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                entries.append({"action": "update", "entity_type": _entity_type(obj),
                                "entity_id": _identity(obj), "division_code": _division(obj),
                                "before": before, "after": after})
    for obj in session.deleted:
        if isinstance(obj, Base) and audited(type(obj)):
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

CHAIN = CITY_CHAIN  # the city-wide chain; the others are named by their county's 6-digit code
PURGE_ACTION = "audit.purge"


@dataclass(frozen=True)
class Anchor:
    """A link of a chain written down outside the database: the audit administrator keeps
    these off the server, and ``audit verify --anchors`` then detects a cut tail, a truncated
    table or rows rewritten with recomputed hashes. ``kind``: ``head`` (the latest entry when it
    was taken), ``checkpoint`` (every n-th entry), ``purge`` (the last entry a purge removed: the
    remaining chain starts from its hash) or ``retained`` (the first entry a purge kept)."""

    chain: str
    seq: int
    hash: str
    at: str | None = None
    kind: str = "head"
    anchored_at: str | None = None

    def to_json(self) -> str:
        return canonical_json({"chain": self.chain, "seq": self.seq, "hash": self.hash, "at": self.at,
                               "kind": self.kind, "anchored_at": self.anchored_at or utcnow().isoformat()})

    @classmethod
    def from_json(cls, line: str) -> Anchor:
        data = json.loads(line)
        if not isinstance(data, dict) or not isinstance(data.get("seq"), int) or not isinstance(data.get("hash"), str):
            raise ValueError(f"not an audit anchor: {line[:120]!r}")
        return cls(chain=str(data.get("chain") or CHAIN), seq=int(data["seq"]), hash=str(data["hash"]),
                   at=data.get("at"), kind=str(data.get("kind") or "head"), anchored_at=data.get("anchored_at"))


def read_anchors(text_: str) -> list[Anchor]:
    """Anchors from JSON lines (blank lines skipped); a malformed line raises ``ValueError``."""
    return [Anchor.from_json(line) for line in text_.splitlines() if line.strip()]


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of recomputing the chains: on failure, the chain and its first bad entry."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""
    first_seq: int | None = None
    head: Anchor | None = None
    checkpoints: tuple[Anchor, ...] = ()
    chain: str = CHAIN
    heads: tuple[Anchor, ...] = ()
    chains: int = 1

    def anchors(self) -> list[Anchor]:
        """What to write down now: every chain's checkpoints and head (once, when it is a checkpoint too)."""
        heads = {(a.chain, a.seq) for a in self.heads}
        return [a for a in self.checkpoints if (a.chain, a.seq) not in heads] + list(self.heads)

    def where(self) -> str:
        """The first bad entry in words: ``chain 431102, seq 7``."""
        return f"chain {self.chain}, seq {self.broken_seq}"


def iter_entries(conn: Connection, chain: str = CHAIN, batch: int = 5000) -> Iterator[dict[str, Any]]:
    yield from repository.iter_chain(conn, chain, batch)


def _latest_purge(conn: Connection, chain: str) -> tuple[int, str] | None:
    """The last entry the chain's latest purge removed and its hash, as that purge recorded them
    (in its own entry, which the chain itself protects); None when the chain was never purged."""
    after = repository.latest_purge_after(conn, chain, PURGE_ACTION)
    data = json.loads(after) if after else None
    if isinstance(data, dict) and isinstance(data.get("through_seq"), int):
        return int(data["through_seq"]), str(data.get("through_hash"))
    return None


def verify(conn: Connection, anchors: Sequence[Anchor] = (), *, checkpoint_every: int = 0) -> VerifyResult:
    """Recompute every link of every chain; name the chain and the first sequence number whose
    link is broken (see :func:`verify_chain`). An anchored chain that holds no entry any more (a
    truncated table, a county's entries deleted) fails too."""
    names = repository.chains(conn)
    checked = 0
    heads: list[Anchor] = []
    checkpoints: list[Anchor] = []
    for chain in sorted(set(names) | {a.chain for a in anchors}):
        result = verify_chain(conn, chain, [a for a in anchors if a.chain == chain],
                              checkpoint_every=checkpoint_every)
        if not result.ok:
            return VerifyResult(False, checked + result.checked, result.broken_seq, result.reason, chain=chain,
                                chains=len(names))
        checked += result.checked
        heads.extend([result.head] if result.head else [])
        checkpoints.extend(result.checkpoints)
    city = next((h for h in heads if h.chain == CHAIN), None)
    return VerifyResult(True, checked, head=city, checkpoints=tuple(checkpoints), heads=tuple(heads),
                        chains=len(names))


def verify_chain(conn: Connection, chain: str, anchors: Sequence[Anchor] = (), *,
                 checkpoint_every: int = 0) -> VerifyResult:
    """Recompute every link of one chain; name the first sequence number whose link is broken.

    A changed row breaks its own hash; a deleted row leaves a gap in ``seq`` (and the next
    row's ``prev_hash`` no longer matches); reordered rows break the hash of the first moved one.
    With ``anchors`` (kept off the server), an anchored entry whose hash differs (rows rewritten
    with recomputed hashes) or that is gone (a cut tail, a truncated table) is named too. A chain
    whose oldest entries were purged starts from the hash its ``audit.purge`` entry recorded.
    ``checkpoint_every`` collects every n-th entry as an anchor to write down.
    """
    from civicgrid.db import UTCDateTime

    def broken(count: int, seq: int | None, reason: str) -> VerifyResult:
        return VerifyResult(False, count, seq, reason, chain=chain)

    anchored: dict[int, Anchor] = {}
    for given in anchors:
        anchored.setdefault(given.seq, given)
        if anchored[given.seq].hash != given.hash:
            return broken(0, given.seq, f"the anchors disagree about sequence {given.seq}")

    first = repository.first_seq(conn, chain)
    expected_seq = 1
    prev = GENESIS_HASH
    if first is not None and first > 1:
        purged = _latest_purge(conn, chain)
        if purged is None:
            return broken(0, 1, f"sequences 1–{first - 1} are missing and no audit.purge removed them")
        if purged[0] + 1 != first:
            return broken(0, purged[0] + 1, f"sequence {purged[0] + 1} is missing (the purge removed "
                                            f"through {purged[0]}; the first row is {first})")
        expected_seq, prev = first, purged[1]
    for seq, given in anchored.items():  # anchors of purged entries: only the boundary is still known
        if seq == expected_seq - 1 and given.hash != prev:
            return broken(0, seq, f"sequence {seq} (purged) does not match its anchor")

    count = 0
    checkpoints: list[Anchor] = []
    last: dict[str, Any] | None = None
    utc = UTCDateTime()
    for row in iter_entries(conn, chain):
        row["at"] = utc.process_result_value(row["at"], conn.dialect)
        seq = row["seq"]
        if seq != expected_seq:
            return broken(count, expected_seq, f"sequence {expected_seq} is missing (next row found is {seq})")
        if row["prev_hash"] != prev:
            return broken(count, seq, "prev_hash does not match the previous entry's hash")
        if entry_hash(prev, hashed_fields(row)) != row["hash"]:
            return broken(count, seq, "hash does not match the entry's content")
        anchor = anchored.get(seq)
        if anchor is not None and anchor.hash != row["hash"]:
            return broken(count, seq, f"sequence {seq} does not match its anchor "
                                      f"(taken {anchor.anchored_at or 'earlier'}): rewritten")
        if checkpoint_every and seq % checkpoint_every == 0:
            checkpoints.append(Anchor(chain, seq, row["hash"], row["at"].isoformat(), "checkpoint"))
        prev = row["hash"]
        expected_seq += 1
        count += 1
        last = row
    missing = sorted(seq for seq in anchored if seq >= expected_seq)
    if missing:
        ends = f"the chain ends at {expected_seq - 1}" if last else "the chain is empty"
        return broken(count, missing[0], f"anchored sequence {missing[0]} is missing ({ends})")
    head = Anchor(chain, last["seq"], last["hash"], last["at"].isoformat(), "head") if last else None
    return VerifyResult(True, count, first_seq=first, head=head, checkpoints=tuple(checkpoints), chain=chain,
                        heads=(head,) if head else ())


# ---------------------------------------------------------------- retention


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed, and the anchors written before it did."""

    deleted: int
    through_seq: int | None
    cutoff: datetime
    anchors: tuple[Anchor, ...] = ()
    through: tuple[tuple[str, int], ...] = ()  # (chain, last seq removed) of each chain purged


def _chain_division(chain: str) -> str | None:
    """A division code whose entries land in ``chain`` (the purge records itself in the chain it purged)."""
    return None if chain == CHAIN else chain + "000000"


def purge(engine: Engine, retention: timedelta, actor: Actor,
          write_anchors: Callable[[Sequence[Anchor]], None]) -> PurgeReport:
    """Delete the entries older than ``retention`` (at least the statutory six months) from every
    chain, after checking the whole chain and handing the anchors of the boundary — the last entry
    removed and the first kept — to ``write_anchors`` (which must have stored them when it
    returns). Each chain's purge is itself an entry of that chain (``audit.purge``, with the hash
    the rest starts from). Only this path gets past the append-only trigger: it writes a permit
    for its own transaction."""
    from civicgrid.config import AUDIT_RETENTION_MIN_DAYS
    from civicgrid.db import transaction

    if retention < timedelta(days=AUDIT_RETENTION_MIN_DAYS):
        raise AppError(f"审计日志至少保留 {AUDIT_RETENTION_MIN_DAYS} 天（《网络安全法》第二十一条）",
                       f"Audit entries are kept at least {AUDIT_RETENTION_MIN_DAYS} days (Cybersecurity Law "
                       "Art. 21)", status=422, code="retention_too_short")
    cutoff = utcnow() - retention
    with engine.connect() as conn:
        names = repository.chains(conn)
    deleted_total, anchors_all, purged = 0, list[Anchor](), list[tuple[str, int]]()
    for chain in names:
        with transaction(engine) as session:
            set_actor(session, actor)
            conn = session.connection()
            _head(conn, session, chain)  # the chain's lock (PostgreSQL) until commit: nothing appends meanwhile
            through = repository.last_seq_before(conn, chain, cutoff)
            if through is None:
                continue
            checked = verify_chain(conn, chain)
            if not checked.ok:
                raise AppError(f"审计链 {chain} 在第 {checked.broken_seq} 条处断裂，不予清理",
                               f"The audit chain {chain} is broken at seq {checked.broken_seq}: nothing purged",
                               status=409, code="audit_chain_broken")
            row = repository.entry_at(conn, chain, through)
            through_hash = str(row.hash)
            anchors = [Anchor(chain, through, through_hash, _iso(row.at, conn), "purge")]
            kept = repository.first_after(conn, chain, through)
            if kept is not None:
                anchors.append(Anchor(chain, int(kept.seq), str(kept.hash), _iso(kept.at, conn), "retained"))
            write_anchors(anchors)  # before anything is gone
            conn.execute(insert(AuditPurgePermit).values(chain=chain, through_seq=through))
            deleted = repository.delete_through(conn, chain, through)
            conn.execute(delete(AuditPurgePermit))
            record(session, PURGE_ACTION, "audit_log", division_code=_chain_division(chain), after={
                "chain": chain, "through_seq": through, "through_hash": through_hash, "deleted": deleted,
                "cutoff": cutoff.isoformat(), "retention_days": retention.days})
        deleted_total += deleted
        anchors_all.extend(anchors)
        purged.append((chain, through))
    return PurgeReport(deleted_total, purged[0][1] if purged else None, cutoff, tuple(anchors_all), tuple(purged))


def _iso(value: Any, conn: Connection) -> str | None:
    from civicgrid.db import UTCDateTime

    at = UTCDateTime().process_result_value(value, conn.dialect)
    return at.isoformat() if at else None
