"""Conditional unique constraints on MySQL/MariaDB.

MySQL has no partial indexes: Django skips a ``UniqueConstraint`` that has a ``condition``
there (models.W036), so the rule it states would hold on PostgreSQL and SQLite and not on
MySQL. Each such constraint gets a migration with ``conditional_unique_on_mysql``: a
generated column that holds the constrained value when the condition holds and NULL when it
does not, under a unique index of the constraint's own name (unique indexes ignore NULLs, as
the partial index ignores rows outside its condition). Other databases are left alone, and
the models do not know the column (it is never written: the server computes it).

A later migration that changes a column such a generated column reads must drop and re-add
it. ``openalgo/tests/test_mysql.py`` fails if a conditional constraint lacks its index."""

from __future__ import annotations

from django.db import migrations


def conditional_unique_on_mysql(*, table: str, name: str, column: str, column_type: str, expression: str,
                                fields: tuple[str, ...]) -> migrations.RunPython:
    """``fields`` are the index's columns, ``column`` among them: the generated one, of SQL
    type ``column_type``, computed by ``expression`` (NULL outside the condition)."""

    def add(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "mysql":
            return
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} {column_type} "
            f"GENERATED ALWAYS AS ({expression}) STORED, "
            f"ADD UNIQUE INDEX {quote(name)} ({', '.join(quote(field) for field in fields)})")

    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "mysql":
            return
        quote = schema_editor.quote_name
        schema_editor.execute(f"ALTER TABLE {quote(table)} DROP INDEX {quote(name)}, DROP COLUMN {quote(column)}")

    return migrations.RunPython(add, drop, atomic=False, elidable=False)
