"""Hot statements run straight on the driver's cursor.

SQLAlchemy's ``Connection.execute`` costs about 0.1–0.25 ms of Python per statement on this
machine (execution context, cache lookup, parameter processing, result wrapping), more than a
small indexed SQLite statement itself. The intake writes a group of reports with a dozen
statements plus three small reads per report, so on that path the overhead was the largest
single cost (bench/matters.py). A :class:`DriverStatement` is still built with Core (so it is
the same SQL on both databases), compiled once per dialect, and then run on the DB-API cursor
of the caller's connection, inside the caller's transaction, with the column types' own bind
and result processors applied (``UTCDateTime``, booleans and JSON behave exactly as through
Core). Driver errors come back as SQLAlchemy's ``DBAPIError`` subclasses (``IntegrityError``…),
as they would through Core.

Only for statements whose parameters are plain bind parameters (no expanding ``IN`` lists) and
whose rows carry every column (Python-side column defaults are not applied).

Round trips. On PostgreSQL each statement is a round trip to the server, and under load a round
trip costs far more than its work: the server process and ours each wait for a core to be woken
on (0.3–0.6 ms on this 2-core machine with the event loop busy). :func:`pipeline` sends the
statements of a block together (psycopg's pipeline mode) and waits once, at the block's end;
:meth:`DriverStatement.send` returns a :class:`Sent` whose rows are read after the block. On
SQLite, which answers in-process, statements run as they come and ``pipeline`` does nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import exc, insert
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None
_REQUIRED = object()


@dataclass
class _Form:
    """One statement compiled for one dialect."""

    sql: str
    positional: bool
    binds: tuple[tuple[str, Any, Processor], ...]  # name, default value (or _REQUIRED), bind processor
    types: tuple[Any, ...]  # the result columns' types (empty: rows as the driver gives them)
    returns_rows: bool  # a query or a RETURNING: its rows are fetched (in a pipeline, waited for)
    results: tuple[Processor, ...] | None = None  # their processors, made at the first result
    # Made from ``binds``: one C call that takes every value (when none has a default), and the
    # positions that have a bind processor.
    fetch: Callable[[Mapping[str, Any]], Any] | None = field(init=False)
    processed: tuple[tuple[int, Callable[[Any], Any]], ...] = field(init=False)

    def processors(self, dialect: Dialect, description: Sequence[Sequence[Any]]) -> tuple[Processor, ...]:
        """Result processors may depend on the driver's type code (PostgreSQL numerics), so they
        are made from the first cursor description, as Core does."""
        if self.results is None:
            self.results = tuple(kind._cached_result_processor(dialect, column[1])
                                 for kind, column in zip(self.types, description, strict=True))
        return self.results

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if self.fetch is not None:  # every parameter comes from the values: one C call takes them
            taken = self.fetch(values)
            processed = list(taken) if len(self.binds) > 1 else [taken]
        else:
            processed = []
            for name, default, _ in self.binds:
                value = values.get(name, default)
                if value is _REQUIRED:
                    raise KeyError(f"no value for the statement's parameter {name!r}")
                processed.append(value)
        for i, process in self.processed:
            if processed[i] is not None:
                processed[i] = process(processed[i])
        if self.positional:
            return tuple(processed)
        return {name: value for (name, _, _), value in zip(self.binds, processed, strict=True)}

    def __post_init__(self) -> None:
        names = [name for name, _, _ in self.binds]
        every_one_required = all(default is _REQUIRED for _, default, _ in self.binds)
        self.fetch = itemgetter(*names) if names and every_one_required else None
        self.processed = tuple((i, process) for i, (_, _, process) in enumerate(self.binds) if process is not None)

    def rows(self, dialect: Dialect, cursor: Any) -> list[tuple[Any, ...]]:
        raw = cursor.fetchall()
        if not self.types:  # textual SQL: no column types to process with
            return [tuple(row) for row in raw]
        results = self.processors(dialect, cursor.description)
        return [tuple(value if process is None or value is None else process(value)
                      for process, value in zip(results, row, strict=True)) for row in raw]


class DriverStatement:
    """A Core statement, built by ``build(dialect_name)``, compiled once per dialect and executed
    on the driver's cursor (see the module docstring). ``keys`` fixes the columns of an INSERT."""

    def __init__(self, build: Callable[[str], ClauseElement], *, keys: Sequence[str] | None = None) -> None:
        self._build = build
        self._keys = list(keys) if keys is not None else None
        self._forms: dict[str, _Form] = {}

    @classmethod
    def insert_into(cls, model: Any) -> DriverStatement:
        """A plain ``INSERT`` of every column of ``model``'s table (each row must give them all)."""
        return cls(lambda _d: insert(model), keys=[column.key for column in model.__table__.c])

    def _form(self, dialect: Dialect) -> _Form:
        form = self._forms.get(dialect.name)
        if form is None:
            form = self._forms[dialect.name] = self._compile(dialect)
        return form

    def _compile(self, dialect: Dialect) -> _Form:
        stmt = self._build(dialect.name)
        compiled = stmt.compile(dialect=dialect, column_keys=self._keys)
        if not isinstance(compiled, SQLCompiler):  # pragma: no cover - DDL is not run this way
            raise TypeError("only SQL statements can be run on the driver")
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("expanding or literal parameters cannot be precompiled")
        positional = bool(compiled.positional)
        names = list(compiled.positiontup or []) if positional else list(compiled.bind_names.values())
        by_name = {compiled.bind_names[bind]: bind for bind in compiled.bind_names}
        binds = []
        for name in names:
            bind = by_name[name]
            default = _REQUIRED if bind.callable is not None or bind.required else bind.effective_value
            binds.append((name, default, bind.type._cached_bind_processor(dialect)))
        columns: Any = getattr(stmt, "selected_columns", None)
        if columns is None or not len(columns):
            columns = getattr(stmt, "exported_columns", None) or ()
        # Textual SQL counts as a query (``SELECT pg_advisory_xact_lock(…)``): write textual
        # statements that return nothing through Core.
        returns_rows = not (compiled.isinsert or compiled.isupdate or compiled.isdelete) or bool(
            compiled.effective_returning)
        return _Form(str(compiled), positional, tuple(binds), tuple(column.type for column in columns), returns_rows)

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run once in ``conn``'s transaction (which must have begun); return the rows, if any.
        Inside a :func:`pipeline` this waits for everything sent before it."""
        return self.send(conn, values).rows()

    def send(self, conn: Connection, values: Mapping[str, Any]) -> Sent:
        """Run once in ``conn``'s transaction; inside a :func:`pipeline` the statement goes out
        without waiting for its answer, which :meth:`Sent.rows` reads after the block."""
        cursor = self._cursor(conn)
        with _invalidating(conn):
            sent = self._start(conn.dialect, cursor, values)
        if not _pipelined(cursor.connection):
            sent.rows()
        return sent

    def query(self, engine: Engine, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a read alone, on a pooled connection of its own and outside any transaction of the
        caller's (one statement reads one consistent snapshot by itself): no session, no
        ``Connection``, no BEGIN, COMMIT or ROLLBACK. On PostgreSQL the statement runs in
        autocommit: no BEGIN before it, and nothing for the pool to roll back after it (psycopg
        answers a ROLLBACK by dropping the connection's prepared statements, DEALLOCATE ALL, so
        the next statements on it would be parsed and planned again). A connection found dead is
        invalidated, not handed out again.

        Never on the event loop (it may wait for a pooled connection): it raises there."""
        _refuse_on_event_loop()
        raw = engine.raw_connection()
        autocommit = engine.dialect.name == "postgresql"
        try:
            if autocommit:
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            with _invalidating(raw):
                return self._start(engine.dialect, raw.cursor(), values).rows()
        finally:
            if autocommit and raw.driver_connection is not None:
                raw.driver_connection.autocommit = False
            raw.close()

    def _start(self, dialect: Dialect, cursor: Any, values: Mapping[str, Any]) -> Sent:
        form = self._form(dialect)
        sent = Sent(dialect, form, cursor, form.parameters(values))
        try:
            cursor.execute(form.sql, sent.params)
        except dialect.loaded_dbapi.Error as error:
            cursor.close()
            raise sent.error(error) from error
        return sent

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row, in one driver call (no rows come back). Inside a :func:`pipeline`
        an error (a unique key, say) is raised where the block waits, at its end."""
        if not rows:
            return
        form = self._form(conn.dialect)
        params = [form.parameters(row) for row in rows]
        cursor = self._cursor(conn)
        try:
            with _invalidating(conn):
                try:
                    cursor.executemany(form.sql, params)
                except conn.dialect.loaded_dbapi.Error as error:
                    raise Sent(conn.dialect, form, cursor, params).error(error) from error
        finally:
            cursor.close()

    @staticmethod
    def _cursor(conn: Connection) -> Any:
        if not conn.in_transaction():
            raise RuntimeError("a driver statement runs inside the caller's transaction: begin it first")
        return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


class Sent:
    """A statement sent with :meth:`DriverStatement.send`: its rows, read once."""

    __slots__ = ("_rows", "cursor", "dialect", "form", "params")

    def __init__(self, dialect: Dialect, form: _Form, cursor: Any, params: Any) -> None:
        self.dialect, self.form, self.cursor, self.params = dialect, form, cursor, params
        self._rows: list[tuple[Any, ...]] | None = None

    def rows(self) -> list[tuple[Any, ...]]:
        """The rows (none for a statement without RETURNING). Inside a :func:`pipeline` this
        waits for everything sent so far; after the block it only reads."""
        if self._rows is None:
            try:
                self._rows = self.form.rows(self.dialect, self.cursor) if self.form.returns_rows else []
            except self.dialect.loaded_dbapi.Error as error:
                raise self.error(error) from error
            finally:
                self.cursor.close()
        return self._rows

    def error(self, error: Exception) -> exc.DBAPIError:
        """The driver's error as SQLAlchemy raises it (``IntegrityError``…)."""
        return _wrapped(self.dialect, error, self.form.sql, self.params, self.cursor)


