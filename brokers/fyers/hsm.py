"""Fyers' market-data socket protocol ("HSM", ``wss://socket.fyers.in/hsm/v1-5/prod``):
frames built and parsed with ``struct``, pure (no I/O), so tests build them byte by byte.

WHAT IS DOCUMENTED. Fyers' Docs describe this socket only through its SDKs: ``SymbolUpdate``
and ``DepthUpdate`` messages, a "lite" (LTP-only) mode, at most 5,000 symbols per connection
(changelog, 26 Mar 2024). The wire format below is NOT in the Docs.

WHAT IS OBSERVED (OpenAlgo's client, which says it follows the official library, and a
third-party port of the official SDK; both send and parse the same bytes):
- every integer is big-endian; frames are binary;
- client frames: ``uint16 length, uint8 type, uint8 field count`` then fields of
  ``uint8 id, uint16 size, bytes``. Auth (type 1) has four fields: 1 = the ``hsm_key`` claim
  of the access-token JWT, 2 = mode ``"P"``, 3 = one byte 0x01, 4 = a source name.
  Subscribe (type 4) / unsubscribe (type 5) have two: 1 = a block ``uint16 count`` then per
  topic ``uint8 length + ASCII topic``; 2 = the channel byte (11). The length word of a
  subscribe frame is written as 6 + block size, as OpenAlgo writes it (not the frame's
  length: the two clients write different values there, so the server does not read it);
- server frames: byte 2 is the type (1 auth reply, 4 subscribe ack, 5 unsubscribe ack,
  6 data, 13 master data). Auth reply: byte 3 field count, then field 1 = the string "K"
  on success. Data (type 6): bytes 3-6 a message number, bytes 7-8 ``uint16`` scrip
  count, then per scrip one kind byte: 83 ('S') snapshot, 85 ('U') update (76 ('L') is
  the lite mode's, which we do not ask for);
- snapshot: ``uint16 topic id, uint8 name length, topic name, uint8 field count,
  int32 x count`` (-2147483648 = absent); quote and depth snapshots then carry 2 bytes we
  skip, ``uint16 multiplier``, ``uint8 precision`` and three ``uint8``-length strings
  (exchange, exchange token, symbol); index snapshots carry nothing after the values;
- update: ``uint16 topic id, uint8 field count, int32 x count`` in the snapshot's field order,
  replacing the cached values (absent ones keep theirs);
- topics: ``sf|<seg>|<exchange token>`` quote, ``dp|<seg>|<exchange token>`` 5-level depth,
  ``if|<seg>|<index name>`` index; <seg> from the Fytoken's first four digits.

INFERRED (not confirmed by either source): prices are integers scaled by
``10 ** precision`` (2 for equity and F&O, so paise; 4 would fit currency); index frames
carry no precision and are read as paise. The topic id is only matched between a topic's
snapshot and its updates, so its byte order (OpenAlgo reads it in host order) does not
matter; we read it big-endian like every other integer."""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

AUTH, SUBSCRIBE, UNSUBSCRIBE, DATA = 1, 4, 5, 6
SNAPSHOT, UPDATE = 83, 85
CHANNEL = 11
ABSENT = -2147483648
SOURCE = "OpenAlgo-Django"

QUOTE_FIELDS = ("ltp", "vol_traded_today", "last_traded_time", "exch_feed_time", "bid_size", "ask_size",
                "bid_price", "ask_price", "last_traded_qty", "tot_buy_qty", "tot_sell_qty", "avg_trade_price",
                "oi", "low_price", "high_price", "year_high", "year_low", "lower_ckt", "upper_ckt", "open_price",
                "prev_close_price")
INDEX_FIELDS = ("ltp", "prev_close_price", "exch_feed_time", "high_price", "low_price", "open_price")
DEPTH_FIELDS = tuple(f"{side}_{what}{level}" for side, what in (("bid", "price"), ("ask", "price"),
                                                                ("bid", "size"), ("ask", "size"),
                                                                ("bid", "orders"), ("ask", "orders"))
                     for level in range(1, 6))
FIELDS = {"sf": QUOTE_FIELDS, "if": INDEX_FIELDS, "dp": DEPTH_FIELDS}
_POSITION = {kind: {name: index for index, name in enumerate(names)} for kind, names in FIELDS.items()}
# Fytoken's first four digits (exchange + segment) -> the socket's segment name.
SEGMENT_NAMES = {"1010": "nse_cm", "1011": "nse_fo", "1012": "cde_fo", "1020": "nse_com", "1120": "mcx_fo",
                 "1210": "bse_cm", "1211": "bse_fo", "1212": "bcs_fo"}

_U16 = struct.Struct(">H")
_HEAD = struct.Struct(">HBB")
_FIELD = struct.Struct(">BH")
_I32 = struct.Struct(">i")


class FrameError(ValueError):
    """A server frame that does not follow the layout above."""


def _field(field_id: int, value: bytes) -> bytes:
    return _FIELD.pack(field_id, len(value)) + value


