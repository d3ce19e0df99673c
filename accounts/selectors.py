"""The accounts app's reads for other apps and the project's wiring."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from accounts.brokers import SANDBOX, credentials_of, live_broker_name, login_for, trading_modes
from accounts.models import BrokerCredential, Heartbeat, User
from brokers import registry
from brokers.base import BrokerCredentials
from brokers.contracts import STALE_AFTER
from brokers.models import ContractLoad, Instrument


def last_heartbeat(name: str) -> datetime | None:
    """When the process kind ``name`` (e.g. "worker") last said it was alive, if ever."""
    return Heartbeat.objects.filter(name=name).values_list("at", flat=True).first()


def _live_credentials(broker: str) -> QuerySet[BrokerCredential]:
    return (BrokerCredential.objects.filter(broker=broker, token_expires_at__gt=timezone.now())
            .exclude(access_token_encrypted="").select_related("user"))


def live_sessions(broker: str, user_ids: Iterable[int]) -> dict[int, tuple[User, BrokerCredentials]]:
    """Of ``user_ids``, those logged in at ``broker`` now (an unexpired token), each with
    its user and decrypted credentials, for a call made on the user's behalf."""
    rows = _live_credentials(broker).filter(user_id__in=list(user_ids))
    return {row.user_id: (row.user, credentials_of(row)) for row in rows}


def account_by_client_id(broker: str, client_id: str) -> tuple[int, BrokerCredentials] | None:
    """The user whose account at ``broker`` is ``client_id`` (the broker's own id for it),
    with its credentials: the newest live session first, else any stored credential (a
    postback may arrive just after the day's token expired)."""
    if not client_id:
        return None
    stored = BrokerCredential.objects.filter(broker=broker, client_id=client_id).order_by("-updated_at")
    row = _live_credentials(broker).filter(client_id=client_id).order_by("-updated_at").first() or stored.first()
    return (row.user_id, credentials_of(row)) if row else None


@dataclass(frozen=True, slots=True)
class BrokerState:
    """One installed broker as its Broker page row shows it for one user."""

    name: str
    login: str  # brokers.base.LoginKind value
    has_app_keys: bool
    client_id: str
    session_until: datetime | None

    @property
    def live(self) -> bool:
        return self.session_until is not None and self.session_until > timezone.now()


def broker_states(user: User, names: Iterable[str]) -> list[BrokerState]:
    """Each broker of ``names`` (that a trader logs in at) with this user's state there."""
    rows = {row.broker: row for row in BrokerCredential.objects.filter(user=user)}
    states = []
    for name in names:
        row = rows.get(name)
        live = row is not None and row.has_secret("access_token")
        states.append(BrokerState(name=name, login=str(login_for(name).kind),
                                  has_app_keys=bool(row and row.has_secret("api_key")),
                                  client_id=row.client_id if row else "",
                                  session_until=row.token_expires_at if row and live else None))
    return states


@dataclass(frozen=True, slots=True)
class TradingMode:
    """Where the user's next order goes, as every page's banner says it: LIVE at a named
    broker, or PAPER at the sandbox (analyze mode on, or no live broker session)."""

    live: bool
    broker: str  # the broker that takes the next order ("sandbox" when paper)
    reason: str  # why paper: "analyze" or "no_session"; "" when live
    session_broker: str | None  # the live session's broker, if any (analyze mode keeps it)

    @property
    def label(self) -> str:
        if self.live:
            return f"LIVE · {self.broker}"
        return "PAPER · analyze mode" if self.reason == "analyze" else "PAPER · no broker session"


def trading_mode(user: User) -> TradingMode:
    modes = trading_modes(user)
    analyze = modes[0] if modes else bool(user.analyze_mode)
    session = live_broker_name(user)
    if session is not None and registry.is_paper(session):
        session = None
    if analyze:
        return TradingMode(live=False, broker=SANDBOX, reason="analyze", session_broker=session)
    if session is None:
        return TradingMode(live=False, broker=SANDBOX, reason="no_session", session_broker=None)
    return TradingMode(live=True, broker=session, reason="", session_broker=session)


@dataclass(frozen=True, slots=True)
class ContractState:
    """A broker's master contract as the Broker page shows it: the rows it serves now, its
    newest download (running, live or failed) and the last one that succeeded."""

    broker: str
    symbols: int
    status: str  # "running", "live", "failed", or "" when never downloaded
    rows: int  # of the newest download (so far, while it runs)
    percent: int
    message: str
    started_at: datetime | None
    last_success_at: datetime | None

    @property
    def running(self) -> bool:
        return self.status == ContractLoad.State.RUNNING


def contract_states(names: Iterable[str]) -> list[ContractState]:
    states = []
    for name in names:
        newest = ContractLoad.objects.filter(broker=name).order_by("-started_at", "-pk").first()
        success = (ContractLoad.objects.filter(broker=name, state=ContractLoad.State.LIVE)
                   .order_by("-finished_at").values_list("finished_at", flat=True).first())
        states.append(ContractState(
            broker=name, symbols=Instrument.objects.filter(broker=name).count(),
            status=str(newest.state) if newest else "", rows=newest.rows if newest else 0,
            percent=newest.percent if newest else 0, message=newest.message if newest else "",
            started_at=newest.started_at if newest else None, last_success_at=success))
    return states


def contract_running(broker: str) -> bool:
    """Whether a download of ``broker``'s master contract runs now (and is not abandoned)."""
    return ContractLoad.objects.filter(broker=broker, state=ContractLoad.State.RUNNING,
                                       started_at__gte=timezone.now() - STALE_AFTER).exists()
