"""Angel One's scrip master through the generic master-contract pipeline, as the daily task runs it."""

from __future__ import annotations

from decimal import Decimal

import respx

from brokers.angel import client as angel_client
from brokers.contracts import load_master_contract
from brokers.models import ContractLoad, Instrument
from brokers.selectors import find_instrument, lookup_cache

from .. import testing
from ..adapter import AngelAdapter


def test_the_scrip_master_loads_with_every_kind_and_unreadable_rows_counted(db, angel_exchange):
    load = load_master_contract("angel", AngelAdapter(None, None).master_contract())  # no session needed
    lookup_cache.clear()
    assert load.state == ContractLoad.State.LIVE and load.skipped == 2  # BROKENOPT, and SBIN-BE behind SBIN-EQ
    sbin = find_instrument(broker="angel", exchange="NSE", symbol="SBIN")
    assert sbin is not None and (sbin.brsymbol, sbin.token, sbin.brexchange) == ("SBIN-EQ", "3045", "NSE")
    option = find_instrument(broker="angel", exchange="NFO", symbol="NIFTY07NOV2424000PE")
    assert option is not None and option.underlying_exchange == "NSE_INDEX" and option.option_type == "PE"
    currency = find_instrument(broker="angel", exchange="CDS", symbol="USDINR29OCT2583.25CE")
    assert currency is not None and currency.strike == Decimal("83.25") and currency.tick_size == Decimal("0.0025")
    assert find_instrument(broker="angel", exchange="MCX", symbol="CRUDEOIL17NOV255000CE") is not None
    assert find_instrument(broker="angel", exchange="BSE_INDEX", symbol="SENSEX") is not None
    assert not Instrument.objects.filter(broker="angel", brexchange="NCDEX").exists()


def test_a_synthetic_dump_of_every_kind_loads_whole(db):
    angel_client.close()
    with respx.mock(assert_all_called=True) as router:
        testing.synthetic_dump(router, 3000)
        load = load_master_contract("angel", AngelAdapter(None, None).master_contract())
    angel_client.close()
    assert (load.rows, load.skipped) == (3000, 0)
    assert Instrument.objects.filter(broker="angel", exchange="CDS").exists()
    assert Instrument.objects.filter(broker="angel", exchange="MCX").exists()
