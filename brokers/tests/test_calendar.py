"""The exchange calendar: holidays, sessions and the §10.4/§10.5 shapes."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from brokers import calendar
from brokers.calendar import CalendarUnavailable
from brokers.enums import Exchange

IST = ZoneInfo("Asia/Kolkata")


def ist(day: date, hours: int, minutes: int = 0, seconds: int = 0) -> datetime:
    return datetime.combine(day, time(hours, minutes, seconds), IST)


def ms(day: date, hours: int, minutes: int = 0, seconds: int = 0) -> int:
    return int(ist(day, hours, minutes, seconds).timestamp()) * 1000


ORDINARY_DAY = date(2026, 12, 3)  # a Thursday, US standard time
SUMMER_DAY = date(2026, 7, 8)  # a Wednesday, US daylight-saving time
REPUBLIC_DAY = date(2026, 1, 26)
HOLI = date(2026, 3, 3)


def test_calendar_has_this_year_and_next():
    assert calendar.known_years() == [2026, 2027]
    assert not calendar.is_provisional(2026)
    assert calendar.is_provisional(2027)


def test_republic_day_is_closed_everywhere_but_crypto():
    for exchange in ("NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX", "NCO", "NCDEX", Exchange.NSE_INDEX):
        assert calendar.is_holiday(exchange, REPUBLIC_DAY)
        assert not calendar.is_trading_day(exchange, REPUBLIC_DAY)
        assert calendar.session_bounds(exchange, REPUBLIC_DAY) is None
    assert calendar.is_trading_day("CRYPTO", REPUBLIC_DAY)
    assert not calendar.is_holiday("CRYPTO", REPUBLIC_DAY)


def test_a_weekend_is_not_a_trading_day_nor_a_holiday():
    saturday = date(2026, 12, 5)
    assert not calendar.is_trading_day("NSE", saturday)
    assert not calendar.is_holiday("NSE", saturday)
    assert calendar.session_bounds("MCX", saturday) is None
    assert calendar.is_trading_day("CRYPTO", saturday)


def test_session_bounds_of_an_ordinary_day():
    assert calendar.session_bounds("NSE", ORDINARY_DAY) == (ist(ORDINARY_DAY, 9, 15), ist(ORDINARY_DAY, 15, 30))
    assert calendar.session_bounds("NFO", ORDINARY_DAY) == (ist(ORDINARY_DAY, 9, 15), ist(ORDINARY_DAY, 15, 30))
    assert calendar.session_bounds("NSE_INDEX", ORDINARY_DAY) == calendar.session_bounds("NSE", ORDINARY_DAY)
    assert calendar.session_bounds("CDS", ORDINARY_DAY) == (ist(ORDINARY_DAY, 9), ist(ORDINARY_DAY, 17))
    assert calendar.session_bounds("NCDEX", ORDINARY_DAY) == (ist(ORDINARY_DAY, 9), ist(ORDINARY_DAY, 17))
    start, _ = calendar.session_bounds("NSE", ORDINARY_DAY)
    assert start.utcoffset().total_seconds() == 5.5 * 3600


def test_mcx_closes_earlier_while_the_us_is_on_daylight_saving_time():
    assert calendar.session_bounds("MCX", ORDINARY_DAY)[1] == ist(ORDINARY_DAY, 23, 55)
    assert calendar.session_bounds("MCX", SUMMER_DAY)[1] == ist(SUMMER_DAY, 23, 30)
    assert calendar.session_bounds("NCO", SUMMER_DAY)[1] == ist(SUMMER_DAY, 23, 30)


def test_mcx_trades_only_the_evening_on_an_equity_holiday():
    assert calendar.is_holiday("NSE", HOLI) and calendar.is_holiday("MCX", HOLI)
    assert not calendar.is_trading_day("NSE", HOLI)
    assert calendar.is_trading_day("MCX", HOLI)
    assert calendar.session_bounds("MCX", HOLI) == (ist(HOLI, 17), ist(HOLI, 23, 55))
    ram_navami = date(2026, 3, 26)  # after the US moved its clocks on 8 March
    assert calendar.session_bounds("MCX", ram_navami) == (ist(ram_navami, 17), ist(ram_navami, 23, 30))
    assert not calendar.is_open("MCX", ist(HOLI, 10))
    assert calendar.is_open("MCX", ist(HOLI, 18))


def test_currency_closes_alone_on_a_bank_holiday():
    day = date(2026, 2, 19)
    assert calendar.is_trading_day("NSE", day)
    assert not calendar.is_trading_day("CDS", day)
    assert not calendar.is_trading_day("BCD", day)


def test_is_open_follows_the_session():
    assert calendar.is_open("NSE", ist(ORDINARY_DAY, 9, 15))
    assert calendar.is_open("NSE", ist(ORDINARY_DAY, 15, 29, 59))
    assert not calendar.is_open("NSE", ist(ORDINARY_DAY, 15, 30))
    assert not calendar.is_open("NSE", ist(ORDINARY_DAY, 9, 14))
    assert calendar.is_open("NSE", datetime(2026, 12, 3, 5, tzinfo=ZoneInfo("UTC")))  # 10:30 IST
    assert calendar.is_open("CRYPTO", ist(date(2026, 12, 6), 23, 59, 59))
    with pytest.raises(ValueError):
        calendar.is_open("NSE", datetime(2026, 12, 3, 10))


def test_previous_trading_day_skips_a_holiday_and_a_weekend():
    # Tuesday 27 Jan 2026 <- Monday 26 Jan (Republic Day) <- the weekend <- Friday 23 Jan.
    assert calendar.previous_trading_day("NSE", date(2026, 1, 27)) == date(2026, 1, 23)
    assert calendar.next_trading_day("NSE", date(2026, 1, 23)) == date(2026, 1, 27)
    assert calendar.previous_trading_day("NSE", date(2026, 12, 7)) == date(2026, 12, 4)
    # Good Friday and the weekend: Thursday 2 Apr -> Monday 6 Apr.
    assert calendar.next_trading_day("MCX", date(2026, 4, 2)) == date(2026, 4, 6)
    # Across the year end into 2027.
    assert calendar.next_trading_day("NSE", date(2026, 12, 31)) == date(2027, 1, 1)


def test_muhurat_is_a_special_session_not_a_trading_day():
    diwali = date(2026, 11, 8)
    assert not calendar.is_trading_day("NSE", diwali)
    start, end = calendar.session_bounds("NSE", diwali)
    assert start < end and start.date() == diwali
    assert calendar.session_bounds("NCDEX", diwali) is None
    weekday_diwali = date(2027, 10, 28)
    assert calendar.is_holiday("NSE", weekday_diwali) and not calendar.is_trading_day("BFO", weekday_diwali)
    assert calendar.previous_trading_day("BFO", date(2027, 10, 29)) == date(2027, 10, 27)


def test_timings_of_an_ordinary_day_list_every_exchange_in_spec_order():
    rows = calendar.timings(ORDINARY_DAY)
    assert [row["exchange"] for row in rows] == ["NSE", "BSE", "NFO", "BFO", "MCX", "BCD", "CDS", "NCO", "CRYPTO"]
    by = {row["exchange"]: (row["start_time"], row["end_time"]) for row in rows}
    assert by["NSE"] == (ms(ORDINARY_DAY, 9, 15), ms(ORDINARY_DAY, 15, 30))
    assert by["NFO"] == (ms(ORDINARY_DAY, 9, 15), ms(ORDINARY_DAY, 15, 40))
    assert by["MCX"] == (ms(ORDINARY_DAY, 9), ms(ORDINARY_DAY, 23, 55))
    assert by["CDS"] == (ms(ORDINARY_DAY, 9), ms(ORDINARY_DAY, 17))
    assert by["CRYPTO"] == (ms(ORDINARY_DAY, 0), ms(ORDINARY_DAY, 23, 59, 59))
    assert all(isinstance(value, int) for row in rows for value in (row["start_time"], row["end_time"]))


def test_epochs_are_ist_wall_clock_as_in_the_spec_example():
    # §10.5's example: NSE on 2025-12-19 is 1766115900000..1766138400000.
    assert (ms(date(2025, 12, 19), 9, 15), ms(date(2025, 12, 19), 15, 30)) == (1766115900000, 1766138400000)
    nse = calendar.timings(date(2026, 12, 18))[0]
    assert (nse["start_time"], nse["end_time"]) == (ms(date(2026, 12, 18), 9, 15), ms(date(2026, 12, 18), 15, 30))


def test_timings_are_empty_on_a_full_holiday_and_crypto_only_on_a_weekend():
    assert calendar.timings(REPUBLIC_DAY) == []
    assert [row["exchange"] for row in calendar.timings(date(2026, 12, 5))] == ["CRYPTO"]


def test_timings_on_holi_list_only_the_commodity_evening_sessions():
    rows = calendar.timings(HOLI)
    assert rows == [
        {"exchange": "MCX", "start_time": ms(HOLI, 17), "end_time": ms(HOLI, 23, 55)},
        {"exchange": "NCO", "start_time": ms(HOLI, 17), "end_time": ms(HOLI, 23, 55)},
    ]


def test_timings_on_a_special_session_list_only_it():
    rows = calendar.timings(date(2026, 11, 8))
    assert rows and "CRYPTO" not in {row["exchange"] for row in rows}
    assert {row["exchange"] for row in rows} >= {"NSE", "BSE", "NFO", "BFO", "MCX"}


def test_holidays_have_the_spec_shape():
    rows = calendar.holidays(2026)
    assert [row["date"] for row in rows] == sorted(row["date"] for row in rows)
    for row in rows:
        assert set(row) == {"date", "description", "holiday_type", "closed_exchanges", "open_exchanges"}
        assert row["holiday_type"] in ("TRADING_HOLIDAY", "SETTLEMENT_HOLIDAY", "SPECIAL_SESSION")
        date.fromisoformat(row["date"])
        for session in row["open_exchanges"]:
            assert set(session) == {"exchange", "start_time", "end_time"}
            assert session["start_time"] < session["end_time"]
    by_date = {row["date"]: row for row in rows}
    republic = by_date["2026-01-26"]
    assert republic["description"] == "Republic Day"
    assert republic["holiday_type"] == "TRADING_HOLIDAY"
    assert republic["closed_exchanges"][:7] == ["NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX"]
    assert republic["open_exchanges"] == []
    holi = by_date["2026-03-03"]
    assert holi["closed_exchanges"][:6] == ["NSE", "BSE", "NFO", "BFO", "CDS", "BCD"]
    assert "MCX" not in holi["closed_exchanges"]
    assert holi["open_exchanges"][0] == {"exchange": "MCX", "start_time": ms(HOLI, 17), "end_time": ms(HOLI, 23, 55)}
    assert by_date["2026-11-08"]["holiday_type"] == "SPECIAL_SESSION"


def test_2026_equity_holidays_are_the_published_ones():
    closed = [row["date"] for row in calendar.holidays(2026) if "NSE" in row["closed_exchanges"]]
    assert closed == [
        "2026-01-15", "2026-01-26", "2026-03-03", "2026-03-26", "2026-03-31", "2026-04-03", "2026-04-14",
        "2026-05-01", "2026-05-28", "2026-06-26", "2026-09-14", "2026-10-02", "2026-10-20", "2026-11-10",
        "2026-11-24", "2026-12-25",
    ]


@pytest.mark.parametrize("year", [2026, 2027])
def test_every_data_file_is_consistent(year):
    for row in calendar.holidays(year):
        day = date.fromisoformat(row["date"])
        assert day.year == year
        if row["holiday_type"] != "SPECIAL_SESSION":
            assert day.weekday() < 5, row
        assert not set(row["closed_exchanges"]) & {s["exchange"] for s in row["open_exchanges"]}


def test_years_without_data_are_unavailable():
    assert issubclass(CalendarUnavailable, LookupError)
    with pytest.raises(CalendarUnavailable, match="2031"):
        calendar.holidays(2031)
    with pytest.raises(CalendarUnavailable):
        calendar.timings(date(2031, 3, 4))
    with pytest.raises(CalendarUnavailable):
        calendar.is_trading_day("NSE", date(2031, 3, 4))
    with pytest.raises(CalendarUnavailable):
        calendar.previous_trading_day("NSE", date(2026, 1, 1))
    assert calendar.is_trading_day("CRYPTO", date(2031, 3, 4))
