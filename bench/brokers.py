"""Live broker adapters, measured on this machine (issue 16):

1. Master contract: 100,000 rows of a synthetic dump in each broker's own format,
   downloaded (from respx), converted and stored by the generic pipeline. Goal <= 30 s.
   Reference in the same run: the pipeline storing 100,000 ready-made rows (no parsing).
2. Order round trip through the adapter against respx: p50 of adapter.place_order minus
   p50 of a bare request through the same pooled client and route (the "broker's time"
   here). Goal: <= 2 ms of our own overhead.

Each broker package's testing.py provides ``synthetic_dump(router, rows)`` and
``order_world(router)``. Runs on a throwaway SQLite database (a load replaces a broker's
whole contract, so it never touches the platform's own database).

    .venv/bin/python bench/brokers.py [--rows 100000] [--orders 300] [broker ...]
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(brokers: list[str]) -> None:
    scratch = tempfile.mkdtemp(prefix="bench-brokers-")
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ.pop("REDIS_URL", None)
    os.environ["BROKERS"] = ",".join(brokers)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")
    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)


def installed() -> list[str]:
    """Every broker package with the benchmark hooks (live ones and FakeLive)."""
    names = []
    for path in sorted((ROOT / "brokers").iterdir()):
        testing = path / "testing.py"
        if testing.is_file() and "def synthetic_dump" in testing.read_text() and path.name != "scaffold":
            names.append(path.name)
    return names


def reference_rows(rows: int) -> float:
    """Seconds for the pipeline to store ``rows`` rows that need no parsing."""
    from brokers.base import InstrumentRow
    from brokers.contracts import load_master_contract
    from brokers.enums import Exchange

    made = (InstrumentRow(symbol=f"REF{n}", brsymbol=f"REF{n}-EQ", name=f"REF{n}", exchange=Exchange.NSE,
                          brexchange="NSE", token=str(n), expiry=None, strike=None, lotsize=1, instrumenttype="EQ",
                          tick_size=Decimal("0.05")) for n in range(rows))
    started = time.perf_counter()
    load_master_contract("bench-reference", made)
    return time.perf_counter() - started


def measure(name: str, rows: int, orders: int) -> dict[str, float]:
    import respx

    from brokers import registry
    from brokers.contracts import load_master_contract
    from brokers.models import Instrument

    testing = importlib.import_module(f"brokers.{name}.testing")
    client_module = importlib.import_module(f"brokers.{name}.client")
    http = getattr(client_module, "HTTP", None)
    with respx.mock(assert_all_called=False) as router:
        testing.synthetic_dump(router, rows)
        credentials, request = testing.order_world(router)
        adapter = registry.build(name, None, credentials)
        started = time.perf_counter()
        load_master_contract(name, adapter.master_contract())
        load_seconds = time.perf_counter() - started
        stored = Instrument.objects.filter(broker=name).count()

        adapter.place_order(request)  # warm: lookups cached, connection pooled
        timings = []
        for _ in range(orders):
            began = time.perf_counter()
            adapter.place_order(request)
            timings.append(time.perf_counter() - began)
        bare = []
        calls = [call for call in router.calls if call.request.method == "POST"]
        if http is not None and calls:
            sample = calls[-1].request
            for _ in range(orders):
                began = time.perf_counter()
                http.client().request(sample.method, str(sample.url), content=sample.content,
                                      headers=dict(sample.headers))
                bare.append(time.perf_counter() - began)
    adapter_p50 = statistics.median(timings) * 1000
    bare_p50 = statistics.median(bare) * 1000 if bare else float("nan")
    return {"rows": stored, "load_s": load_seconds, "adapter_p50_ms": adapter_p50, "bare_p50_ms": bare_p50,
            "overhead_ms": adapter_p50 - bare_p50}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("brokers", nargs="*")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    names = args.brokers or installed()
    setup(names)
    reference = reference_rows(args.rows)
    print(f"reference: the pipeline stores {args.rows:,} ready rows in {reference:.1f} s "
          f"({args.rows / reference:,.0f} rows/s)  [{date.today()}]")
    print(f"{'broker':<10} {'rows':>8} {'load s':>7} {'x ref':>6} {'goal':>6}   "
          f"{'place p50':>9} {'bare p50':>8} {'overhead':>8} {'goal':>6}")
    failed = False
    for name in names:
        figures = measure(name, args.rows, args.orders)
        load_ok = figures["load_s"] <= 30
        overhead_ok = figures["overhead_ms"] <= 2
        failed |= not (load_ok and overhead_ok)
        load = f"{figures['load_s']:>7.1f} {figures['load_s'] / reference:>6.2f} {'ok' if load_ok else 'MISS':>6}"
        trip = (f"{figures['adapter_p50_ms']:>7.2f}ms {figures['bare_p50_ms']:>6.2f}ms "
                f"{figures['overhead_ms']:>6.2f}ms {'ok' if overhead_ok else 'MISS':>6}")
        print(f"{name:<10} {figures['rows']:>8,} {load}   {trip}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
