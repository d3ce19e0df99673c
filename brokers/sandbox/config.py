"""A trader's paper-trading settings as the engine reads them: margin leverage per kind and
the MIS square-off time per exchange group, each falling back to the installation default
when the trader never changed it. Also where they are checked and saved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import time
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from brokers.sandbox.models import SandboxSettings

# Exchange groups that share one MIS square-off time (spec §2.9 defaults).
SQUARE_OFF_GROUPS: dict[str, tuple[str, ...]] = {
    "equity": ("NSE", "BSE", "NFO", "BFO"),
    "currency": ("CDS", "BCD"),
    "commodity": ("MCX", "NCO"),
}
DEFAULT_SQUARE_OFF = {"equity": time(15, 15), "currency": time(16, 45), "commodity": time(23, 30)}
# When each group may be squared off: within its trading session (IST).
SQUARE_OFF_WINDOWS = {"equity": (time(9, 15), time(15, 30)), "currency": (time(9, 0), time(17, 0)),
                      "commodity": (time(9, 0), time(23, 55))}
LEVERAGE_KINDS = ("equity_mis", "equity_cnc", "futures", "options")
LEVERAGE_LIMITS = {"equity_mis": (Decimal(1), Decimal(50)), "equity_cnc": (Decimal(1), Decimal(5)),
                   "futures": (Decimal(1), Decimal(50)), "options": (Decimal(1), Decimal(10))}


@dataclass(frozen=True, slots=True)
class PaperSettings:
    leverage_equity_mis: Decimal
    leverage_equity_cnc: Decimal
    leverage_futures: Decimal
    leverage_options: Decimal
    square_off_equity: time
    square_off_currency: time
    square_off_commodity: time

    @property
    def leverage(self) -> dict[str, Decimal]:
        return {kind: getattr(self, f"leverage_{kind}") for kind in LEVERAGE_KINDS}

    @property
    def square_off(self) -> dict[str, time]:
        """Exchange -> its MIS square-off time."""
        times = {}
        for group, exchanges in SQUARE_OFF_GROUPS.items():
            for exchange in exchanges:
                times[exchange] = getattr(self, f"square_off_{group}")
        return times

    def as_dict(self) -> dict[str, Decimal | time]:
        return asdict(self)


FIELDS = tuple(field.name for field in fields(PaperSettings))


def defaults() -> PaperSettings:
    table = settings.SANDBOX_LEVERAGE
    fallback = {"equity_mis": 5, "equity_cnc": 1, "futures": 10, "options": 1}
    lev = {kind: Decimal(str(table.get(kind, fallback[kind]))) for kind in LEVERAGE_KINDS}
    return PaperSettings(
        leverage_equity_mis=lev["equity_mis"], leverage_equity_cnc=lev["equity_cnc"],
        leverage_futures=lev["futures"], leverage_options=lev["options"],
        square_off_equity=DEFAULT_SQUARE_OFF["equity"], square_off_currency=DEFAULT_SQUARE_OFF["currency"],
        square_off_commodity=DEFAULT_SQUARE_OFF["commodity"])


def settings_for(user_id: int) -> PaperSettings:
    row = SandboxSettings.objects.filter(user_id=user_id).values(*FIELDS).first()
    return PaperSettings(**row) if row else defaults()


def leverage_for(user_id: int) -> dict[str, Decimal]:
    return settings_for(user_id).leverage


def square_off_for(user_id: int) -> dict[str, time]:
    return settings_for(user_id).square_off


class InvalidSettings(ValueError):
    """Settings out of their allowed range: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def check(values: Mapping[str, object]) -> PaperSettings:
    """The complete settings from ``values`` (missing keys keep the defaults), or
    InvalidSettings naming every value out of range."""
    base = defaults().as_dict()
    errors: dict[str, str] = {}
    for kind in LEVERAGE_KINDS:
        name = f"leverage_{kind}"
        value = values.get(name, base[name])
        low, high = LEVERAGE_LIMITS[kind]
        if not isinstance(value, Decimal) or not value.is_finite() or not low <= value <= high:
            errors[name] = f"Leverage must be between {low} and {high}."
        elif value != value.quantize(Decimal("0.01")):
            errors[name] = "Leverage may have at most 2 decimal places."
    for group, (opens, closes) in SQUARE_OFF_WINDOWS.items():
        name = f"square_off_{group}"
        value = values.get(name, base[name])
        if not isinstance(value, time) or not opens <= value <= closes:
            errors[name] = f"Square-off time must be between {opens:%H:%M} and {closes:%H:%M} IST."
    if errors:
        raise InvalidSettings(errors)
    return PaperSettings(**{name: values.get(name, base[name]) for name in FIELDS})  # type: ignore[arg-type]


def save(user_id: int, values: Mapping[str, object]) -> dict[str, tuple[str, str]]:
    """Check and store a trader's settings; returns what changed (field -> (old, new))."""
    wanted = check(values)
    with transaction.atomic():
        before = settings_for(user_id)
        SandboxSettings.objects.update_or_create(user_id=user_id,
                                                 defaults={**wanted.as_dict(), "updated_at": timezone.now()})
    old, new = before.as_dict(), wanted.as_dict()
    return {name: (str(old[name]), str(new[name])) for name in FIELDS if old[name] != new[name]}
