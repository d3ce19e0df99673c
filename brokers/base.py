"""The broker contract: what every adapter implements, in the domain's own types.

Everything above ``brokers/`` speaks these dataclasses and OpenAlgo symbols; an adapter
turns them into its broker's calls and back. Prices and quantities are ``Decimal``;
times are aware datetimes (UTC inside, IST only at the JSON edge)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, cast, runtime_checkable

from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from core.errors import ServiceError

# --- Requests --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order as the trader asked for it (spec §5 OrderFields), already validated."""

    symbol: str
    exchange: Exchange
    action: Action
    quantity: Decimal
    product: Product = Product.MIS
    pricetype: PriceType = PriceType.MARKET
    price: Decimal = Decimal(0)
    trigger_price: Decimal = Decimal(0)
    disclosed_quantity: int = 0
    strategy: str = ""
    # Our reference for this order (the ledger row, "oa<id>"), sent as the broker's order
    # tag where it has one, so an order whose answer was lost can be found in its book.
    tag: str = ""


@dataclass(frozen=True, slots=True)
class ModifyRequest:
    """A change to a working order (spec §5.5): quantity, type and prices may change."""

    orderid: str
    symbol: str
    exchange: Exchange
    action: Action
    product: Product
    pricetype: PriceType
    quantity: Decimal
    price: Decimal
    trigger_price: Decimal
    disclosed_quantity: int = 0
    strategy: str = ""


@dataclass(frozen=True, slots=True)
class MarginLeg:
    symbol: str
    exchange: Exchange
    action: Action
    product: Product
    pricetype: PriceType
    quantity: Decimal
    price: Decimal = Decimal(0)
    trigger_price: Decimal = Decimal(0)


# --- Results ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """The broker accepted the order. ``status`` is known when the broker says it at once
    (the sandbox does); live brokers usually leave it to the order book. ``average_price``
    is the fill price of an order that filled at once (0 when not known)."""

    orderid: str
    status: OrderStatus | None = None
    message: str = ""
    average_price: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    orderid: str
    symbol: str
    exchange: Exchange
    action: Action
    quantity: Decimal
    price: Decimal
    trigger_price: Decimal
    pricetype: PriceType
    product: Product
    status: OrderStatus
    timestamp: datetime
    filled_quantity: Decimal = Decimal(0)
    average_price: Decimal = Decimal(0)
    rejection_reason: str = ""
    strategy: str = ""
    tag: str = ""  # the OrderRequest.tag the broker echoes back

    @property
    def pending_quantity(self) -> Decimal:
        if self.status in (OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING):
            return self.quantity - self.filled_quantity
        return Decimal(0)


@dataclass(frozen=True, slots=True)
class Trade:
    orderid: str
    symbol: str
    exchange: Exchange
    action: Action
    product: Product
    quantity: Decimal
    average_price: Decimal
    timestamp: datetime
    tradeid: str = ""
    strategy: str = ""

    @property
    def trade_value(self) -> Decimal:
        return self.quantity * self.average_price


@dataclass(frozen=True, slots=True)
class Position:
    """Net position of one (symbol, exchange, product) today; ``quantity`` is signed."""

    symbol: str
    exchange: Exchange
    product: Product
    quantity: Decimal
    average_price: Decimal
    ltp: Decimal
    pnl: Decimal
    realized_pnl: Decimal = Decimal(0)
    unrealized_pnl: Decimal = Decimal(0)
    lot_size: int = 1


@dataclass(frozen=True, slots=True)
class Holding:
    symbol: str
    exchange: Exchange
    quantity: Decimal
    average_price: Decimal
    ltp: Decimal
    product: Product = Product.CNC
    settlement_date: date | None = None

    @property
    def pnl(self) -> Decimal:
        return (self.ltp - self.average_price) * self.quantity

    @property
    def pnl_percent(self) -> Decimal:
        if not self.average_price:
            return Decimal(0)
        return (self.ltp - self.average_price) / self.average_price * 100


@dataclass(frozen=True, slots=True)
class Funds:
    availablecash: Decimal
    collateral: Decimal
    m2mrealized: Decimal
    m2munrealized: Decimal
    utiliseddebits: Decimal
    extra: dict = field(default_factory=dict)  # broker-specific keys, passed through


@dataclass(frozen=True, slots=True)
class MarginResult:
    total_margin_required: Decimal
    span_margin: Decimal | None = None
    exposure_margin: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    ltp: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    prev_close: Decimal
    volume: int
    bid: Decimal
    ask: Decimal
    oi: int = 0
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class DepthLevel:
    price: Decimal
    quantity: int
    orders: int = 0


@dataclass(frozen=True, slots=True)
class Depth:
    bids: tuple[DepthLevel, ...]
    asks: tuple[DepthLevel, ...]
    quote: Quote

    @property
    def total_buy_qty(self) -> int:
        return sum(level.quantity for level in self.bids)

    @property
    def total_sell_qty(self) -> int:
        return sum(level.quantity for level in self.asks)


@dataclass(frozen=True, slots=True)
class Candle:
    timestamp: int  # epoch seconds, bar start
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    oi: int = 0


@dataclass(frozen=True, slots=True)
class InstrumentRow:
    """One master-contract row (spec §4.2) as an adapter delivers it."""

    symbol: str
    brsymbol: str
    name: str
    exchange: Exchange
    brexchange: str
    token: str
    expiry: date | None
    strike: Decimal | None
    lotsize: int
    instrumenttype: str
    tick_size: Decimal
    freeze_qty: int = 1


@dataclass(frozen=True, slots=True)
class UnparsableRow:
    """A master-contract row the adapter could not read: counted and skipped by the loader,
    which logs a sample (one bad row never fails a whole download)."""

    raw: str
    reason: str


# --- Capabilities ------------------------------------------------------------------------------


class LoginKind(StrEnum):
    """How a trader opens a session at the broker."""

    NONE = "none"  # always logged in (the sandbox)
    OAUTH = "oauth"  # redirect to the broker, a callback exchanges the request code for a token
    TOTP = "totp"  # client id, password/PIN and a TOTP code posted to the broker
    TOKEN = "token"  # the trader pastes an access token issued by the broker


class OrderUpdateSource(StrEnum):
    """How the broker tells us an order moved, feeding the one order event."""

    ENGINE = "engine"  # the adapter itself changes the order (the sandbox's fill engine)
    PUSH = "push"  # an order-update socket
    POSTBACK = "postback"  # an HTTP callback to us
    POLL = "poll"  # we poll the order book


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The broker's published limits; 0 means no limit. A token bucket per broker (shared
    across processes through Redis when it is on) enforces them before each call."""

    orders_per_second: int = 0
    orders_per_minute: int = 0
    orders_per_hour: int = 0
    orders_per_day: int = 0
    quotes_per_second: int = 0
    history_per_second: int = 0


