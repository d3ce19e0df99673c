"""Order postbacks: a broker that declares ``order_updates=POSTBACK`` calls
``/broker/<name>/postback`` when an order moves. The broker package reads the payload
(brokers/postback.py): which account it is about, then, with that account's secret, its
signature and the order. A verified order is sent as ``brokers.signals.order_changed``,
like a polled or pushed one, so the ledger row moves and the one order event goes out."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from accounts.selectors import account_by_client_id
from brokers import registry
from brokers.base import BrokerNotAvailable, BrokerOrder, OrderUpdateSource
from brokers.postback import PostbackMalformed, PostbackUnsigned
from brokers.signals import order_changed

log = logging.getLogger(__name__)


class PostbackRefused(Exception):
    """The postback is not taken; ``http_status`` is what the broker is answered."""

    http_status = 400


class UnknownPostbackBroker(PostbackRefused):
    http_status = 404


class UnverifiedPostback(PostbackRefused):
    http_status = 403


class MalformedPostback(PostbackRefused):
    http_status = 400


def receive_postback(*, broker: str, body: bytes, headers: Mapping[str, str]) -> BrokerOrder:
    """Verify one postback of ``broker`` and report the order in it; raises PostbackRefused."""
    try:
        reader = registry.postback_for(broker)
        declared = registry.capabilities_of(broker).order_updates
    except BrokerNotAvailable:
        raise UnknownPostbackBroker(f"No postbacks from broker '{broker}'") from None
    if declared is not OrderUpdateSource.POSTBACK:
        raise UnknownPostbackBroker(f"Broker '{broker}' does not send postbacks")
    try:
        client_id = reader.client_id(body, headers)
        account = account_by_client_id(broker, client_id)
        if account is None:
            raise UnverifiedPostback(f"No account {client_id!r} at broker '{broker}'")
        user_id, credentials = account
        order = reader.order(body, headers, credentials)
    except PostbackUnsigned as unsigned:
        raise UnverifiedPostback(str(unsigned)) from None
    except PostbackMalformed as malformed:
        raise MalformedPostback(str(malformed)) from None
    except PostbackRefused:
        raise
    except Exception as bug:  # a reader bug on a strange payload is the payload's 400, logged
        log.exception("Postback of broker %s could not be read", broker)
        raise MalformedPostback(f"Unreadable postback: {type(bug).__name__}") from None
    order_changed.send(sender=broker, user_id=user_id, order=order, paper=False)
    return order
