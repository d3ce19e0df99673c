"""The webhooks TradingView, ChartInk and the SDK's ``Strategy`` call (spec §11.2), and
the pages that manage webhook strategies. The webhooks answer from the database alone:
the alert is committed, then a worker places its orders."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts import audit
from accounts.access import setup_first
from accounts.otp import verified_login_required
from core.api import ratelimit
from core.api.errors import METHOD_NOT_ALLOWED, RATE_LIMITED, RateLimited
from strategies import selectors, services, tasks
from strategies.alerts import Refused
from strategies.forms import StrategyForm
from strategies.models import Alert, Strategy

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Internal server error"


COMPACT = {"separators": (",", ":")}  # as the /api/v1 answers are written


def _json(body: dict, status: int) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params=COMPACT)


class AcceptedAnswer(JsonResponse):
    """A webhook's answer to an accepted alert, which goes to a worker once the answer is
    out: the server closes a response after sending its body, so the sender does not wait
    on the task queue. The alert is committed before the answer; if it never reaches the
    queue (the process dies first, the sender hangs up mid-request, the broker is down),
    the recovery sweep queues it (strategies.requeue_alerts)."""

    def __init__(self, body: dict, status: int, alert_id: int) -> None:
        super().__init__(body, status=status, json_dumps_params=COMPACT)
        self.alert_id = alert_id

    def close(self) -> None:
        try:
            super().close()
        finally:
            tasks.queue_alert(self.alert_id)


def _webhook(request: HttpRequest, webhook_id: str, *, chartink: bool) -> JsonResponse:
    def error(status: int, message: str, **extra) -> JsonResponse:
        body = {"status": "error", "error": message} if chartink else {"error": message}
        return _json({**body, **extra}, status)

    if request.method != "POST":
        return _json({"message": METHOD_NOT_ALLOWED}, 405)
    try:
        ratelimit.enforce(request, group="chartink-webhook" if chartink else "strategy-webhook",
                          setting="WEBHOOK_RATE_LIMIT")
        strategy, mapping = services.strategy_for_webhook(webhook_id)
        raw = request.body
        services.check_secret(strategy, raw, request.headers)
        key = request.headers.get("Idempotency-Key", "")
        if len(key) > 128 or not key.isprintable():
            raise Refused(400, "Idempotency-Key must be 1 to 128 printable characters")
        if chartink:
            answer = services.receive_chartink_alert(strategy=strategy, raw=raw, idempotency_key=key,
                                                     mapping=mapping)
        else:
            answer = services.receive_strategy_alert(strategy=strategy, raw=raw, idempotency_key=key,
                                                     mapping=mapping)
    except RequestDataTooBig:
        return error(413, "Request body too large")
    except RateLimited as limited:
        return error(429, RATE_LIMITED, retry_after=limited.retry_after)
    except Refused as refusal:
        return error(refusal.status, refusal.message)
    except Exception:
        log.exception("Webhook %s failed", webhook_id)
        return error(500, INTERNAL_ERROR)
    if answer.alert is not None and answer.alert.state == Alert.State.RECEIVED:
        return AcceptedAnswer(answer.body, answer.status, answer.alert.pk)
    return _json(answer.body, answer.status)


@csrf_exempt
def strategy_webhook(request: HttpRequest, webhook_id: str) -> JsonResponse:
    return _webhook(request, webhook_id, chartink=False)


@csrf_exempt
def chartink_webhook(request: HttpRequest, webhook_id: str) -> JsonResponse:
    return _webhook(request, webhook_id, chartink=True)


# --- Pages ---------------------------------------------------------------------------------------


def webhook_urls(request: HttpRequest, strategy: Strategy) -> dict[str, str]:
    return {"strategy": request.build_absolute_uri(reverse("strategies:webhook", args=[strategy.webhook_id])),
            "chartink": request.build_absolute_uri(reverse("strategies:chartink", args=[strategy.webhook_id]))}


@setup_first
@verified_login_required
def strategy_list(request: HttpRequest) -> HttpResponse:
    strategies = [(strategy, webhook_urls(request, strategy)) for strategy in selectors.strategies_for(request.user)]
    return render(request, "strategies/list.html", {"strategies": strategies})


@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def strategy_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, Strategy(owner=request.user))


@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def strategy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, selectors.strategy_of(request.user, pk))


def _edit(request: HttpRequest, strategy: Strategy) -> HttpResponse:
    creating = strategy.pk is None
    form = StrategyForm(request.POST or None, instance=strategy, owner=request.user)
    if request.method == "POST" and form.is_valid():
        saved = services.save_strategy(strategy=form.save(commit=False), symbol_map=form.cleaned_data["symbol_map"])
        audit.record("strategy_created" if creating else "strategy_changed", actor=request.user.username,
                     subject=saved.name, detail={"strategy": saved.pk, "changed": form.changed_data},
                     ip=audit.client_ip(request))
        messages.success(request, f"Strategy {saved.name} {'created' if creating else 'saved'}.")
        return redirect("strategies:detail", pk=saved.pk)
    return render(request, "strategies/form.html", {"form": form, "strategy": strategy, "creating": creating},
                  status=400 if form.is_bound else 200)


@never_cache
@verified_login_required
def strategy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = selectors.strategy_of(request.user, pk)
    return render(request, "strategies/detail.html", {
        "strategy": strategy, "urls": webhook_urls(request, strategy), "alerts": selectors.alert_log(strategy),
        "pnl": selectors.pnl(strategy), "sample": services.sample_alert(strategy).decode()})


@require_POST
@verified_login_required
def strategy_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = selectors.strategy_of(request.user, pk)
    services.set_enabled(strategy=strategy, enabled=not strategy.enabled)
    audit.record("strategy_enabled" if strategy.enabled else "strategy_disabled", actor=request.user.username,
                 subject=strategy.name, detail={"strategy": strategy.pk}, ip=audit.client_ip(request))
    messages.success(request, f"Strategy {strategy.name} {'enabled' if strategy.enabled else 'disabled'}.")
    if request.POST.get("next") == "list":
        return redirect("strategies:list")
    return redirect("strategies:detail", pk=strategy.pk)


@require_POST
@verified_login_required
def strategy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = selectors.strategy_of(request.user, pk)
    name = strategy.name
    services.delete_strategy(strategy=strategy)
    audit.record("strategy_deleted", actor=request.user.username, subject=name, ip=audit.client_ip(request))
    messages.success(request, f"Strategy {name} deleted.")
    return redirect("strategies:list")


@require_POST
@verified_login_required
def strategy_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a sample entry alert through the webhook's own path (secret aside: you are signed in)."""
    strategy = selectors.strategy_of(request.user, pk)
    answer = services.receive_strategy_alert(strategy=strategy, raw=services.sample_alert(strategy),
                                             source=Alert.Source.TEST)
    if answer.alert is not None and answer.alert.state == Alert.State.RECEIVED:
        tasks.queue_alert(answer.alert.pk)
    if answer.status == 200:
        messages.success(request, f"Test alert accepted: {answer.body.get('message')}.")
    else:
        messages.error(request, f"Test alert refused: {answer.body.get('error')}.")
    return redirect("strategies:detail", pk=strategy.pk)
