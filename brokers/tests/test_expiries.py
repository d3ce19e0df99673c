"""The sandbox's expiry rules: weekly and monthly cycles, holidays, roll-forward."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brokers import calendar
from brokers.enums import Exchange
from brokers.sandbox import expiries
from brokers.sandbox.expiries import NoExpiryRule, future_expiries, is_monthly_expiry, option_expiries, rule_for

TUESDAY, THURSDAY, FRIDAY = 1, 3, 4


def test_nifty_lists_weekly_tuesdays():
    assert option_expiries("NIFTY", "NFO", date(2026, 1, 5), 5) == [
        date(2026, 1, 6), date(2026, 1, 13), date(2026, 1, 20), date(2026, 1, 27), date(2026, 2, 3)]


def test_an_expiry_today_is_still_listed():
    assert option_expiries("NIFTY", "NFO", date(2026, 1, 6), 1) == [date(2026, 1, 6)]
    assert option_expiries("NIFTY", "NFO", date(2026, 1, 7), 1) == [date(2026, 1, 13)]


def test_banknifty_is_monthly_on_the_last_tuesday():
    assert option_expiries("BANKNIFTY", "NFO", date(2026, 5, 1)) == [
        date(2026, 5, 26), date(2026, 6, 30), date(2026, 7, 28)]
    for name in ("FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50", "RELIANCE"):
        assert option_expiries(name, "NFO", date(2026, 5, 1), 1) == [date(2026, 5, 26)]


def test_a_tuesday_holiday_moves_the_expiry_to_monday():
    # Holi, Tuesday 3 Mar 2026, and Mahavir Jayanti, Tuesday 31 Mar 2026 (the month's last Tuesday).
    assert calendar.is_holiday("NFO", date(2026, 3, 3))
    nifty = option_expiries("NIFTY", "NFO", date(2026, 3, 1), 5)
    assert nifty == [date(2026, 3, 2), date(2026, 3, 10), date(2026, 3, 17), date(2026, 3, 24), date(2026, 3, 30)]
    assert option_expiries("BANKNIFTY", "NFO", date(2026, 3, 1), 1) == [date(2026, 3, 30)]
    assert future_expiries("NIFTY", "NFO", date(2026, 3, 1), 1) == [date(2026, 3, 30)]


def test_every_weekly_expiry_in_2026_falls_on_a_trading_day_before_or_on_its_tuesday():
    for expiry in option_expiries("NIFTY", "NFO", date(2026, 1, 1), 52):
        assert calendar.is_trading_day("NFO", expiry)
        assert expiry.weekday() <= TUESDAY


def test_sensex_expires_on_thursdays_and_the_election_holiday_moved_it():
    sensex = option_expiries("SENSEX", "BFO", date(2026, 1, 5), 4)
    assert sensex == [date(2026, 1, 8), date(2026, 1, 14), date(2026, 1, 22), date(2026, 1, 29)]
    assert all(day.weekday() == THURSDAY for day in sensex if day != date(2026, 1, 14))
    assert option_expiries("BANKEX", "BFO", date(2026, 1, 5)) == [date(2026, 1, 29), date(2026, 2, 26),
                                                                  date(2026, 3, 25)]  # 26 Mar: Ram Navami
    assert future_expiries("TCS", "BFO", date(2026, 1, 5), 1) == [date(2026, 1, 29)]


def test_monthly_rolls_forward_once_the_last_tuesday_has_passed():
    assert future_expiries("NIFTY", "NFO", date(2026, 4, 28)) == [date(2026, 4, 28), date(2026, 5, 26),
                                                                  date(2026, 6, 30)]
    assert future_expiries("NIFTY", "NFO", date(2026, 4, 29)) == [date(2026, 5, 26), date(2026, 6, 30),
                                                                  date(2026, 7, 28)]
    assert option_expiries("BANKNIFTY", "NFO", date(2026, 4, 29), 1) == [date(2026, 5, 26)]


def test_futures_list_three_by_default_and_cross_into_a_year_without_data():
    futures = future_expiries("NIFTY", "NFO", date(2027, 11, 1))
    assert len(futures) == 3
    assert futures[0] == date(2027, 11, 30)
    assert futures[2] == date(2028, 1, 25)  # no 2028 calendar: weekdays only


def test_weekly_and_monthly_merge_without_duplicates():
    listed = option_expiries("NIFTY", "NFO", date(2026, 6, 1), 12)
    assert listed == sorted(set(listed)) and len(listed) == 12
    assert date(2026, 6, 30) in listed and is_monthly_expiry("NIFTY", "NFO", date(2026, 6, 30))
    assert not is_monthly_expiry("NIFTY", "NFO", date(2026, 6, 23))
    assert is_monthly_expiry("NIFTY", Exchange.NFO, date(2026, 3, 30))


def test_default_counts_follow_the_rule():
    assert len(option_expiries("NIFTY", "NFO", date(2026, 6, 1))) == rule_for("NIFTY", "NFO").options_listed
    assert len(option_expiries("SBIN", "NFO", date(2026, 6, 1))) == 3


def test_crude_follows_the_nymex_calendar():
    crude = rule_for("CRUDEOIL", "MCX")
    published_2026 = [date(2026, 1, 16), date(2026, 2, 19), date(2026, 3, 19), date(2026, 4, 20),
                      date(2026, 5, 18), date(2026, 6, 18), date(2026, 7, 20), date(2026, 8, 19),
                      date(2026, 9, 21), date(2026, 10, 19), date(2026, 11, 19), date(2026, 12, 18)]
    assert [expiries.monthly_expiry(crude, 2026, month) for month in range(1, 13)] == published_2026
    assert future_expiries("CRUDEOILM", "MCX", date(2026, 5, 19), 1) == [date(2026, 6, 18)]
    # Options: two MCX business days before the future.
    assert option_expiries("CRUDEOIL", "MCX", date(2026, 1, 1), 2) == [date(2026, 1, 14), date(2026, 2, 17)]


def test_bullion_and_base_metals():
    # GOLD: even months on the 5th; 5 Apr 2026 is a Sunday and 3 Apr Good Friday.
    assert future_expiries("GOLD", "MCX", date(2026, 1, 1)) == [date(2026, 2, 5), date(2026, 4, 2), date(2026, 6, 5)]
    assert future_expiries("GOLDM", "MCX", date(2026, 6, 6), 2) == [date(2026, 7, 3), date(2026, 8, 5)]
    assert future_expiries("SILVERM", "MCX", date(2026, 1, 1), 2) == [date(2026, 2, 27), date(2026, 4, 30)]
    assert future_expiries("COPPER", "MCX", date(2026, 11, 1), 2) == [date(2026, 11, 30), date(2026, 12, 31)]
    gold_options = option_expiries("GOLD", "MCX", date(2026, 1, 1))
    assert all(option < future for option, future in zip(gold_options, future_expiries("GOLD", "MCX",
                                                                                        date(2026, 1, 1))))


def test_currency_futures_expire_two_working_days_before_month_end():
    assert future_expiries("USDINR", "CDS", date(2026, 11, 1)) == [date(2026, 11, 26), date(2026, 12, 29),
                                                                   date(2027, 1, 27)]
    assert future_expiries("EURINR", "BCD", date(2026, 11, 1), 1) == [date(2026, 11, 26)]


def test_usdinr_weekly_options_are_fridays_except_the_monthly_week():
    listed = option_expiries("USDINR", "CDS", date(2026, 11, 1), 5)
    assert listed == [date(2026, 11, 6), date(2026, 11, 13), date(2026, 11, 20), date(2026, 11, 26),
                      date(2026, 12, 4)]
    assert all(day.weekday() == FRIDAY for day in listed if day != date(2026, 11, 26))
    assert option_expiries("EURINR", "CDS", date(2026, 11, 1), 2) == [date(2026, 11, 26), date(2026, 12, 29)]


def test_unknown_underlyings_need_a_rule():
    with pytest.raises(NoExpiryRule):
        rule_for("ALUMINI", "NCO")
    assert issubclass(NoExpiryRule, LookupError)
    assert option_expiries("ANYAGRI", "NCDEX", date(2026, 6, 1)) == []


def test_us_holidays_include_the_ones_that_move_nymex():
    holidays = expiries.us_holidays(2026)
    assert {date(2026, 1, 19), date(2026, 4, 3), date(2026, 5, 25), date(2026, 6, 19), date(2026, 11, 26),
            date(2026, 12, 25), date(2026, 7, 3)} <= holidays


@given(today=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
       name=st.sampled_from(["NIFTY", "BANKNIFTY", "SENSEX", "RELIANCE", "USDINR", "CRUDEOIL", "GOLD", "ZINC"]),
       count=st.integers(min_value=1, max_value=10))
def test_expiries_are_future_ascending_distinct_business_days(today, name, count):
    exchange = {"SENSEX": "BFO", "USDINR": "CDS", "CRUDEOIL": "MCX", "GOLD": "MCX", "ZINC": "MCX"}.get(name, "NFO")
    for listed in (option_expiries(name, exchange, today, count), future_expiries(name, exchange, today, count)):
        assert len(listed) == count
        assert listed == sorted(set(listed))
        assert listed[0] >= today
        assert all(expiries.is_business_day(Exchange(exchange), day) for day in listed)
    monthly = future_expiries(name, exchange, today, 1)[0]
    assert is_monthly_expiry(name, exchange, monthly)
    assert monthly - today < timedelta(days=75)
