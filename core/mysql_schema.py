"""What MySQL/MariaDB needs beyond the models: conditional unique constraints, and columns
that must compare byte for byte. Both are MySQL-only migration operations; other databases
are left alone.

Conditional unique constraints.

MySQL has no partial indexes: Django skips a ``UniqueConstraint`` that has a ``condition``
there (models.W036), so the rule it states would hold on PostgreSQL and SQLite and not on
MySQL. Each such constraint gets a migration with ``conditional_unique_on_mysql``: a
generated column that holds the constrained value when the condition holds and NULL when it
does not, under a unique index of the constraint's own name (unique indexes ignore NULLs, as
the partial index ignores rows outside its condition). Other databases are left alone, and
the models do not know the column (it is never written: the server computes it).

A later migration that changes a column such a generated column reads must drop and re-add
it. openalgo/tests/test_database_portability.py fails if a conditional constraint lacks its index.

Exact columns. MySQL compares text by the column's collation, case- and accent-insensitive by
default (utf8mb4_general_ci, utf8mb4_0900_ai_ci): "order-a", "ORDER-A" and "order-á" would be one
idempotency key, and one broker order id, where PostgreSQL and SQLite see three. Identifiers
that clients or brokers choose get utf8mb4_bin (``exact_on_mysql``). Django's migrations do not
carry it: a later migration that alters such a column must apply it again; the test above
checks the collations."""

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


EXACT = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"


def exact_on_mysql(*, table: str, column: str, definition: str) -> migrations.RunPython:
    """Give ``column`` (``definition``: its SQL type and nullability, e.g. "varchar(64) NOT NULL")
    the byte-wise collation on MySQL; its indexes follow."""

    def modify(collation: str):
        def run(apps, schema_editor) -> None:
            if schema_editor.connection.vendor != "mysql":
                return
            quote = schema_editor.quote_name
            sql_type, _, nullability = definition.partition(" ")
            schema_editor.execute(f"ALTER TABLE {quote(table)} MODIFY {quote(column)} {sql_type} {collation} "
                                  f"{nullability}")
        return run

    return migrations.RunPython(modify(EXACT), modify("CHARACTER SET utf8mb4"), atomic=False, elidable=False)
