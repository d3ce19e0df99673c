"""Signals a broker package sends about the outside world, for the apps above to hear
without the broker knowing them.

``order_changed(sender=<broker name>, user_id=int, order=BrokerOrder, paper=bool)``: an order of
``user_id`` changed at the broker on the broker's own initiative (the paper exchange's
fills, cancellations, square-offs), sent after the change committed. ``order`` is the
order as it is now; ``paper`` is
True for a simulated exchange's orders."""

from __future__ import annotations

from django.dispatch import Signal

order_changed = Signal()
