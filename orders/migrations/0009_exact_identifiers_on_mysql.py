"""MySQL/MariaDB: idempotency keys and broker order ids compare byte for byte, as on
PostgreSQL and SQLite, not case- and accent-insensitively (core/mysql_schema.py).
Nothing changes elsewhere."""

from django.db import migrations

from core.mysql_schema import exact_on_mysql


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0008_one_ledger_row_per_broker_order_on_mysql"),
    ]

    operations = [
        exact_on_mysql(table="orders_idempotencyrecord", column="key", definition="varchar(128) NOT NULL"),
        exact_on_mysql(table="orders_order", column="broker_order_id", definition="varchar(64) NOT NULL"),
    ]
