"""What every projection is: tables, event handlers that write them, and a tracking position.

The runner (service/projection_runner.py) gives each view a batch of events inside the same
transaction that records the view's tracking position, so every event is applied exactly once
and a view can be dropped and rebuilt from zero.

Handlers do not run SQL. Each one states what its event does to the view's rows, as row
operations on a `Changes` (insert a row, update columns of the row with a key, delete it, insert
or replace it); `Changes` folds a batch's operations row by row, in event order, and then writes
each table with a few statements for the whole batch (one DELETE, one INSERT per set of columns,
one UPDATE per shape of update), the rows passed as arrays. A column update is a plain value or
one of the expressions below, which compose the way the SQL they stand for would run one after
the other (`points + 1` then `points + 2` is `points + 3`). An operation that cannot be folded
into the row's earlier ones (an update of a column that an earlier update changed with another
kind of expression, an insert after an update) starts a new stage: stages are written in order,
so the result is always the one the events give one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, ClassVar

from psycopg import Cursor, sql
from psycopg.adapt import PyFormat

Handler = Callable[[Any, "Changes", Any], None]


def handles(*event_classes: type) -> Callable[[Handler], Handler]:
    """Mark a projection method as the handler of the given domain event classes."""

    def mark(method: Handler) -> Handler:
        method.__handles__ = event_classes  # type: ignore[attr-defined]
        return method

    return mark


# --- column expressions ------------------------------------------------------------------------


class Expression:
    """A column's new value computed from its old one (as SQL would, NULL rules included)."""

    __slots__ = ("value",)
    kind: ClassVar[str]

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, old: Any) -> Any:
        raise NotImplementedError

    def then(self, later: Any) -> Any:
        """This, then `later` (a value or an expression), as one; NO_FOLD if they do not."""
        if not isinstance(later, Expression):
            return later
        return NO_FOLD

    def sql(self, column: sql.Identifier, param: sql.Composable) -> sql.Composable:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.value == self.value  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class Add(Expression):
    """`column + value` (NULL stays NULL)."""

    kind = "add"

    def __call__(self, old: Any) -> Any:
        return None if old is None or self.value is None else old + self.value

    def then(self, later: Any) -> Any:
        if type(later) is Add:
            if self.value is None or later.value is None:
                return Add(None)
            if type(self.value) is int and type(later.value) is int:
                return Add(self.value + later.value)
            return NO_FOLD  # floats: (x + a) + b need not be x + (a + b)
        return super().then(later)

    def sql(self, column: sql.Identifier, param: sql.Composable) -> sql.Composable:
        return sql.SQL("t.{} + {}").format(column, param)


def _least(a: Any, b: Any) -> Any:  # SQL LEAST: NULLs are ignored
    return b if a is None else a if b is None else min(a, b)


