"""Scoped API keys: a key the platform issues to one of a user's own processes (a hosted
strategy) besides the one key the user holds. The one-active-key rule now covers the user's
own keys only (scope ""), on MySQL too (its generated column is recomputed)."""

from django.db import migrations, models

from core.mysql_schema import conditional_unique_on_mysql

_OLD_ON_MYSQL = conditional_unique_on_mysql(
    table="accounts_apikey", name="one_active_api_key_per_user", column="mysql_active_user_id",
    column_type="bigint", expression="IF(`revoked_at` IS NULL, `user_id`, NULL)", fields=("mysql_active_user_id",))


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0008_api_request_log"),
    ]

    operations = [
        # Drop the MySQL index and generated column of the old rule (no-op elsewhere).
        migrations.RunPython(_OLD_ON_MYSQL.reverse_code, _OLD_ON_MYSQL.code, atomic=False, elidable=False),
        migrations.RemoveConstraint(model_name="apikey", name="one_active_api_key_per_user"),
        migrations.AddField(
            model_name="apikey", name="scope",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.UniqueConstraint(condition=models.Q(("revoked_at__isnull", True), ("scope", "")),
                                               fields=("user",), name="one_active_api_key_per_user"),
        ),
        conditional_unique_on_mysql(
            table="accounts_apikey", name="one_active_api_key_per_user", column="mysql_active_user_id",
            column_type="bigint", expression="IF(`revoked_at` IS NULL AND `scope` = '', `user_id`, NULL)",
            fields=("mysql_active_user_id",)),
    ]
