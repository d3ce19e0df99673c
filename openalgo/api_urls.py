"""/api/v1 routes. Every path is served with and without a trailing slash, no redirect."""

from __future__ import annotations

from django.conf import settings
from django.urls import re_path

from accounts.api import PingView
from core.api.views import bare_view
from marketdata import chart_api, data_api, greeks_api, options_api, symbols_api
from orders import account_api, api, gtt_api, pnl_api
from strategies.telegram import api as telegram_api


def endpoint(path: str, view):
    return re_path(rf"^{path}/?$", view.as_view(), name=path.replace("/", "-"))


urlpatterns = [
    endpoint("ping", PingView),
    # §5 orders
    endpoint("placeorder", api.PlaceOrderView),
    endpoint("placesmartorder", api.PlaceSmartOrderView),
    endpoint("basketorder", api.BasketOrderView),
    endpoint("splitorder", api.SplitOrderView),
    endpoint("modifyorder", api.ModifyOrderView),
    endpoint("cancelorder", api.CancelOrderView),
    endpoint("cancelallorder", api.CancelAllOrderView),
    endpoint("closeposition", api.ClosePositionView),
    endpoint("placegttorder", gtt_api.PlaceGttOrderView),
    endpoint("modifygttorder", gtt_api.ModifyGttOrderView),
    endpoint("cancelgttorder", gtt_api.CancelGttOrderView),
    endpoint("gttorderbook", gtt_api.GttOrderBookView),
    # §6 order information and account
    endpoint("orderstatus", account_api.OrderStatusView),
    endpoint("openposition", account_api.OpenPositionView),
    endpoint("orderbook", account_api.OrderBookView),
    endpoint("tradebook", account_api.TradeBookView),
    endpoint("positionbook", account_api.PositionBookView),
    endpoint("holdings", account_api.HoldingsView),
    endpoint("funds", account_api.FundsView),
    endpoint("margin", account_api.MarginView),
    # §7 market data
    endpoint("quotes", data_api.QuotesView),
    endpoint("multiquotes", data_api.MultiQuotesView),
    endpoint("depth", data_api.DepthView),
    endpoint("history", data_api.HistoryView),
    re_path(r"^ticker/(?P<ticker>[^/]+)/?$", data_api.TickerView.as_view(), name="ticker"),
    # §9 options
    endpoint("optionsymbol", options_api.OptionSymbolView),
    endpoint("optionsorder", options_api.OptionsOrderView),
    endpoint("optionsmultiorder", options_api.OptionsMultiOrderView),
    endpoint("optionchain", options_api.OptionChainView),
    endpoint("syntheticfuture", options_api.SyntheticFutureView),
    endpoint("optiongreeks", greeks_api.OptionGreeksView),
    endpoint("multioptiongreeks", greeks_api.MultiOptionGreeksView),
    # §7.5, §8 symbols, §10.4-10.5 calendar
    endpoint("intervals", symbols_api.IntervalsView),
    endpoint("symbol", symbols_api.SymbolView),
    endpoint("search", symbols_api.SearchView),
    endpoint("expiry", symbols_api.ExpiryView),
    endpoint("instruments", symbols_api.InstrumentsView),
    endpoint("market/holidays", symbols_api.HolidaysView),
    endpoint("market/timings", symbols_api.TimingsView),
    # §10.2-10.3 analyzer
    endpoint("analyzer", account_api.AnalyzerView),
    endpoint("analyzer/toggle", account_api.AnalyzerToggleView),
    # §10.9 chart preferences
    endpoint("chart", chart_api.ChartView),
    # §10.8 paper P&L
    endpoint("pnl/symbols", pnl_api.PnlSymbolsView),
    # §10.6 Telegram notifications, §11.1 Telegram's updates (webhook mode)
    endpoint("telegram/notify", telegram_api.TelegramNotifyView),
    endpoint("telegram/webhook", telegram_api.TelegramWebhookView),
]

if settings.BENCH_BARE_VIEW:  # bench/hotpath.py's reference: the server and middleware, no view work
    urlpatterns.append(re_path(r"^bench/bare/?$", bare_view, name="bench-bare"))
