"""The root of the errors a service raises for the API layer to answer: each carries the
HTTP status the contract gives it, so the mapping to a response lives in one place
(core/api/errors.py) and knows no app."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal or failure with its answer: ``message`` goes back to the trader unless
    the status is a 5xx (then a generic text, and the message is logged)."""

    http_status = 500
    # Seconds after which a retry may succeed (429 answers carry it), None otherwise.
    retry_after: float | None = None

    def __init__(self, message: str, *, orderid: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.orderid = orderid
