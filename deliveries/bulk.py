"""Writing many rows, each with its own values, in one statement.

The engine writes a batch's attempt rows when it claims them and again when it logs
their answers. Django's bulk_update builds a CASE expression per field and row in
Python, which cost the engine almost half its CPU time; its bulk_create sends one
array per column, and psycopg escapes every quote of every text value of an array in
Python: the signed request headers of a batch of 200 attempts cost more than the rest
of its claim.

On PostgreSQL the rows travel instead as one JSON document, read by
`jsonb_to_recordset`: one `json.dumps` (in C) and one quoted string, and a statement
whose text is the same for any number of rows, so it is prepared once per connection
(calendence.prepared_statements). Elsewhere (SQLite in development)
Django's own bulk_create and bulk_update do it.
"""

import json
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from uuid import UUID

from django.db import connections, router
from django.db.models import Field, Model

from calendence.prepared_statements import prepared_cursor


def bulk_insert_rows(objs: Sequence[Model]) -> None:
    """Insert every object (all of one model) in one statement, and give each its primary key."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)
        return
    meta = model._meta
    pk = meta.pk
    columns = [field for field in meta.concrete_fields if field is not meta.auto_field]
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in columns)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({names}) "
        f"SELECT {names} FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) AS ({_column_types(columns, connection)})) "
        f"WITH ORDINALITY AS v({names}, row_number) ORDER BY row_number "
        f"RETURNING {quote(pk.column)}"
    )
    values = [[field.pre_save(obj, add=True) for field in columns] for obj in objs]
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, [_rows_document(columns, values)])
        # In the order of the SELECT's ORDER BY, as Django's own bulk_create relies on.
        for obj, (key,) in zip(objs, cursor.fetchall(), strict=True):
            setattr(obj, pk.attname, key)
            obj._state.adding, obj._state.db = False, connection.alias


def bulk_update_rows(objs: Sequence[Model], fields: list[str]) -> None:
    """Write `fields` of every object (all of one model) to its row."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields)
        return
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in columns[1:])
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
        f"FROM jsonb_to_recordset(%s::jsonb) AS v({_column_types(columns, connection)}) "
        f"WHERE t.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}"
    )
    values = [[getattr(obj, field.attname) for field in columns] for obj in objs]
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, [_rows_document(columns, values)])


def _column_types(columns: list[Field], connection) -> str:
    # Types without their parameters (varchar, not varchar(40)): the columns' own types still
    # apply on assignment, so an over-long value is refused there, never cut short here.
    quote = connection.ops.quote_name
    return ", ".join(f"{quote(field.column)} {field.db_type(connection).split('(')[0]}" for field in columns)


def _rows_document(columns: list[Field], rows: list[list]) -> str:
    """The rows as one JSON array of objects keyed by column (JSON columns nested as they are)."""
    return json.dumps(
        [{field.column: field.get_prep_value(value) for field, value in zip(columns, row, strict=True)}
         for row in rows],
        default=_json_scalar,
    )


def _json_scalar(value):
    """What json.dumps cannot write itself, as PostgreSQL reads it back (full precision)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    raise TypeError(f"Cannot write a {type(value).__name__} in a bulk row.")
