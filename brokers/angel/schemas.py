"""The shapes of Angel One SmartAPI payloads, as its documentation shows them. Numbers
often arrive as strings ("netqty": "10"), so the numeric fields are typed loosely."""

from __future__ import annotations

from typing import TypedDict

Number = str | int | float


class Envelope(TypedDict, total=False):
    """Every REST answer: ``status`` (sometimes the string "false"), ``message``,
    ``errorcode`` (or ``errorCode`` with ``success`` in some failures) and ``data``."""

    status: bool | str
    success: bool | str
    message: str
    errorcode: str
    errorCode: str
    data: object


class PlaceOrderBody(TypedDict, total=False):
    variety: str
    tradingsymbol: str
    symboltoken: str
    transactiontype: str
    exchange: str
    ordertype: str
    producttype: str
    duration: str
    price: str
    triggerprice: str
    quantity: str
    disclosedquantity: str
    squareoff: str
    stoploss: str
    ordertag: str


class ModifyOrderBody(TypedDict, total=False):
    variety: str
    orderid: str
    ordertype: str
    producttype: str
    duration: str
    price: str
    triggerprice: str
    quantity: str
    disclosedquantity: str
    tradingsymbol: str
    symboltoken: str
    exchange: str


class OrderRow(TypedDict, total=False):
    """One row of getOrderBook (and of details/{uniqueorderid})."""

    variety: str
    ordertype: str
    producttype: str
    duration: str
    price: Number
    triggerprice: Number
    quantity: Number
    disclosedquantity: Number
    tradingsymbol: str
    transactiontype: str
    exchange: str
    symboltoken: str
    ordertag: str
    averageprice: Number
    filledshares: Number
    unfilledshares: Number
    orderid: str
    uniqueorderid: str
    text: str
    status: str
    orderstatus: str
    updatetime: str
    exchtime: str
    exchorderupdatetime: str


class TradeRow(TypedDict, total=False):
    exchange: str
    producttype: str
    tradingsymbol: str
    symboltoken: str
    transactiontype: str
    fillprice: Number
    fillsize: Number
    orderid: str
    fillid: str
    filltime: str


class PositionRow(TypedDict, total=False):
    exchange: str
    symboltoken: str
    producttype: str
    tradingsymbol: str
    buyqty: Number
    sellqty: Number
    buyamount: Number
    sellamount: Number
    cfbuyqty: Number
    cfsellqty: Number
    cfbuyamount: Number
    cfsellamount: Number
    buyavgprice: Number
    sellavgprice: Number
    cfbuyavgprice: Number
    cfsellavgprice: Number
    netqty: Number
    avgnetprice: Number
    ltp: Number
    pnl: Number
    lotsize: Number
    multiplier: Number


class HoldingRow(TypedDict, total=False):
    tradingsymbol: str
    exchange: str
    isin: str
    quantity: Number
    product: str
    averageprice: Number
    ltp: Number
    symboltoken: str


class RmsPayload(TypedDict, total=False):
    net: Number
    availablecash: Number
    availableintradaypayin: Number
    availablelimitmargin: Number
    collateral: Number
    m2munrealized: Number
    m2mrealized: Number
    utiliseddebits: Number
    utilisedspan: Number
    utilisedexposure: Number
    utilisedoptionpremium: Number
    utilisedpayout: Number


class QuoteRow(TypedDict, total=False):
    """One ``data.fetched[]`` item of /market/v1/quote (mode FULL has every field)."""

    exchange: str
    tradingSymbol: str
    symbolToken: str
    ltp: Number
    open: Number
    high: Number
    low: Number
    close: Number
    lastTradeQty: Number
    exchFeedTime: str
    exchTradeTime: str
    avgPrice: Number
    tradeVolume: Number
    opnInterest: Number
    totBuyQuan: Number
    totSellQuan: Number
    depth: dict[str, list[dict[str, Number]]]


class ScripRow(TypedDict, total=False):
    """One row of OpenAPIScripMaster.json. ``strike`` is in paise (x100; currency options
    x10^7), ``tick_size`` in paise, ``expiry`` DDMMMYYYY."""

    token: str
    symbol: str
    name: str
    expiry: str
    strike: str
    lotsize: str
    instrumenttype: str
    exch_seg: str
    tick_size: str
