"""Writing many rows fast: PostgreSQL COPY, or bulk_create on SQLite.

Rows are plain tuples in the column order of a `TableShape`, which fills every column the loader
does not set with the model field's own default, so that a field added later by someone else is
filled the way the ORM would fill it (or the loader fails at once, naming the field).
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models
from psycopg.types.json import Jsonb

REQUIRED = object()


class TableShape:
    """The columns of one model's table and the default of each."""

    def __init__(self, model: type[models.Model], *, with_id: bool = False):
        self.model = model
        fields = [
            f
            for f in model._meta.concrete_fields
            if with_id
            or not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
        ]
        self.fields = fields
        self.attnames = [f.attname for f in fields]
        self.columns = [f.column for f in fields]
        self._defaults = [_default_of(f) for f in fields]

    def row(self, values: dict[str, Any]) -> tuple:
        return tuple(
            [
                values.get(name, default)
                for name, default in zip(self.attnames, self._defaults, strict=True)
            ]
        )

    def check(self, row: Sequence[Any]) -> None:
        """Fail loudly, naming the field, when the loader left a required column unset."""
        missing = [
            name for name, value in zip(self.attnames, row, strict=True) if value is REQUIRED
        ]
        if missing:
            raise ValueError(f"{self.model.__name__}: the bulk loader does not set {missing}")


def _default_of(field: models.Field) -> Any:
    if field.has_default():
        value = field.get_default()
    elif field.null:
        value = None
    else:
        value = field.get_default() if field.empty_strings_allowed else REQUIRED
    if isinstance(field, models.JSONField) and connection.vendor == "postgresql":
        return Jsonb(value)
    return value


class RowWriter:
    """Appends rows to tables: COPY on PostgreSQL, bulk_create elsewhere. Counts what it wrote."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.uses_copy = connection.vendor == "postgresql"

    def write(self, shape: TableShape, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        shape.check(rows[0])
        if self.uses_copy:
            self._copy(shape, rows)
        else:
            self._bulk_create(shape, rows)
        label = shape.model._meta.label
        self.counts[label] = self.counts.get(label, 0) + len(rows)

    @staticmethod
    def _copy(shape: TableShape, rows: Iterable[tuple]) -> None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(c) for c in shape.columns)
        sql = f"COPY {quote(shape.model._meta.db_table)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    @staticmethod
    def _bulk_create(shape: TableShape, rows: Iterable[tuple]) -> None:
        objects = [shape.model(**dict(zip(shape.attnames, row, strict=True))) for row in rows]
        shape.model.objects.bulk_create(objects, batch_size=500)


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """Ids for rows that other rows point at, taken before the rows are written.

    On PostgreSQL the ids come from the table's own sequence, so concurrent writers never collide;
    on SQLite the caller's transaction already holds the write lock.
    """
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        start = cursor.fetchone()[0] + 1
    return list(range(start, start + count))
