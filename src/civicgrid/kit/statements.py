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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import exc, insert
from sqlalchemy.engine import Connection, Dialect, Engine
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
        return _Form(str(compiled), positional, tuple(binds), tuple(column.type for column in columns))

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run once in ``conn``'s transaction (which must have begun); return the rows, if any."""
        return self._run(conn.dialect, self._cursor(conn), values)

    def query(self, engine: Engine, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a read alone, on a pooled connection of its own and outside any transaction of the
        caller's (one statement reads one consistent snapshot by itself): no session, no
        ``Connection``, no BEGIN or COMMIT of ours. The pool ends whatever the driver began."""
        raw = engine.raw_connection()
        try:
            return self._run(engine.dialect, raw.cursor(), values)
        finally:
            raw.close()

    def _run(self, dialect: Dialect, cursor: Any, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        form = self._form(dialect)
        params = form.parameters(values)
        try:
            cursor.execute(form.sql, params)
            return form.rows(dialect, cursor) if cursor.description else []
        except dialect.loaded_dbapi.Error as error:
            raise exc.DBAPIError.instance(form.sql, params, error, dialect.loaded_dbapi.Error) from error
        finally:
            cursor.close()

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row, in one driver call (no rows come back)."""
        if not rows:
            return
        form = self._form(conn.dialect)
        params = [form.parameters(row) for row in rows]
        cursor = self._cursor(conn)
        try:
            cursor.executemany(form.sql, params)
        except conn.dialect.loaded_dbapi.Error as error:
            raise exc.DBAPIError.instance(form.sql, params, error, conn.dialect.loaded_dbapi.Error) from error
        finally:
            cursor.close()

    @staticmethod
    def _cursor(conn: Connection) -> Any:
        if not conn.in_transaction():
            raise RuntimeError("a driver statement runs inside the caller's transaction: begin it first")
        return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
