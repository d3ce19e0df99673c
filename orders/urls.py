"""Dashboard pages of the orders app."""

from django.urls import path

from orders import book_views, paper_views, postback_views, trade_views, views

app_name = "orders"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("orders/", book_views.orderbook, name="orderbook"),
    path("orders/cancel/", book_views.cancel_order, name="cancel_order"),
    path("orders/cancel-all/", book_views.cancel_all, name="cancel_all"),
    path("trades/", book_views.tradebook, name="tradebook"),
    path("positions/", book_views.positions, name="positions"),
    path("positions/close/", book_views.close_position, name="close_position"),
    path("positions/close-all/", book_views.close_all, name="close_all"),
    path("holdings/", book_views.holdings, name="holdings"),
    path("risk/", views.risk_page, name="risk"),
    path("risk/kill-switch/", views.kill_switch, name="kill_switch"),
    path("reconciliation/", views.reconciliation_page, name="reconciliation"),
    # Placing orders, the basket, options, the Action Center (orders/trade_views.py).
    path("place/", trade_views.place_order, name="place_order"),
    path("place/search/", trade_views.symbol_search, name="symbol_search"),
    path("orders/<str:orderid>/modify/", trade_views.modify_order, name="modify_order"),
    path("orders/<str:orderid>/cancel/", trade_views.cancel_order, name="cancel_one_order"),
    path("basket/", trade_views.basket, name="basket"),
    path("options/order/", trade_views.options_order, name="options_order"),
    path("options/order/expiries/", trade_views.option_expiries, name="option_expiries"),
    path("action-center/", trade_views.action_center, name="action_center"),
    path("action-center/table/", trade_views.action_center_table, name="action_center_table"),
    path("action-center/approve-all/", trade_views.approve_all, name="approve_all"),
    path("action-center/mode/", trade_views.order_mode, name="order_mode"),
    path("action-center/<int:pending_id>/approve/", trade_views.decide_pending, {"decision": "approve"},
         name="approve_pending"),
    path("action-center/<int:pending_id>/reject/", trade_views.decide_pending, {"decision": "reject"},
         name="reject_pending"),
    path("action-center/<int:pending_id>/delete/", trade_views.decide_pending, {"decision": "delete"},
         name="delete_pending"),
    path("sandbox/", paper_views.sandbox_page, name="sandbox"),
    path("sandbox/analyze-mode/", paper_views.analyze_toggle, name="sandbox_toggle"),
    path("sandbox/settings/", paper_views.sandbox_settings, name="sandbox_settings"),
    path("sandbox/reset/", paper_views.sandbox_reset, name="sandbox_reset"),
    path("sandbox/pnl/", paper_views.mypnl_page, name="mypnl"),
    path("analyzer/", paper_views.analyzer_page, name="analyzer"),
    # Where brokers that post order updates back are told to call (no trailing slash, as they register it).
    path("broker/<slug:broker>/postback", postback_views.broker_postback, name="broker_postback"),
]
