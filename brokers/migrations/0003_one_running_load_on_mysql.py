"""MySQL/MariaDB: enforce one_running_load_per_broker, which MySQL cannot create as the
conditional constraint it is (core/mysql_schema.py). Nothing changes elsewhere."""

from django.db import migrations

from core.mysql_schema import conditional_unique_on_mysql


class Migration(migrations.Migration):

    dependencies = [
        ("brokers", "0002_contract_loads"),
    ]

    operations = [
        conditional_unique_on_mysql(
            table="brokers_contractload", name="one_running_load_per_broker", column="mysql_running_broker",
            column_type="varchar(32)", expression="IF(`state` = 'running', `broker`, NULL)",
            fields=("mysql_running_broker",)),
    ]
