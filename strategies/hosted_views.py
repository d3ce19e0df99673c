"""Pages of hosted Python strategies: the list with an upload form, one strategy's page (status,
start/stop, schedule, live log), its code editor, and the log fragment the page re-fetches."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import setup_first
from accounts.otp import verified_login_required
from strategies import hosted_selectors as selectors
from strategies import hosted_services as services
from strategies.hosted_forms import CodeUploadForm, EditFileForm, NewStrategyForm, ScheduleForm


@never_cache
@setup_first
@verified_login_required
@require_http_methods(["GET", "POST"])
def python_list(request):
    form = NewStrategyForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        strategy = services.create_strategy(user=request.user, name=form.cleaned_data["name"],
                                            files=form.cleaned_data["files"], entry_point=form.cleaned_data["entry"])
        messages.success(request, f"{strategy.name} saved. Set its schedule and start it.")
        return redirect("strategies:python_detail", strategy_id=strategy.pk)
    rows = [(strategy, selectors.schedule_text(strategy)) for strategy in selectors.strategies_of(request.user)]
    return render(request, "strategies/hosted/list.html", {"form": form, "rows": rows},
                  status=400 if form.is_bound else 200)


def _detail_context(request, strategy, **forms) -> dict:
    schedule = ScheduleForm(initial={"always_on": strategy.always_on, "days": sorted(strategy.weekdays),
                                     "window_start": strategy.window_start, "window_end": strategy.window_end})
    return {"strategy": strategy, "schedule_text": selectors.schedule_text(strategy),
            "files": list(strategy.files.values_list("path", flat=True)), "lines": selectors.log_lines(strategy),
            "schedule_form": schedule, "upload_form": CodeUploadForm(), **forms}


@never_cache
@verified_login_required
@require_GET
def python_detail(request, strategy_id: int):
    strategy = selectors.strategy_of(request.user, strategy_id)
    return render(request, "strategies/hosted/detail.html", _detail_context(request, strategy))


@never_cache
@verified_login_required
@require_GET
def python_log(request, strategy_id: int):
    strategy = selectors.strategy_of(request.user, strategy_id)
    return render(request, "strategies/hosted/_log.html", {"strategy": strategy,
                                                           "lines": selectors.log_lines(strategy)})


@verified_login_required
@require_POST
def python_start(request, strategy_id: int):
    strategy = selectors.strategy_of(request.user, strategy_id)
    services.start_strategy(strategy=strategy)
    messages.success(request, f"{strategy.name} will run {selectors.schedule_text(strategy)}; a worker starts it "
                              "within seconds when its schedule is open.")
    return redirect("strategies:python_detail", strategy_id=strategy.pk)


@verified_login_required
@require_POST
def python_stop(request, strategy_id: int):
    strategy = selectors.strategy_of(request.user, strategy_id)
    services.stop_strategy(strategy=strategy)
    messages.success(request, f"{strategy.name} is being stopped.")
    return redirect("strategies:python_detail", strategy_id=strategy.pk)


@verified_login_required
@require_POST
def python_schedule(request, strategy_id: int):
    strategy = selectors.strategy_of(request.user, strategy_id)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return render(request, "strategies/hosted/detail.html",
                      _detail_context(request, strategy, schedule_form=form), status=400)
    services.set_schedule(strategy=strategy, **form.cleaned_data)
    messages.success(request, f"Schedule saved: {selectors.schedule_text(strategy)}.")
    return redirect("strategies:python_detail", strategy_id=strategy.pk)


@verified_login_required
@require_POST
def python_upload(request, strategy_id: int):
    strategy = selectors.strategy_of(request.user, strategy_id)
    form = CodeUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "strategies/hosted/detail.html",
                      _detail_context(request, strategy, upload_form=form), status=400)
    services.replace_code(strategy=strategy, files=form.cleaned_data["files"], entry_point=form.cleaned_data["entry"])
    messages.success(request, "Code replaced." + (" It runs at the next start: stop and start to use it now."
                                                  if strategy.pid else ""))
    return redirect("strategies:python_detail", strategy_id=strategy.pk)


@never_cache
@verified_login_required
@require_http_methods(["GET", "POST"])
def python_edit(request, strategy_id: int):
    strategy = selectors.strategy_of(request.user, strategy_id)
    files = dict(strategy.files.values_list("path", "content"))
    if request.method == "POST":
        form = EditFileForm(request.POST)
        if form.is_valid():
            services.save_file(strategy=strategy, path=form.cleaned_data["path"], content=form.cleaned_data["content"],
                               entry=form.cleaned_data["entry"])
            messages.success(request, f"{form.cleaned_data['path']} saved." + (
                " It runs at the next start: stop and start to use it now." if strategy.pid else ""))
            return redirect(f"{request.path}?file={form.cleaned_data['path']}")
    else:
        path = request.GET.get("file") or strategy.entry_point
        form = EditFileForm(initial={"path": path, "content": files.get(path, ""),
                                     "entry": path == strategy.entry_point})
    return render(request, "strategies/hosted/edit.html", {"strategy": strategy, "form": form, "files": sorted(files)},
                  status=400 if form.is_bound else 200)


@verified_login_required
@require_POST
def python_delete(request, strategy_id: int):
    strategy = selectors.strategy_of(request.user, strategy_id)
    services.delete_strategy(strategy=strategy)
    messages.success(request, f"{strategy.name} deleted; its process is stopped.")
    return redirect("strategies:python")
