"""The orders app's reads for views and other apps."""

from __future__ import annotations

from orders.analyzer import analyzer_log_count

__all__ = ["analyzer_log_count"]