def _greatest(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


class Least(Expression):
    """`LEAST(column, value)`, for values that Python orders as SQL does (numbers, dates; not
    text, which SQL orders by collation)."""

    kind = "least"

    def __call__(self, old: Any) -> Any:
        return _least(old, self.value)

    def then(self, later: Any) -> Any:
        if type(later) is Least:
            return Least(_least(self.value, later.value))
        return super().then(later)

    def sql(self, column: sql.Identifier, param: sql.Composable) -> sql.Composable:
        return sql.SQL("LEAST(t.{}, {})").format(column, param)


class Greatest(Expression):
    """`GREATEST(column, value)` (the same values as `Least`)."""

    kind = "greatest"

    def __call__(self, old: Any) -> Any:
        return _greatest(old, self.value)

    def then(self, later: Any) -> Any:
        if type(later) is Greatest:
            return Greatest(_greatest(self.value, later.value))
        return super().then(later)

    def sql(self, column: sql.Identifier, param: sql.Composable) -> sql.Composable:
        return sql.SQL("GREATEST(t.{}, {})").format(column, param)


class Replace(Expression):
    """`CASE WHEN column = old THEN new ELSE column END`; value is the pair (old, new)."""

    kind = "replace"

    def __call__(self, old: Any) -> Any:
        return self.value[1] if old is not None and old == self.value[0] else old

    def then(self, later: Any) -> Any:
        if type(later) is Replace and later.value == self.value and \
                self.value[0] != self.value[1]:
            return self  # the first left no value the second would change
        return super().then(later)

    def sql(self, column: sql.Identifier, param: sql.Composable) -> sql.Composable:
        raise NotImplementedError  # two parameters: written by Changes


EXPRESSIONS = frozenset(Expression.__subclasses__())  # (a set lookup beats isinstance)
NO_FOLD = object()
"""Two updates of a column that cannot be written as one."""


# --- row operations of a batch --------------------------------------------------------------

INSERTED, UPDATED, DELETED, REPLACED = "inserted", "updated", "deleted", "replaced"
"""What a batch did to a row, per key: inserted it (row known), updated columns of whatever
row has the key (maybe none), deleted it, or deleted whatever was there and inserted the row."""


class DuplicateRow(Exception):
    """Two inserts of one key in a batch: the first statement would fail the same way."""


class Stage:
    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[tuple[Any, ...], list[Any]] = {}  # key -> [state, row or updates]


class TableChanges:
    """One table's row operations in a batch, folded per key into stages."""

    __slots__ = ("_key", "key", "name", "stages")

    def __init__(self, name: str, key: tuple[str, ...]) -> None:
        self.name = name
        self.key = key
        self.stages: list[Stage] = [Stage()]
        if len(key) == 1:
            column = key[0]
            self._key: Callable[[dict[str, Any]], tuple[Any, ...]] = lambda row: (row[column],)
        else:
            self._key = itemgetter(*key)

    def insert(self, row: dict[str, Any]) -> None:
        key = self._key(row)
        stage = self.stages[-1]
        entry = stage.rows.get(key)
        if entry is None:
            stage.rows[key] = [INSERTED, row]
        elif entry[0] == DELETED:
            entry[0], entry[1] = REPLACED, row
        elif entry[0] == UPDATED:  # whether the row was there decides: write the update first
            stage = Stage()
            self.stages.append(stage)
            stage.rows[key] = [INSERTED, row]
        else:
            raise DuplicateRow(f"{self.name}: a second insert of {key}")

    def replace(self, row: dict[str, Any]) -> None:
        """Insert the row, or replace the one with its key (INSERT ... ON CONFLICT DO UPDATE
        of every other column)."""
        key = self._key(row)
        stage = self.stages[-1]
        entry = stage.rows.get(key)
        if entry is not None and entry[0] == INSERTED:
            entry[1] = row
        else:
            stage.rows[key] = [REPLACED, row]

    def delete(self, key: tuple[Any, ...]) -> None:
        self.stages[-1].rows[key] = [DELETED, None]

    def update(self, key: tuple[Any, ...], changes: dict[str, Any]) -> None:
        """Set columns of the row with this key, if there is one (UPDATE ... WHERE key)."""
        stage = self.stages[-1]
        entry = stage.rows.get(key)
        if entry is None:
            stage.rows[key] = [UPDATED, dict(changes)]
            return
        state, held = entry
        if state == DELETED:
            return  # an UPDATE of no row
        if state != UPDATED:  # the row is known: compute its new values here
            for column, value in changes.items():
                if value.__class__ in EXPRESSIONS:
                    if column not in held:
                        raise KeyError(f"{self.name}.{column}: an expression of a column the "
                                       "row was inserted without")
                    value = value(held[column])
                held[column] = value
            return
        folded = {}
        for column, value in changes.items():
            if column in held:
                earlier = held[column]
                if earlier.__class__ in EXPRESSIONS:
                    value = earlier.then(value)
                    if value is NO_FOLD:  # this update runs after the earlier ones
                        stage = Stage()
                        self.stages.append(stage)
                        stage.rows[key] = [UPDATED, dict(changes)]
                        return
                elif value.__class__ in EXPRESSIONS:
                    value = value(earlier)
            folded[column] = value
        held.update(folded)


class Changes:
    """A batch's row operations on a view's tables; `write` sends them."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.tables = {name: TableChanges(name, key) for name, key in projection.keys.items()}

    def __getitem__(self, table: str) -> TableChanges:
        return self.tables[table]

    def insert(self, table: str, row: dict[str, Any]) -> None:
        self.tables[table].insert(row)

    def replace(self, table: str, row: dict[str, Any]) -> None:
        self.tables[table].replace(row)

    def update(self, table: str, key: tuple[Any, ...], changes: dict[str, Any]) -> None:
        self.tables[table].update(key, changes)

    def delete(self, table: str, key: tuple[Any, ...]) -> None:
        self.tables[table].delete(key)

    def write(self, curs: Cursor[Any], order: Iterable[str] | None = None) -> None:
        for name in order or self.tables:
            table = self.tables[name]
            for stage in table.stages:
                if stage.rows:
                    write_stage(curs, table, stage, self.projection.column_types(curs, name))


# --- writing a stage ----------------------------------------------------------------------------

ColumnTypes = dict[str, str]


def write_stage(curs: Cursor[Any], table: TableChanges, stage: Stage, types: ColumnTypes,
                insert: Callable[..., None] | None = None) -> None:
    """Deletes first (a replaced row goes out before its new version comes in), then updates,
    then inserts: each key is in one state, so they touch different rows."""
    gone = [key for key, (state, _) in stage.rows.items() if state in (DELETED, REPLACED)]
    if gone:
        delete_rows(curs, table.name, table.key, gone, types)
    shapes: dict[tuple[tuple[str, str], ...], list[tuple[tuple[Any, ...], dict[str, Any]]]] = {}
    rows: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, (state, held) in stage.rows.items():
        if state == UPDATED:
            shape = tuple((c, v.kind if v.__class__ in EXPRESSIONS else "set")
                          for c, v in held.items())
            shapes.setdefault(shape, []).append((key, held))
        elif state != DELETED:
            rows.setdefault(tuple(held), []).append(held)
    for shape, updates in shapes.items():
        update_rows(curs, table.name, table.key, shape, updates, types)
    for columns, same in rows.items():
        (insert or insert_rows)(curs, table.name, columns,
                                [[r[c] for c in columns] for r in same], types)


def column_param(values: Sequence[Any], type_name: str) -> list[Any]:
    """One column's values as one array parameter, sent in binary (several times cheaper to
    make than text). Array columns go as text array literals (unnest would flatten an array of
    arrays)."""
    if type_name.endswith("[]"):
        return [None if v is None else _array_literal(v) for v in values]
    if type_name == "double precision":  # one element type for the array (ints and floats)
        return [None if v is None else float(v) for v in values]
    return list(values)


def column_params(columns: Sequence[str], rows: Sequence[Sequence[Any]],
                  types: ColumnTypes) -> list[list[Any]]:
    return [column_param(values, types[column])
            for column, values in zip(columns, zip(*rows, strict=True), strict=True)]


def _array_literal(items: Iterable[Any]) -> str:
    def one(item: Any) -> str:
        if item is None:
            return "NULL"
        text = str(item).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'
    return "{" + ",".join(one(item) for item in items) + "}"


_BINARY = sql.Placeholder(format=PyFormat.BINARY)
_statements: dict[tuple[Any, ...], bytes] = {}


def statement(key: tuple[Any, ...], build: Callable[[], sql.Composable]) -> bytes:
    """The statement for `key`, composed once (its text depends only on the key)."""
    query = _statements.get(key)
    if query is None:
        query = _statements[key] = build().as_bytes(None)  # names are ASCII: no encoding
    return query


def unnest_source(columns: Sequence[str],
                  types: Sequence[str]) -> tuple[sql.Composable, sql.Composable]:
    """`unnest($1::t1[], ...) AS v(c1, ...)` and the select list casting each back to its
    type (an array column comes as text)."""
    placeholders = [sql.SQL("{}::{}").format(
        _BINARY, sql.SQL("text[]" if kind.endswith("[]") else f"{kind}[]")) for kind in types]
    source = sql.SQL("unnest({}) AS v({})").format(
        sql.SQL(", ").join(placeholders), sql.SQL(", ").join(map(sql.Identifier, columns)))
    selects = sql.SQL(", ").join(
        sql.SQL("v.{}::{}").format(sql.Identifier(c), sql.SQL(kind))
        for c, kind in zip(columns, types, strict=True))
    return source, selects


def _match(key: Sequence[str], types: ColumnTypes) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("t.{} = v.{}::{}").format(sql.Identifier(c), sql.Identifier(c),
                                          sql.SQL(types[c])) for c in key)


def insert_rows(curs: Cursor[Any], table: str, columns: Sequence[str],
                rows: Sequence[Sequence[Any]], types: ColumnTypes) -> None:
    def build() -> sql.Composable:
        source, selects = unnest_source(columns, [types[c] for c in columns])
        return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)), selects,
            source)
    curs.execute(statement(("insert", table, tuple(columns)), build),
                 column_params(columns, rows, types))


def delete_rows(curs: Cursor[Any], table: str, key: Sequence[str],
                keys: Sequence[tuple[Any, ...]], types: ColumnTypes) -> None:
    def build() -> sql.Composable:
        source, _ = unnest_source(key, [types[c] for c in key])
        return sql.SQL("DELETE FROM {} t USING {} WHERE {}").format(
            sql.Identifier(table), source, _match(key, types))
    curs.execute(statement(("delete", table), build), column_params(key, keys, types))


def update_rows(curs: Cursor[Any], table: str, key: Sequence[str],
                shape: tuple[tuple[str, str], ...],
                updates: Sequence[tuple[tuple[Any, ...], dict[str, Any]]],
                types: ColumnTypes) -> None:
    """One UPDATE for rows whose changes have the same shape (columns, and how each is set):
    the keys and each change's values as arrays."""
    params = [column_param([k[i] for k, _ in updates], types[c]) for i, c in enumerate(key)]
    for column, kind in shape:
        values = [u[column] for _, u in updates]
        if kind == "replace":
            params += [column_param([v.value[0] for v in values], types[column]),
                       column_param([v.value[1] for v in values], types[column])]
        else:
            params.append(column_param(values if kind == "set" else [v.value for v in values],
                                       types[column]))
    sample = updates[0][1]

    def build() -> sql.Composable:
        names, kinds, sets = list(key), [types[c] for c in key], []
        for n, (column, kind) in enumerate(shape):
            target, cast = sql.Identifier(column), sql.SQL(types[column])
            if kind == "replace":
                old, new = sql.Identifier(f"o{n}"), sql.Identifier(f"n{n}")
                names += [f"o{n}", f"n{n}"]
                kinds += [types[column]] * 2
                sets.append(sql.SQL(
                    "{} = CASE WHEN t.{} = v.{}::{} THEN v.{}::{} ELSE t.{} END").format(
                    target, target, old, cast, new, cast, target))
                continue
            names.append(f"p{n}")
            kinds.append(types[column])
            value = sql.SQL("v.{}::{}").format(sql.Identifier(f"p{n}"), cast)
            sets.append(sql.SQL("{} = {}").format(
                target, value if kind == "set" else sample[column].sql(target, value)))
        source, _ = unnest_source(names, kinds)
        return sql.SQL("UPDATE {} t SET {} FROM {} WHERE {}").format(
            sql.Identifier(table), sql.SQL(", ").join(sets), source, _match(key, types))
    curs.execute(statement(("update", table, shape), build), params)


