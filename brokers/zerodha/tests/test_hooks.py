"""The hooks the lead's benchmarks use: ``synthetic_dump`` serves a Kite-format dump that
loads through the generic pipeline with every kind present, and ``order_world`` places an
NSE SBIN market order against Kite's documented success answer."""

from __future__ import annotations

from collections import Counter

import pytest
import respx

from brokers.contracts import load_master_contract
from brokers.models import Instrument
from brokers.selectors import lookup_cache

from .. import client
from ..adapter import ZerodhaAdapter
from ..testing import credentials, order_world, synthetic_dump, synthetic_rows

pytestmark = pytest.mark.django_db


def test_the_synthetic_dump_mixes_every_kind_and_loads_whole():
    rows = synthetic_rows(2000)
    assert len(rows) == 2000 and rows[0]["tradingsymbol"] == "SBIN"
    assert {row["segment"] for row in rows} >= {"NSE", "INDICES", "NFO-OPT", "NFO-FUT", "BFO-OPT", "CDS-OPT",
                                                "MCX-FUT", "MCX-OPT"}
    client.close()
    with respx.mock(assert_all_called=True) as router:
        synthetic_dump(router, 2000)
        load = load_master_contract("zerodha", ZerodhaAdapter(None, credentials()).master_contract())
    client.close()
    assert (load.rows, load.skipped) == (2000, 0)
    kinds = Counter(Instrument.objects.filter(broker="zerodha").values_list("exchange", flat=True))
    assert set(kinds) == {"NSE", "NSE_INDEX", "NFO", "BFO", "CDS", "MCX"}
    assert Instrument.objects.filter(broker="zerodha", exchange="NSE", symbol="SBIN").exists()


def test_the_order_world_places_sbin_market_with_protection():
    client.close()
    with respx.mock(assert_all_called=False) as router:
        synthetic_dump(router, 100)
        load_master_contract("zerodha", ZerodhaAdapter(None, credentials()).master_contract())
        lookup_cache.clear()
        creds, request = order_world(router)
        placed = ZerodhaAdapter(None, creds).place_order(request)
        sent = router.calls.last.request
    client.close()
    assert placed.orderid == "151220000000000"
    assert sent.url.path == "/orders/regular" and b"market_protection=-1" in sent.content
