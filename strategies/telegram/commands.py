"""The bot's commands: what a Telegram message asks, and the text that answers it. The
books are read through the same services and presenters as the API (orders.services,
orders.presenters); /mode switches analyze mode through accounts.services, so the web
banner follows."""

from __future__ import annotations

import logging

from accounts import services as account_services
from accounts.models import User
from orders import presenters
from orders import services as order_services
from orders.pnl import day_pnl
from strategies.telegram import services

log = logging.getLogger(__name__)

ROWS = 15  # the longest book a reply lists

HELP = ("OpenAlgo bot commands:\n"
        "/link <code> - link this chat to your OpenAlgo account (code from the Telegram page)\n"
        "/orderbook - today's orders\n/positions - open positions\n/funds - available funds\n"
        "/pnl - today's P&L\n/pause - stop order alerts\n/resume - order alerts again\n"
        "/mode - show the trading mode; /mode analyze or /mode live switches it\n/unlink - unlink this chat")
NOT_LINKED = "This chat is not linked to an OpenAlgo account. Open the Telegram page in OpenAlgo and send /link <code>."
BAD_CODE = "That code is invalid or has expired. Get a new one on the Telegram page of OpenAlgo."


def _money(value: object) -> str:
    return f"{presenters.money(value):,.2f}"  # type: ignore[arg-type]


def _mode_line(user: User) -> str:
    return "Mode: PAPER (analyze mode on)" if user.analyze_mode else "Mode: LIVE"


def orderbook(user: User) -> str:
    adapter = order_services.adapter_for(user)
    book = presenters.order_book(adapter.order_book(), adapter.capabilities.paper)
    orders = book["orders"]
    if not orders:
        return f"📒 Order book\nNo orders today.\n{_mode_line(user)}"
    lines = ["📒 Order book"]
    for row in orders[-ROWS:]:
        price = "MARKET" if row["pricetype"] == "MARKET" else f"{row['pricetype']} {row['price']:.2f}"
        lines.append(f"{row['action']} {row['quantity']} {row['symbol']} ({row['exchange']}) {price} - "
                     f"{row['order_status']} [{row['orderid']}]")
    stats = book["statistics"]
    lines.append(f"Total: {len(orders)} · completed {stats['total_completed_orders']} · open "
                 f"{stats['total_open_orders']} · rejected {stats['total_rejected_orders']}")
    lines.append(_mode_line(user))
    return "\n".join(lines)


def positions(user: User) -> str:
    adapter = order_services.adapter_for(user)
    rows, _totals = presenters.position_book(adapter.positions(), adapter.capabilities.paper)
    open_rows = [r for r in rows if r["quantity"]]
    if not open_rows:
        return f"📊 Positions\nNo open positions.\n{_mode_line(user)}"
    lines = ["📊 Positions"]
    for row in open_rows[:ROWS]:
        lines.append(f"{row['symbol']} ({row['exchange']}) {row['product']}: {row['quantity']} @ "
                     f"{row['average_price']} · LTP {row['ltp']:.2f} · P&L {row['pnl']:,.2f}")
    lines.append(_mode_line(user))
    return "\n".join(lines)


def funds(user: User) -> str:
    data = presenters.funds(order_services.adapter_for(user).funds())
    return "\n".join([
        "💰 Funds",
        f"Available cash: {data['availablecash']}",
        f"Collateral: {data['collateral']}",
        f"Utilised: {data['utiliseddebits']}",
        f"Realised M2M: {data['m2mrealized']}",
        f"Unrealised M2M: {data['m2munrealized']}",
        _mode_line(user),
    ])


def pnl(user: User) -> str:
    held = order_services.adapter_for(user).positions()
    total = day_pnl(held)
    lines = [f"{'📈' if total >= 0 else '📉'} Today's P&L: {_money(total)}"]
    for position in held[:ROWS]:
        if position.pnl:
            lines.append(f"{position.symbol} ({position.exchange}): {_money(position.pnl)}")
    lines.append(_mode_line(user))
    return "\n".join(lines)


def mode(user: User, argument: str) -> str:
    wanted = argument.strip().lower()
    if not wanted:
        return f"{_mode_line(user)}\nSend /mode analyze or /mode live to switch."
    if wanted not in ("analyze", "live"):
        return "Use /mode analyze (paper trading) or /mode live."
    if user.order_mode == User.OrderMode.SEMI_AUTO:
        return "Semi-auto mode: switch analyze mode from the dashboard."
    account_services.set_analyze_mode(user=user, on=wanted == "analyze", actor=f"{user.username} (telegram)")
    return f"Switched. {_mode_line(user)}"


def answer(*, text: str, telegram_user_id: int, chat_id: int, telegram_username: str) -> str | None:
    """The reply to a message's text, or None when it asks nothing of the bot."""
    text = text.strip()
    if not text.startswith("/"):
        return None
    head, _, argument = text.partition(" ")
    command = head[1:].split("@", 1)[0].lower()
    if command == "link":
        if not argument.strip():
            return "Send /link <code>, with the code shown on the Telegram page of OpenAlgo."
        user = services.link(code=argument.strip(), telegram_user_id=telegram_user_id, chat_id=chat_id,
                             telegram_username=telegram_username)
        if user is None:
            return BAD_CODE
        return f"✅ Linked to OpenAlgo account {user.username}. You will get order alerts here.\n\n{HELP}"
    if command in ("start", "help"):
        return HELP
    link = services.link_by_telegram_user(telegram_user_id)
    if link is None:
        return NOT_LINKED
    user = link.user
    if command == "unlink":
        services.unlink(user=user, actor=f"{user.username} (telegram)")
        return "This chat is no longer linked to OpenAlgo."
    if command == "pause":
        services.set_paused(link=link, paused=True)
        return "⏸ Order alerts paused. Send /resume to get them again."
    if command == "resume":
        services.set_paused(link=link, paused=False)
        return "▶️ Order alerts resumed."
    if command == "mode":
        return mode(user, argument)
    readers = {"orderbook": orderbook, "positions": positions, "funds": funds, "pnl": pnl}
    if command in readers:
        try:
            return readers[command](user)
        except Exception as exc:  # a broker outage: say so rather than stay silent
            log.warning("Telegram /%s for %s failed: %s", command, user.username, exc)
            return f"Could not read your {command} now: {getattr(exc, 'message', None) or type(exc).__name__}."
    return f"Unknown command /{command}.\n\n{HELP}"
