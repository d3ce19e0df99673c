"""MySQL/MariaDB: enforce one_ledger_row_per_broker_order, which MySQL cannot create as the
conditional constraint it is (core/mysql_schema.py). Nothing changes elsewhere."""

from django.db import migrations

from core.mysql_schema import conditional_unique_on_mysql


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0007_order_poll"),
    ]

    operations = [
        conditional_unique_on_mysql(
            table="orders_order", name="one_ledger_row_per_broker_order", column="mysql_broker_order_id",
            column_type="varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            expression="IF(CHAR_LENGTH(`broker_order_id`) = 0, NULL, `broker_order_id`)",
            fields=("broker", "mysql_broker_order_id")),
    ]
