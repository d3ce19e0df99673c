"""What every supported database (SQLite, PostgreSQL, MySQL/MariaDB) must guarantee alike,
and how the MySQL connection is set up (openalgo/settings.py)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import UniqueConstraint
from django.utils import timezone

from accounts.models import ApiKey
from brokers.models import ContractLoad
from orders.models import Order

mysql_only = pytest.mark.skipif("connection.vendor != 'mysql'", reason="MySQL/MariaDB connection settings")


def conditional_unique_constraints() -> list[tuple[type, UniqueConstraint]]:
    return [(model, constraint) for model in apps.get_models() for constraint in model._meta.constraints
            if isinstance(constraint, UniqueConstraint) and constraint.condition is not None]


def test_the_project_has_the_conditional_unique_constraints_this_file_knows():
    names = {constraint.name for _, constraint in conditional_unique_constraints()}
    assert names == {"one_active_api_key_per_user", "one_running_load_per_broker", "one_ledger_row_per_broker_order"}


@pytest.mark.django_db
def test_every_conditional_unique_constraint_exists_in_the_database_as_a_unique_index():
    """MySQL skips them (models.W036): each needs its migration (core/mysql_schema.py)."""
    with connection.cursor() as cursor:
        for model, constraint in conditional_unique_constraints():
            found = connection.introspection.get_constraints(cursor, model._meta.db_table)
            assert constraint.name in found, f"{model.__name__}.{constraint.name} missing on {connection.vendor}"
            assert found[constraint.name]["unique"]


@pytest.mark.django_db
def test_one_active_key_per_user_and_any_number_of_revoked_ones(user):
    ApiKey.objects.create(user=user, digest="1" * 64, key_hash="x", revoked_at=timezone.now())
    ApiKey.objects.create(user=user, digest="2" * 64, key_hash="x", revoked_at=timezone.now())
    active = ApiKey.objects.create(user=user, digest="3" * 64, key_hash="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.create(user=user, digest="4" * 64, key_hash="x")
    with pytest.raises(IntegrityError), transaction.atomic():  # un-revoking a second one is refused too
        ApiKey.objects.filter(digest="1" * 64).update(revoked_at=None)
    ApiKey.objects.filter(pk=active.pk).update(revoked_at=timezone.now())
    ApiKey.objects.create(user=user, digest="4" * 64, key_hash="x")
    assert ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_one_running_contract_load_per_broker_and_any_number_of_finished_ones():
    ContractLoad.objects.create(broker="fakelive", state="failed")
    ContractLoad.objects.create(broker="fakelive", state="live")
    ContractLoad.objects.create(broker="fakelive", state="live")
    running = ContractLoad.objects.create(broker="fakelive")
    ContractLoad.objects.create(broker="sandbox")  # another broker's load runs beside it
    with pytest.raises(IntegrityError), transaction.atomic():
        ContractLoad.objects.create(broker="fakelive")
    ContractLoad.objects.filter(pk=running.pk).update(state="live")
    ContractLoad.objects.create(broker="fakelive")


@pytest.mark.django_db
def test_one_ledger_row_per_broker_order_id_and_any_number_without_one(user):
    def order(broker: str, broker_order_id: str) -> Order:
        return Order.objects.create(user=user, broker=broker, symbol="SBIN", exchange="NSE", action="BUY",
                                    quantity=1, product="MIS", pricetype="MARKET", broker_order_id=broker_order_id)

    order("sandbox", "")
    order("sandbox", "")  # not sent yet: no broker id
    order("sandbox", "25112400000001")
    order("fakelive", "25112400000001")  # the same id at another broker is another order
    with pytest.raises(IntegrityError), transaction.atomic():
        order("sandbox", "25112400000001")
    blank = Order.objects.filter(broker_order_id="").first()
    with pytest.raises(IntegrityError), transaction.atomic():  # nor can an update give a row a taken id
        Order.objects.filter(pk=blank.pk).update(broker_order_id="25112400000001")
    assert Order.objects.filter(broker="sandbox", broker_order_id="25112400000001").count() == 1


@mysql_only
@pytest.mark.django_db
def test_mysql_sessions_are_utf8mb4_strict_and_read_committed():
    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["charset"] == "utf8mb4" and options["isolation_level"] == "read committed"
    assert "pool" not in options
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.sql_mode, @@SESSION.character_set_connection, @@SESSION.tx_isolation")
        sql_mode, charset, isolation = cursor.fetchone()
    assert "STRICT_TRANS_TABLES" in sql_mode.split(",")
    assert charset == "utf8mb4"
    assert isolation == "READ-COMMITTED"


@mysql_only
@pytest.mark.django_db
def test_mysql_refuses_a_value_that_does_not_fit_instead_of_truncating_it(user):
    with pytest.raises(DataError, match="Data too long"), transaction.atomic():
        Order.objects.create(user=user, broker="sandbox", symbol="S" * 65, exchange="NSE", action="BUY",
                             quantity=1, product="MIS", pricetype="MARKET")


@mysql_only
@pytest.mark.django_db
def test_mysql_compares_client_and_broker_identifiers_byte_for_byte():
    """core/mysql_schema.py: a migration that alters one of these columns must keep utf8mb4_bin."""
    exact = {("orders_idempotencyrecord", "key"), ("orders_order", "broker_order_id"),
             ("orders_order", "mysql_broker_order_id")}
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, column_name, collation_name FROM information_schema.columns "
                       "WHERE table_schema = DATABASE()")
        collations = {(table, column): collation for table, column, collation in cursor.fetchall()}
    assert {column: collations[column] for column in exact} == dict.fromkeys(exact, "utf8mb4_bin")


@pytest.mark.django_db
def test_broker_order_ids_that_differ_only_in_case_are_different_orders(user):
    for broker_order_id in ("ab12", "AB12"):
        Order.objects.create(user=user, broker="fakelive", symbol="SBIN", exchange="NSE", action="BUY", quantity=1,
                             product="MIS", pricetype="MARKET", broker_order_id=broker_order_id)
    assert list(Order.objects.filter(broker_order_id="AB12").values_list("broker_order_id", flat=True)) == ["AB12"]