def _wrapped(dialect: Dialect, error: Exception, sql: str | None, params: Any, cursor: Any) -> exc.DBAPIError:
    disconnect = dialect.is_disconnect(error, getattr(cursor, "connection", None), cursor)  # type: ignore[arg-type]
    return exc.DBAPIError.instance(sql, params, error, dialect.loaded_dbapi.Error,  # type: ignore[return-value]
                                   connection_invalidated=disconnect)


def _refuse_on_event_loop() -> None:
    """Architecture rule 1: a database call on the event loop stalls every request, WebSocket
    and timer of the process while it waits (for a pooled connection, a lock, the server)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError("a database call on the event loop blocks the whole process: run it in the thread pool")


def _pipelined(driver_connection: Any) -> bool:
    """Whether psycopg's pipeline mode is on for this driver connection (never on SQLite)."""
    pgconn = getattr(driver_connection, "pgconn", None)
    return pgconn is not None and bool(pgconn.pipeline_status)


@contextmanager
def pipeline(conn: Connection) -> Iterator[None]:
    """Send the driver statements of the block together and wait once, at its end (PostgreSQL;
    on SQLite they run as they come). Only :class:`DriverStatement` may run inside: read the
    rows of what :meth:`~DriverStatement.send` returned after the block (reading one inside
    waits for all sent before it). A Core or ORM statement inside would not see its rows in
    time. An error of any statement in the block is raised at its end, as SQLAlchemy's
    ``DBAPIError``; the statements after the failed one did not run. A block inside another
    sends its statements in the outer block's round trip (its errors are raised at the outer
    block's end, or where a row is read)."""
    if conn.dialect.name != "postgresql":
        yield
        return
    if not conn.in_transaction():
        raise RuntimeError("a pipeline runs inside the caller's transaction: begin it first")
    driver = conn.connection.dbapi_connection
    if _pipelined(driver):
        # Inside another block (``take_head`` in the intake's inserts): ride the outer pipeline.
        # psycopg's nested pipeline waits twice, a Sync when it opens with statements queued and
        # one when it closes: two round trips more per intake batch (docs/performance.md).
        yield
        return
    with _invalidating(conn):
        try:
            with driver.pipeline():  # type: ignore[union-attr]
                yield
        except conn.dialect.loaded_dbapi.Error as error:
            raise _wrapped(conn.dialect, error, None, None, None) from error


@contextmanager
def _invalidating(conn: Connection | PoolProxiedConnection) -> Iterator[None]:
    """A driver error found to be a lost connection invalidates ``conn`` (the pool will not
    hand it out again), as Core does for its own statements."""
    try:
        yield
    except exc.DBAPIError as error:
        if error.connection_invalidated:
            conn.invalidate(error.orig)
        raise
