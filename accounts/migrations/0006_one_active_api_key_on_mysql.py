"""MySQL/MariaDB: enforce one_active_api_key_per_user, which MySQL cannot create as the
conditional constraint it is (core/mysql_schema.py). Nothing changes elsewhere."""

from django.db import migrations

from core.mysql_schema import conditional_unique_on_mysql


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0005_transaction_lock"),
    ]

    operations = [
        conditional_unique_on_mysql(
            table="accounts_apikey", name="one_active_api_key_per_user", column="mysql_active_user_id",
            column_type="bigint", expression="IF(`revoked_at` IS NULL, `user_id`, NULL)",
            fields=("mysql_active_user_id",)),
    ]
