"""The simulated market: deterministic, on tick, and consistent across quotes, depth, candles, futures and options."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from brokers.enums import OptionType
from brokers.sandbox.market import IST, RISK_FREE_RATE, SimInstrument, SimulatedMarket

D = Decimal
EXPIRY = date(2026, 12, 29)
NIFTY = SimInstrument("NSE_INDEX:NIFTY", "INDEX", D("0.05"), 1, D(26000), 0.13)
SBIN = SimInstrument("NSE:SBIN", "EQ", D("0.05"), 1, D(980), 0.24)
ETERNAL = SimInstrument("NSE:ETERNAL", "EQ", D("0.05"), 1, D(300), 0.40)
VIX = SimInstrument("NSE_INDEX:INDIAVIX", "INDEX", D("0.05"), 1, D("12.00"), 0.80)
CRUDE = SimInstrument("MCX:CRUDEOIL", "INDEX", D(1), 1, D(5300), 0.35)
USDINR = SimInstrument("CDS:USDINR", "INDEX", D("0.0025"), 1, D("88.7"), 0.04)
FUT = SimInstrument("NFO:NIFTY29DEC26FUT", "FUT", D("0.05"), 65, D(0), 0.13, NIFTY.key, EXPIRY)
CRUDE_FUT = SimInstrument("MCX:CRUDEOIL18DEC26FUT", "FUT", D(1), 100, D(0), 0.35, CRUDE.key, date(2026, 12, 18))
USD_FUT = SimInstrument("CDS:USDINR29DEC26FUT", "FUT", D("0.0025"), 1000, D(0), 0.04, USDINR.key, EXPIRY)
STOCK_FUT = SimInstrument("NFO:SBIN29DEC26FUT", "FUT", D("0.05"), 750, D(0), 0.24, SBIN.key, EXPIRY)


def option(strike: int, kind: OptionType, expiry: date = EXPIRY) -> SimInstrument:
    code = expiry.strftime("%d%b%y").upper()
    return SimInstrument(f"NFO:NIFTY{code}{strike}{kind}", "OPT", D("0.05"), 65, D(0), 0.13, NIFTY.key, expiry,
                         D(strike), kind)


CALL, PUT = option(26000, OptionType.CE), option(26000, OptionType.PE)
FAR_CALL = option(40000, OptionType.CE)
INSTRUMENTS = {i.key: i for i in (NIFTY, SBIN, ETERNAL, VIX, CRUDE, USDINR, FUT, CRUDE_FUT, USD_FUT, STOCK_FUT,
                                  CALL, PUT, FAR_CALL,
                                  option(25500, OptionType.CE), option(26500, OptionType.PE),
                                  option(25000, OptionType.CE, date(2026, 11, 24)))}
TRADED = [SBIN.key, FUT.key, CRUDE_FUT.key, USD_FUT.key, STOCK_FUT.key, CALL.key, PUT.key]
NOON = datetime(2026, 11, 24, 12, 0, 7, tzinfo=IST)


def market(seed: int = 7) -> SimulatedMarket:
    return SimulatedMarket(seed, INSTRUMENTS.get)


def moments(count: int, start: datetime = NOON, step: timedelta = timedelta(minutes=37, seconds=11)):
    return [start + step * i for i in range(count)]


def test_the_same_seed_gives_the_same_prices_in_fresh_markets():
    for key in INSTRUMENTS:
        assert market().quote(key, NOON) == market().quote(key, NOON)
    assert market().depth(SBIN.key, NOON) == market().depth(SBIN.key, NOON)
    day = NOON.replace(hour=0, minute=0, second=0)
    assert market().candles(CALL.key, 300, day, NOON) == market().candles(CALL.key, 300, day, NOON)


def test_another_process_computes_the_same_price():
    script = ("from datetime import datetime; from decimal import Decimal as D;"
              "from brokers.sandbox.market import IST, SimInstrument, SimulatedMarket;"
              "i = SimInstrument('NSE:SBIN', 'EQ', D('0.05'), 1, D(980), 0.24);"
              "at = datetime(2026, 11, 24, 12, 0, 7, tzinfo=IST);"
              "print(SimulatedMarket(7, {i.key: i}.get).quote(i.key, at).ltp)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert D(done.stdout.strip()) == market().quote(SBIN.key, NOON).ltp


def test_a_different_seed_gives_different_prices():
    for key in (SBIN.key, NIFTY.key, CALL.key):
        assert [market(7).quote(key, t).ltp for t in moments(5)] != [market(8).quote(key, t).ltp for t in moments(5)]


def test_unknown_keys_have_no_quote_depth_or_candles():
    assert market().quote("NSE:NOPE", NOON) is None
    assert market().depth("NSE:NOPE", NOON) is None
    assert market().candles("NSE:NOPE", 60, NOON - timedelta(hours=1), NOON) == []


def test_times_must_be_aware_and_intervals_must_divide_a_day():
    with pytest.raises(ValueError, match="aware"):
        market().quote(SBIN.key, NOON.replace(tzinfo=None))
    with pytest.raises(ValueError, match="divide a day"):
        market().candles(SBIN.key, 7 * 60, NOON - timedelta(hours=1), NOON)


@pytest.mark.parametrize("key", INSTRUMENTS)
def test_every_price_is_on_tick(key):
    m, tick = market(), INSTRUMENTS[key].tick_size
    for at in moments(12):
        q = m.quote(key, at)
        for price in (q.ltp, q.open, q.high, q.low, q.prev_close, q.bid, q.ask):
            assert price >= 0 and price % tick == 0
        assert q.low <= q.ltp <= q.high and q.low <= q.open <= q.high
        assert q.timestamp == at


@pytest.mark.parametrize("key", TRADED)
def test_the_book_brackets_the_last_price_and_depth_steps_away_from_it(key):
    m, inst = market(), INSTRUMENTS[key]
    for at in moments(8, start=NOON - timedelta(days=30)):
        q, book = m.quote(key, at), m.depth(key, at)
        assert q.bid <= q.ltp < q.ask and q.bid < q.ask
        assert book.quote == q and book.bids[0].price == q.bid and book.asks[0].price == q.ask
        assert len(book.bids) == len(book.asks) == 5
        bids, asks = [b.price for b in book.bids], [a.price for a in book.asks]
        assert bids == sorted(bids, reverse=True) and len(set(bids)) == 5
        assert asks == sorted(asks) and len(set(asks)) == 5
        for level in (*book.bids, *book.asks):
            assert level.quantity > 0 and level.quantity % inst.lot_size == 0 and 1 <= level.orders <= 12
        assert book.total_buy_qty >= sum(b.quantity for b in book.bids)
        assert book.total_sell_qty >= sum(a.quantity for a in book.asks)
        assert q.volume % inst.lot_size == 0 and q.ltq % inst.lot_size == 0 and q.ltq > 0


def test_depth_can_show_more_levels_and_pads_below_a_tick():
    m = market()
    assert len(m.depth(SBIN.key, NOON, levels=20).bids) == 20
    book = m.depth(FAR_CALL.key, NOON)
    assert book.quote.ltp == book.quote.bid == FAR_CALL.tick_size  # worthless but never below a tick
    assert book.bids[0].quantity > 0
    assert all(level.price == 0 and level.quantity == 0 for level in book.bids[1:])
    assert all(level.price > 0 for level in book.asks)


def test_indices_have_no_book_or_volume():
    q, book = market().quote(NIFTY.key, NOON), market().depth(NIFTY.key, NOON)
    assert q.bid == q.ask == 0 and q.volume == 0 and q.oi == 0
    assert all(level.price == 0 and level.quantity == 0 for level in (*book.bids, *book.asks))


def test_cash_has_no_open_interest_and_derivatives_do():
    m = market()
    assert m.quote(SBIN.key, NOON).oi == 0
    for key in (FUT.key, CALL.key, STOCK_FUT.key):
        oi = m.quote(key, NOON).oi
        assert oi > 0 and oi % INSTRUMENTS[key].lot_size == 0


def test_prices_move_a_little_each_second():
    m = market()
    prices = [m.quote(SBIN.key, NOON + timedelta(seconds=s)).ltp for s in range(300)]
    assert len(set(prices)) > 8
    assert max(abs(a - b) / a for a, b in pairwise(prices)) < D("0.003")


def test_volume_accumulates_through_the_day():
    m = market()
    volumes = [m.quote(key, t).volume for key in (SBIN.key, CALL.key) for t in moments(10, NOON.replace(hour=0))]
    for series in (volumes[:10], volumes[10:]):
        assert series == sorted(series) and series[-1] > 0


def bars(m: SimulatedMarket, key: str, interval: int, start: datetime, count: int):
    found = m.candles(key, interval, start, start + timedelta(seconds=interval * count - 1))
    assert len(found) == count
    return found


@pytest.mark.parametrize(("small", "large"), [(60, 300), (1, 60), (5, 15), (3600, 86400), (900, 3600)])
@pytest.mark.parametrize("key", [SBIN.key, NIFTY.key, CRUDE.key])
def test_small_bars_aggregate_exactly_into_large_bars(key, small, large):
    m = market()
    start = datetime(2026, 11, 23, tzinfo=IST) + timedelta(seconds=large * 7 if large < 86400 else 0)
    pieces, whole = bars(m, key, small, start, large // small), bars(m, key, large, start, 1)[0]
    assert whole.timestamp == pieces[0].timestamp == int(start.timestamp())
    assert whole.open == pieces[0].open and whole.close == pieces[-1].close
    assert whole.high == max(p.high for p in pieces) and whole.low == min(p.low for p in pieces)
    assert whole.volume == sum(p.volume for p in pieces)
    assert [b.timestamp for b in pieces] == list(range(pieces[0].timestamp, pieces[0].timestamp + large, small))


def test_five_one_minute_bars_make_the_five_minute_bar_of_a_future():
    m = market()
    start = datetime(2026, 11, 24, 10, 0, tzinfo=IST)
    pieces, whole = bars(m, FUT.key, 60, start, 5), bars(m, FUT.key, 300, start, 1)[0]
    assert (whole.open, whole.close) == (pieces[0].open, pieces[-1].close)
    assert whole.volume == sum(p.volume for p in pieces)
    assert whole.high >= max(p.high for p in pieces) - 2 * FUT.tick_size


@pytest.mark.parametrize("key", [SBIN.key, NIFTY.key, FUT.key, CALL.key, PUT.key, USD_FUT.key])
@pytest.mark.parametrize("interval", [1, 60, 300, 3600, 86400])
def test_the_last_bar_closes_at_the_quote_and_todays_bars_add_up_to_its_volume(key, interval):
    m = market()
    end = NOON + timedelta(seconds=interval // 3)
    today = m.candles(key, interval, end.replace(hour=0, minute=0, second=0), end)
    q = m.quote(key, end)
    assert today[-1].close == q.ltp
    assert sum(bar.volume for bar in today) == q.volume
    assert max(bar.high for bar in today) >= q.ltp >= min(bar.low for bar in today)
    if INSTRUMENTS[key].kind in ("EQ", "INDEX"):
        assert (max(b.high for b in today), min(b.low for b in today), today[0].open) == (q.high, q.low, q.open)


def test_daily_bars_are_ist_days_and_open_at_the_quotes_open():
    m = market()
    days = m.candles(SBIN.key, 86400, NOON - timedelta(days=10), NOON)
    assert len(days) == 11
    for bar in days:
        assert datetime.fromtimestamp(bar.timestamp, IST).time() == datetime.min.time()
        opened = m.quote(SBIN.key, datetime.fromtimestamp(bar.timestamp, IST))
        assert opened.open == opened.ltp == bar.open
    for before, after in pairwise(days):
        closing = m.quote(SBIN.key, datetime.fromtimestamp(after.timestamp - 1, IST))
        assert closing.ltp == before.close == m.quote(SBIN.key, datetime.fromtimestamp(after.timestamp, IST)).prev_close


def test_a_futures_trades_above_its_spot_by_the_carry():
    m = market()
    for at in moments(10):
        spot, fut = m.quote(NIFTY.key, at).ltp, m.quote(FUT.key, at).ltp
        years = (datetime(2026, 12, 29, 15, 30, tzinfo=IST) - at).total_seconds() / (365 * 86400)
        assert fut > spot
        assert float(fut) == pytest.approx(float(spot) * math.exp(RISK_FREE_RATE * years), abs=0.1)


def test_call_prices_rise_with_the_spot_and_puts_fall():
    m = market()
    seen = [(m.quote(NIFTY.key, t).ltp, m.quote(CALL.key, t).ltp, m.quote(PUT.key, t).ltp)
            for t in moments(120, NOON, timedelta(seconds=7))]
    for spot_a, call_a, put_a in seen:
        for spot_b, call_b, put_b in seen:
            if spot_b - spot_a >= 1:
                assert call_b >= call_a and put_b <= put_a


def test_put_call_parity_holds_on_the_simulated_chain():
    m = market()
    for at in moments(10):
        spot, call, put = (m.quote(key, at).ltp for key in (NIFTY.key, CALL.key, PUT.key))
        years = (datetime(2026, 12, 29, 15, 30, tzinfo=IST) - at).total_seconds() / (365 * 86400)
        parity = float(spot) - 26000 * math.exp(-RISK_FREE_RATE * years)
        assert float(call - put) == pytest.approx(parity, abs=0.2)  # three roundings to 0.05


def test_an_expired_option_is_frozen_at_its_payoff_with_an_empty_book():
    m, weekly = market(), option(25000, OptionType.CE, date(2026, 11, 24))
    cutoff = datetime(2026, 11, 24, 15, 30, tzinfo=IST)
    settled = m.quote(weekly.key, cutoff)
    assert settled.ltp == max(0, m.quote(NIFTY.key, cutoff).ltp - 25000)
    for later in (cutoff + timedelta(minutes=5), cutoff + timedelta(days=3)):
        q = m.quote(weekly.key, later)
        assert q.ltp == settled.ltp and q.bid == q.ask == 0 and q.volume == settled.volume
        assert all(level.quantity == 0 for level in m.depth(weekly.key, later).bids)
    history = m.candles(weekly.key, 3600, cutoff - timedelta(hours=2), cutoff + timedelta(days=1))
    assert history[-1].timestamp < cutoff.timestamp() and history[-1].close == settled.ltp
    live = m.quote(weekly.key, cutoff - timedelta(hours=1))
    assert live.bid > 0 and live.ltp >= weekly.tick_size


@pytest.mark.parametrize("inst", [SBIN, ETERNAL, VIX, NIFTY, CRUDE, USDINR], ids=lambda i: i.key)
def test_prices_stay_near_their_reference_for_years(inst):
    days = market().candles(inst.key, 86400, datetime(2025, 1, 1, tzinfo=IST), datetime(2026, 12, 31, tzinfo=IST))
    assert len(days) == 730
    low, high = min(d.low for d in days) / inst.ref_price, max(d.high for d in days) / inst.ref_price
    assert D("0.3") <= low and high <= D(3)
    assert len({d.close for d in days}) > 100  # and they do move
    returns = [math.log(b.close / a.close) for a, b in pairwise(days)]
    realised = math.sqrt(sum(r * r for r in returns) / len(returns) * 252)
    assert 0.6 * inst.annual_vol < realised < 1.6 * inst.annual_vol


def test_prices_sit_at_their_reference_around_the_pin_date():
    m = market()
    for inst in (SBIN, NIFTY, CRUDE):
        ltp = m.quote(inst.key, datetime(2026, 1, 1, 12, tzinfo=IST)).ltp
        assert abs(ltp / inst.ref_price - 1) < D("0.05")
