"""The master-contract pipeline: rows stream into staging, replace the live rows only when
complete, bad rows are counted and skipped, and progress is stored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.services import store_broker_app_credentials, store_broker_session
from accounts.tasks import refresh_master_contract
from brokers import contracts
from brokers.base import BrokerUnavailable, InstrumentRow, UnparsableRow
from brokers.enums import Exchange
from brokers.fakelive import testing as fakelive
from brokers.models import ContractLoad, Instrument, StagedInstrument
from brokers.selectors import find_instrument, latest_contract_load
from openalgo.celery import app

pytestmark = pytest.mark.django_db


def _row(symbol: str, exchange: str = "NSE", **change) -> InstrumentRow:
    fields = {"symbol": symbol, "brsymbol": f"{symbol}-EQ", "name": symbol, "exchange": Exchange(exchange),
              "brexchange": exchange, "token": str(abs(hash(symbol)) % 10**8), "expiry": None, "strike": None,
              "lotsize": 1, "instrumenttype": "EQ", "tick_size": Decimal("0.05")}
    fields.update(change)
    return InstrumentRow(**fields)


def test_a_complete_download_replaces_the_brokers_rows_and_only_that_brokers(market):
    contracts.load_master_contract("fakelive", [_row("SBIN"), _row("TCS")])
    load = contracts.load_master_contract("fakelive", [_row("SBIN"), _row("INFY")])
    assert (load.state, load.rows, load.skipped, load.percent) == ("live", 2, 0, 100)
    assert set(Instrument.objects.filter(broker="fakelive").values_list("symbol", flat=True)) == {"SBIN", "INFY"}
    assert Instrument.objects.filter(broker="sandbox").count() == 6
    assert not StagedInstrument.objects.exists()


def test_the_old_contract_serves_until_the_new_one_is_complete_and_stays_if_the_download_breaks():
    contracts.load_master_contract("fakelive", [_row("SBIN")])

    def breaking_download():
        yield _row("INFY")
        assert find_instrument(broker="fakelive", exchange="NSE", symbol="SBIN") is not None
        assert find_instrument(broker="fakelive", exchange="NSE", symbol="INFY") is None
        raise BrokerUnavailable("connection reset")

    with pytest.raises(BrokerUnavailable):
        contracts.load_master_contract("fakelive", breaking_download())
    assert list(Instrument.objects.filter(broker="fakelive").values_list("symbol", flat=True)) == ["SBIN"]
    failed = latest_contract_load(broker="fakelive")
    assert (failed.state, failed.message) == ("failed", "connection reset")
    assert not StagedInstrument.objects.exists()


def test_unreadable_and_repeated_rows_are_counted_skipped_and_sampled(caplog):
    rows = [_row("SBIN"), UnparsableRow(raw='{"tradingsymbol": "X"}', reason="no exchange"), _row("SBIN"),
            _row("ODD", exchange="NSE", token=""), _row("NIFTY29DEC26FUT", "NFO", name="NIFTY",
                                                         expiry=date(2026, 12, 29), instrumenttype="FUTIDX")]
    load = contracts.load_master_contract("fakelive", rows)
    assert (load.rows, load.skipped) == (2, 3)
    assert load.samples[0] == {"row": '{"tradingsymbol": "X"}', "reason": "no exchange"}
    assert "3 rows skipped" in caplog.text
    future = find_instrument(broker="fakelive", exchange="NFO", symbol="NIFTY29DEC26FUT")
    assert future.underlying_exchange == "NSE_INDEX"


def test_a_download_with_no_readable_row_keeps_the_previous_contract():
    contracts.load_master_contract("fakelive", [_row("SBIN")])
    with pytest.raises(Exception, match="no readable row"):
        contracts.load_master_contract("fakelive", [UnparsableRow(raw="x", reason="garbage")])
    assert Instrument.objects.filter(broker="fakelive").count() == 1


def test_progress_is_stored_chunk_by_chunk_against_yesterdays_size(monkeypatch):
    contracts.load_master_contract("fakelive", [_row(f"S{n}") for n in range(10)])
    monkeypatch.setattr(contracts, "CHUNK_ROWS", 4)
    seen = []

    def watched():
        for n in range(10):
            if n in (5, 9):
                seen.append(ContractLoad.objects.get(state="running").percent)
            yield _row(f"S{n}")

    contracts.load_master_contract("fakelive", watched())
    assert seen == [40, 80]


def test_a_second_load_of_the_same_broker_waits_for_the_first_unless_it_was_abandoned():
    running = ContractLoad.objects.create(broker="fakelive")
    with pytest.raises(contracts.LoadAlreadyRunning):
        contracts.load_master_contract("fakelive", [_row("SBIN")])
    ContractLoad.objects.filter(pk=running.pk).update(started_at=timezone.now() - contracts.STALE_AFTER * 2)
    assert contracts.load_master_contract("fakelive", [_row("SBIN")]).state == "live"
    running.refresh_from_db()
    assert running.state == "failed"


def test_the_daily_task_loads_fakelive_through_a_live_session(user, fake_exchange, settings):
    store_broker_app_credentials(user=user, broker="fakelive", api_key=fakelive.API_KEY,
                                 api_secret=fakelive.API_SECRET)
    store_broker_session(user=user, broker="fakelive", access_token=fakelive.TOKEN)
    assert refresh_master_contract("fakelive") == {"rows": 5, "skipped": 0}
    assert find_instrument(broker="fakelive", exchange="NSE_INDEX", symbol="NIFTY").brsymbol == "NIFTY 50"


def test_the_refresh_runs_once_a_day_from_beat():
    app.loader.import_default_modules()
    app.finalize()
    entry = app.conf.beat_schedule["brokers-refresh-master-contracts"]
    assert entry["task"] == "brokers.refresh_master_contracts"
    assert entry["schedule"].hour == {8} and entry["schedule"].minute == {0}


def test_a_row_that_would_not_fit_its_column_is_skipped_not_the_whole_load():
    long_name = "X" * 97  # name holds 96 characters
    load = contracts.load_master_contract("fakelive", [_row("SBIN"), _row("LONG", name=long_name),
                                                       _row("NIFTY29DEC2626000CE", "NFO", name="NIFTY",
                                                            expiry=date(2026, 12, 29), strike=Decimal("26000.5"),
                                                            lotsize=65, tick_size=Decimal("0.05"))])
    assert (load.rows, load.skipped) == (2, 1) and "name is longer than 96" in load.samples[0]["reason"]
    option = Instrument.objects.get(broker="fakelive", symbol="NIFTY29DEC2626000CE")
    assert (option.expiry, option.strike, option.tick_size, option.lotsize, option.option_type, option.freeze_qty) \
        == (date(2026, 12, 29), Decimal("26000.5"), Decimal("0.05"), 65, "CE", 1800)
