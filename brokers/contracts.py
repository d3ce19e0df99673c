"""The master-contract pipeline, the same for every broker: the adapter's rows stream into
a staging table in chunks, then replace the broker's live rows in one transaction, so
the old contract serves every lookup until the new one is complete. A row that cannot
be read is counted and skipped (a sample is kept and logged); progress is stored on the
load for the dashboard."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import CharField
from django.utils import timezone

from brokers.base import BrokerError, InstrumentRow, UnparsableRow
from brokers.enums import Exchange
from brokers.freeze import applied
from brokers.models import ContractLoad, Instrument, StagedInstrument
from brokers.selectors import lookup_cache
from brokers.symbols import underlying_exchange

log = logging.getLogger(__name__)

CHUNK_ROWS = 2000
SAMPLES = 5
# A load still "running" after this long died with its worker; a new one may start.
STALE_AFTER = timedelta(hours=2)
COPIED = ("symbol", "exchange", "brsymbol", "brexchange", "token", "name", "expiry", "strike", "option_type",
          "lotsize", "tick_size", "instrumenttype", "freeze_qty", "underlying_exchange")


class LoadAlreadyRunning(BrokerError):
    http_status = 409


Progress = Callable[[ContractLoad], None]


def load_master_contract(broker: str, rows: Iterable[InstrumentRow | UnparsableRow],
                         on_progress: Progress | None = None) -> ContractLoad:
    """Stage ``rows`` as ``broker``'s next master contract and make it live once complete.
    Any failure (the download breaking off, no row at all) leaves the live contract as it was.
    ``on_progress`` (the caller's, e.g. to tell the dashboard) gets the load as it starts,
    after each staged chunk, and once it is live or failed; an error in it never stops the load."""
    load = _begin(broker)
    report = _reporter(on_progress)
    report(load)
    try:
        _stage(load, rows, report)
        _swap(load)
    except Exception as failure:
        message = failure.message if isinstance(failure, BrokerError) else f"{type(failure).__name__}: {failure}"
        StagedInstrument.objects.filter(load=load).delete()
        ContractLoad.objects.filter(pk=load.pk).update(state=ContractLoad.State.FAILED, message=message[:255],
                                                       finished_at=timezone.now())
        log.error("%s master contract load %d failed, the previous contract stays live: %s", broker, load.pk, message)
        load.refresh_from_db()
        report(load)
        raise
    load.refresh_from_db()
    report(load)
    return load


def _reporter(on_progress: Progress | None) -> Progress:
    def report(load: ContractLoad) -> None:
        if on_progress is None:
            return
        try:
            on_progress(load)
        except Exception:
            log.exception("%s master contract progress callback failed", load.broker)

    return report


def _begin(broker: str) -> ContractLoad:
    ContractLoad.objects.filter(broker=broker, state=ContractLoad.State.RUNNING,
                                started_at__lt=timezone.now() - STALE_AFTER).update(
        state=ContractLoad.State.FAILED, message="abandoned: its worker stopped", finished_at=timezone.now())
    try:
        with transaction.atomic():
            return ContractLoad.objects.create(broker=broker)
    except IntegrityError:
        raise LoadAlreadyRunning(f"A {broker} master contract load is already running") from None


# The staging table's text columns and their lengths: a row that would not fit is skipped
# (PostgreSQL and MySQL in strict mode would refuse the whole chunk; SQLite would keep it).
_LIMITS: dict[str, int] = {field.name: field.max_length for field in StagedInstrument._meta.concrete_fields
                           if isinstance(field, CharField) and field.max_length}
Staged = tuple[Any, ...]


def _staged(row: InstrumentRow) -> Staged:
    """One row's values in COPIED's order, checked and adapted for the database."""
    exchange = Exchange(row.exchange)
    if not row.symbol or not row.token:
        raise ValueError("row without a symbol or a token")
    is_option = row.strike is not None and row.symbol[-2:] in ("CE", "PE")
    values: dict[str, object] = {
        "symbol": row.symbol, "exchange": str(exchange), "brsymbol": row.brsymbol, "brexchange": row.brexchange,
        "token": row.token, "name": row.name, "option_type": row.symbol[-2:] if is_option else "",
        "instrumenttype": row.instrumenttype,
        "underlying_exchange": str(underlying_exchange(row.name, exchange)) if row.expiry else "",
    }
    for column, limit in _LIMITS.items():
        text = values.get(column)  # a CharField's name is its column here
        if isinstance(text, str) and len(text) > limit:
            raise ValueError(f"{column} is longer than {limit} characters")
    if row.lotsize < 0 or row.freeze_qty < 0:
        raise ValueError("a negative lot size or freeze quantity")
    ops = connection.ops
    values.update(
        expiry=ops.adapt_datefield_value(row.expiry),
        strike=ops.adapt_decimalfield_value(row.strike, 16, 4) if row.strike is not None else None,
        lotsize=int(row.lotsize), tick_size=ops.adapt_decimalfield_value(row.tick_size, 12, 4),
        freeze_qty=applied(str(exchange), row.name, row.freeze_qty, derivative=row.expiry is not None),
    )
    return tuple(values[column] for column in COPIED)


def _insert_staged(load: ContractLoad, chunk: list[Staged]) -> None:
    """One multi-row INSERT per chunk through the driver (the ORM's bulk_create spent most of
    a 100,000-row load compiling SQL for model instances)."""
    table = connection.ops.quote_name(StagedInstrument._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(column) for column in ("load_id", *COPIED))
    marks = ", ".join(["%s"] * (len(COPIED) + 1))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608  (names quoted)
                           [(load.pk, *row) for row in chunk])


def _stage(load: ContractLoad, rows: Iterable[InstrumentRow | UnparsableRow], report: Progress) -> None:
    # Yesterday's size estimates today's, so the dashboard can show a percentage while streaming.
    expected = Instrument.objects.filter(broker=load.broker).count()
    seen: set[tuple[str, str]] = set()
    chunk: list[Staged] = []
    staged = skipped = 0
    samples: list[dict[str, str]] = []

    def skip(raw: str, reason: str) -> None:
        nonlocal skipped
        skipped += 1
        if len(samples) < SAMPLES:
            samples.append({"row": raw[:300], "reason": reason[:200]})

    def flush() -> None:
        nonlocal staged
        if chunk:
            _insert_staged(load, chunk)
        staged += len(chunk)
        chunk.clear()
        percent = min(99, staged * 100 // expected) if expected else 0
        ContractLoad.objects.filter(pk=load.pk).update(rows=staged, skipped=skipped, percent=percent, samples=samples)
        load.rows, load.skipped, load.percent = staged, skipped, percent
        report(load)

    for row in rows:
        if isinstance(row, UnparsableRow):
            skip(row.raw, row.reason)
            continue
        try:
            candidate = _staged(row)
        except (ValueError, TypeError, AttributeError, ArithmeticError) as problem:
            skip(repr(row), str(problem))
            continue
        key = (candidate[1], candidate[0])  # (exchange, symbol): COPIED starts with symbol, exchange
        if key in seen:
            skip(repr(row), "the symbol repeats an earlier row")
            continue
        seen.add(key)
        chunk.append(candidate)
        if len(chunk) >= CHUNK_ROWS:
            flush()
    flush()
    if skipped:
        log.warning("%s master contract: %d rows skipped, e.g. %s", load.broker, skipped, samples[:2])
    if not staged:
        raise BrokerError("The broker's master contract had no readable row; the previous one stays live")


def _swap(load: ContractLoad) -> None:
    """Replace the broker's live rows with the staged ones, in one transaction."""
    columns = ", ".join(connection.ops.quote_name(column) for column in COPIED)
    instrument = connection.ops.quote_name(Instrument._meta.db_table)
    staged = connection.ops.quote_name(StagedInstrument._meta.db_table)
    now = timezone.now()
    with transaction.atomic():
        Instrument.objects.filter(broker=load.broker).delete()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {instrument} (broker, updated_at, {columns}) "  # noqa: S608  (names quoted above)
                f"SELECT %s, %s, {columns} FROM {staged} WHERE load_id = %s",
                [load.broker, now, load.pk],
            )
        StagedInstrument.objects.filter(load=load).delete()
        ContractLoad.objects.filter(pk=load.pk).update(state=ContractLoad.State.LIVE, percent=100, finished_at=now)
        transaction.on_commit(lookup_cache.clear)
    log.info("%s master contract load %d is live", load.broker, load.pk)