AUTOSLICE_CAP = 10


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a broker can do, as data (CCXT's ``has``): callers and the contract suite read
    it, never probe the adapter with ``hasattr``."""

    exchanges: frozenset[Exchange]
    depth_levels: int = 5
    intervals: tuple[str, ...] = ("1m", "3m", "5m", "10m", "15m", "30m", "1h", "D")
    margin_calculator: bool = True
    gtt: bool = False
    modify: bool = True
    cancel_all: bool = False  # one broker call cancels every working order (else one by one)
    order_lookup: bool = True  # ``order(orderid)`` answers without reading the whole book
    # A simulated exchange: answers as OpenAlgo's paper engine does where the contract's
    # texts differ for it (smart-order exit with no position, closeposition's counts).
    paper: bool = False
    login: LoginKind = LoginKind.OAUTH
    order_updates: OrderUpdateSource = OrderUpdateSource.POLL
    market_feed: bool = True  # the package has a stream.py feeding ticks (else data comes by polling quotes)
    # Most instruments one ``quotes`` call takes (the broker's batch quote); 0: none, one by one.
    batch_quotes: int = 0
    # The broker slices an order above the exchange's freeze quantity itself (Kite's
    # ``autoslice``, Upstox's ``slice``); SEBI's 2026 rules cap that at AUTOSLICE_CAP slices.
    autoslice: bool = False
    rate_limits: RateLimits = RateLimits()
    orders_per_second: int = 10
    history_days: int = 365


@dataclass(frozen=True, slots=True)
class BrokerCredentials:
    """A user's decrypted credentials and session for one broker. The caller (accounts)
    reads and decrypts them and passes them in: ``brokers`` never reads another app."""

    broker: str
    client_id: str = ""
    api_key: str = ""
    api_secret: str = ""
    access_token: str = ""
    feed_token: str = ""
    expires_at: datetime | None = None
    # Where an OAuth broker sends the trader back (``/<broker>/callback`` on this platform, as
    # registered in the broker's app console); set by the login pages, empty elsewhere.
    redirect_uri: str = ""


def token_usable(credentials: BrokerCredentials | None) -> bool:
    """Whether ``credentials`` carry a token to send that is not past its expiry: an adapter
    never calls its broker with a stale token (the API answers at once instead)."""
    if credentials is None or not credentials.access_token:
        return False
    return credentials.expires_at is None or credentials.expires_at > datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BrokerSession:
    """What a completed login yields: the tokens to store (encrypted) and when they expire."""

    access_token: str
    expires_at: datetime
    client_id: str = ""
    feed_token: str = ""


# --- Errors, classified once at the edge -------------------------------------------------------


class BrokerError(ServiceError):
    """Base of every broker failure. ``http_status`` is what the API answers (spec §2.6)."""

    http_status = 500


class BrokerRejected(BrokerError):
    """The broker (or the sandbox) refused the request; its text goes back to the trader."""

    http_status = 400


class OrderNotFound(BrokerError):
    http_status = 404


class SymbolNotFound(BrokerError):
    http_status = 400


class BrokerAuthExpired(BrokerError):
    """The broker session is gone (token expired or revoked): log in at the broker again."""

    http_status = 403


class BrokerRateLimited(BrokerError):
    http_status = 429

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after: float | None = retry_after


class BrokerUnavailable(BrokerError):
    """Timeout, connection failure or 5xx: the outcome of a placement is UNKNOWN, never retried."""

    http_status = 500


class CapabilityMissing(BrokerError):
    http_status = 501


class BrokerNotAvailable(BrokerError, LookupError):
    """No package of that name is installed here (the spec's 404 "broker module missing")."""

    http_status = 404


# --- The protocol ------------------------------------------------------------------------------


@runtime_checkable
class BrokerAdapter(Protocol):
    """The contract. One instance serves one user's session; it is cheap to build."""

    name: str
    capabilities: Capabilities

    def session_valid(self) -> bool: ...

    def place_order(self, request: OrderRequest) -> PlacedOrder: ...

    def modify_order(self, request: ModifyRequest) -> PlacedOrder: ...

    def cancel_order(self, orderid: str) -> PlacedOrder: ...

    def order_book(self) -> list[BrokerOrder]: ...

    def order(self, orderid: str) -> BrokerOrder: ...

    def trade_book(self) -> list[Trade]: ...

    def positions(self) -> list[Position]: ...

    def holdings(self) -> list[Holding]: ...

    def funds(self) -> Funds: ...

    def margin(self, legs: Sequence[MarginLeg]) -> MarginResult: ...

    def quote(self, symbol: str, exchange: Exchange) -> Quote: ...

    def depth(self, symbol: str, exchange: Exchange) -> Depth: ...

    def history(self, symbol: str, exchange: Exchange, interval: str, start: date, end: date) -> list[Candle]: ...

    def master_contract(self) -> Iterable[InstrumentRow | UnparsableRow]: ...


class CancelAllAdapter(Protocol):
    """What an adapter whose ``capabilities.cancel_all`` is True offers besides ``BrokerAdapter``."""

    def cancel_all_orders(self) -> tuple[list[str], list[dict[str, str]]]:
        """Cancel every working order in one call: (cancelled ids, failures as {"orderid", "message"})."""
        ...


class BatchQuotesAdapter(Protocol):
    """What an adapter whose ``capabilities.batch_quotes`` is above 0 offers: quotes of up to
    that many instruments in one broker call (multiquotes uses it)."""

    def quotes(self, items: Sequence[tuple[str, Exchange]]) -> dict[tuple[str, Exchange], Quote]:
        """The quote of each item the broker answered for (an item it has no quote for is
        simply absent); one call, raising BrokerError when the call itself fails."""
        ...


def batch_quotes_adapter(adapter: BrokerAdapter) -> BatchQuotesAdapter | None:
    """``adapter`` as a BatchQuotesAdapter if its capabilities say it is one, else None."""
    if adapter.capabilities.batch_quotes <= 0:
        return None
    return cast(BatchQuotesAdapter, adapter)


def cancel_all_adapter(adapter: BrokerAdapter) -> CancelAllAdapter:
    """``adapter`` as a CancelAllAdapter, if its capabilities say it is one."""
    if not adapter.capabilities.cancel_all:
        raise CapabilityMissing(f"Cancelling all orders in one call is not supported for broker '{adapter.name}'")
    # The declared capability is the adapter's word that it has the method (as brokers.gtt.gtt_adapter).
    return cast(CancelAllAdapter, adapter)