# --- projections --------------------------------------------------------------------------------


class Projection:
    name: ClassVar[str]
    """Prefix of the view's tables; it carries the version (`cycle_board_v1`): a new table
    shape gets a new name and is built from zero instead of migrated."""
    tables: ClassVar[tuple[str, ...]]
    keys: ClassVar[dict[str, tuple[str, ...]]]
    """Each table's primary key columns: the rows operations name."""
    ddl: ClassVar[tuple[str, ...]]
    _handlers: ClassVar[dict[type, Handler]]
    _types: ClassVar[dict[str, ColumnTypes]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = {}
        cls._types = {}
        for attribute in vars(cls).values():
            for event_class in getattr(attribute, "__handles__", ()):
                cls._handlers[event_class] = attribute

    @property
    def tracking_table(self) -> str:
        return f"{self.name}_tracking"

    @classmethod
    def handles_event_type(cls, event_type: type) -> bool:
        return event_type in cls._handlers

    def apply(self, curs: Cursor[Any], domain_events: Sequence[Any]) -> None:
        """Fold the row operations of the events it handles, in order, and write them: the
        events of a batch that the view has not seen, in the log's order."""
        handlers = self._handlers
        changes = None
        for domain_event in domain_events:
            handler = handlers.get(type(domain_event))
            if handler is not None:
                if changes is None:
                    changes = self.changes()
                handler(self, changes, domain_event)
        if changes is not None:
            self.write(curs, changes)

    def changes(self) -> Changes:
        return Changes(self)

    def write(self, curs: Cursor[Any], changes: Changes) -> None:
        changes.write(curs)

    def column_types(self, curs: Cursor[Any], table: str) -> ColumnTypes:
        """The table's columns and their SQL types (read once from the catalogue: a table's
        shape is fixed by its versioned name)."""
        types = self._types.get(table)
        if types is None:
            curs.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (table,))
            rows = curs.fetchall()
            types = {(r["attname"] if isinstance(r, dict) else r[0]):
                     (r["format_type"] if isinstance(r, dict) else r[1]) for r in rows}
            self._types[table] = types
        return types