def auth_frame(hsm_key: str, source: str = SOURCE) -> bytes:
    body = bytes((AUTH, 4)) + _field(1, hsm_key.encode()) + _field(2, b"P") + _field(3, b"\x01") \
        + _field(4, source.encode())
    return _U16.pack(len(body)) + body


def _topics_frame(kind: int, topics: Sequence[str], channel: int) -> bytes:
    block = bytearray(_U16.pack(len(topics)))
    for topic in topics:
        name = topic.encode("ascii")
        block += bytes((len(name),)) + name
    return _U16.pack(6 + len(block)) + bytes((kind, 2)) + _field(1, bytes(block)) + _field(2, bytes((channel,)))


def subscribe_frame(topics: Sequence[str], channel: int = CHANNEL) -> bytes:
    return _topics_frame(SUBSCRIBE, topics, channel)


def unsubscribe_frame(topics: Sequence[str], channel: int = CHANNEL) -> bytes:
    return _topics_frame(UNSUBSCRIBE, topics, channel)


def topic(kind: str, fytoken: str, index_name: str = "") -> str:
    """``sf|nse_cm|3045`` for Fytoken 10100000003045; ``if|nse_cm|Nifty 50`` for an index."""
    segment = SEGMENT_NAMES.get(fytoken[:4])
    if segment is None or len(fytoken) <= 10:
        raise ValueError(f"not a Fytoken of a streamed segment: {fytoken!r}")
    return f"{kind}|{segment}|{index_name if kind == 'if' else fytoken[10:]}"


def auth_accepted(frame: bytes) -> bool:
    """Whether an auth reply (type 1) says "K" in its first field."""
    if len(frame) < 7 or frame[2] != AUTH:
        raise FrameError("not an auth reply")
    size = _U16.unpack_from(frame, 5)[0]
    return frame[7:7 + size] == b"K"


@dataclass(slots=True)
class TopicState:
    """What a topic's snapshot established; updates change ``values`` in place."""

    name: str
    kind: str  # "sf", "dp" or "if"
    values: list[int | None]
    precision: int = 2
    multiplier: int = 1

    def scaled(self, name: str) -> Decimal:
        value = self.get(name)
        return Decimal(value).scaleb(-self.precision) if value else Decimal(0)

    def get(self, name: str) -> int:
        """A field's value; 0 when absent, or when this kind of topic has no such field."""
        index = _POSITION[self.kind].get(name)
        value = self.values[index] if index is not None and index < len(self.values) else None
        return value or 0


@dataclass(slots=True)
class Decoder:
    """Parses data frames, keeping each topic's snapshot so updates can be applied."""

    topics: dict[int, TopicState] = field(default_factory=dict)

    def feed(self, frame: bytes) -> Iterator[TopicState]:
        """The topics a data frame changed, in order (each once per scrip entry)."""
        if len(frame) < 9 or frame[2] != DATA:
            raise FrameError("not a data frame")
        count = _U16.unpack_from(frame, 7)[0]
        offset = 9
        try:
            for _ in range(count):
                kind = frame[offset]
                offset += 1
                if kind == SNAPSHOT:
                    state, offset = self._snapshot(frame, offset)
                elif kind == UPDATE:
                    state, offset = self._update(frame, offset)
                else:
                    return  # a kind we cannot size (lite mode): the rest of the frame is unreadable
                if state is not None:
                    yield state
        except (IndexError, struct.error, UnicodeDecodeError) as problem:
            raise FrameError(f"data frame cut short: {problem}") from None

    @staticmethod
    def _values(frame: bytes, offset: int, count: int) -> tuple[list[int | None], int]:
        values: list[int | None] = []
        for _ in range(count):
            value = _I32.unpack_from(frame, offset)[0]
            values.append(None if value == ABSENT else value)
            offset += 4
        return values, offset

    def _snapshot(self, frame: bytes, offset: int) -> tuple[TopicState | None, int]:
        topic_id = _U16.unpack_from(frame, offset)[0]
        size = frame[offset + 2]
        offset += 3
        name = frame[offset:offset + size].decode("ascii")
        offset += size
        count = frame[offset]
        values, offset = self._values(frame, offset + 1, count)
        kind = name.partition("|")[0]
        state = TopicState(name=name, kind=kind, values=values)
        if kind in ("sf", "dp"):
            offset += 2  # two bytes whose meaning neither source knows
            state.multiplier = _U16.unpack_from(frame, offset)[0]
            state.precision = frame[offset + 2]
            offset += 3
            for _ in range(3):  # exchange, exchange token, symbol
                offset += 1 + frame[offset]
        if kind not in FIELDS:
            return None, offset
        self.topics[topic_id] = state
        return state, offset

    def _update(self, frame: bytes, offset: int) -> tuple[TopicState | None, int]:
        topic_id = _U16.unpack_from(frame, offset)[0]
        count = frame[offset + 2]
        values, offset = self._values(frame, offset + 3, count)
        state = self.topics.get(topic_id)
        if state is None:
            return None, offset  # an update before its snapshot: nothing to apply it to
        if len(state.values) < len(values):
            state.values.extend([None] * (len(values) - len(state.values)))
        for index, value in enumerate(values):
            if value is not None:
                state.values[index] = value
        return state, offset
