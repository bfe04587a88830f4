"""Model instances from a hand-written SELECT, exactly as the ORM would have made them.

For the few statements that run on every request (the API token with its user and roles, the
one-patient access check), building the query through the ORM costs more Python than the database
takes to answer it. Those statements are written out once, as SQL, and their rows become model
instances here: each column goes through the same converters the ORM applies on this database
(SQLite keeps UUIDs, datetimes, booleans and JSON as text or integers), then `Model.from_db`.
Tests check that an instance made here equals the ORM's, field by field, on SQLite and PostgreSQL.
"""

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)
Converter = Callable[[Any, Any, Any], Any]


def select_list(model: type[models.Model], alias: str) -> str:
    """The model's concrete columns, as `alias.column` separated by commas, in field order."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in _fields(model))


def width(model: type[models.Model]) -> int:
    """How many columns select_list() gives for `model`."""
    return len(_fields(model))


def build(model: type[M], row: Sequence[Any], start: int = 0) -> M | None:
    """The instance in row[start : start + width(model)], or None when its primary key is NULL
    (the empty side of a LEFT JOIN)."""
    fields = _fields(model)
    values = list(row[start : start + len(fields)])
    pk_index = fields.index(model._meta.pk)  # type: ignore[arg-type]
    if values[pk_index] is None:
        return None
    for i, (expression, converters) in enumerate(_converters(model, connection.vendor)):
        for convert in converters:
            values[i] = convert(values[i], expression, connection)
    return model.from_db(connection.alias, [f.attname for f in fields], values)


def db_value(model: type[models.Model], field_name: str, value: Any) -> Any:
    """`value` as a query parameter for `model.field_name` on this database."""
    return model._meta.get_field(field_name).get_db_prep_value(value, connection)  # type: ignore[union-attr]


@cache
def _fields(model: type[models.Model]) -> list[Any]:
    return list(model._meta.concrete_fields)


@cache
def _converters(model: type[models.Model], vendor: str) -> list[tuple[Any, list[Converter]]]:
    # What SQLCompiler.get_converters() works out for each selected column; the vendor is part of
    # the key because the answer depends on the database.
    out = []
    for field in _fields(model):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        out.append((column, converters))
    return out
