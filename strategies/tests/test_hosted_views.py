"""Pages of hosted Python strategies through the test client: upload (a file or a zip), edit,
schedule, start and stop (which only ask a worker: the web process starts nothing), the log
fragment the page re-fetches, bad input answered 400 with the reason, and only one's own."""

from __future__ import annotations

import io
import zipfile
from datetime import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from strategies.hosted import process
from strategies.models import HostedFile, HostedStrategy


@pytest.fixture
def signed_in(client, user, settings, tmp_path):
    settings.HOSTED_DIR = tmp_path / "hosted"
    client.force_login(user)
    return client


def py(name: str = "main.py", source: str = "print('hello')\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, source.encode(), content_type="text/x-python")


def zipped(files: dict[str, str], name: str = "strategy.zip") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


def create(client, **fields):
    return client.post(reverse("strategies:python"), {"name": "EMA cross", "code": py(), **fields})


def test_the_list_page_renders_with_the_upload_form(signed_in):
    response = signed_in.get(reverse("strategies:python"))
    assert response.status_code == 200
    assert b"Python strategies" in response.content and b'data-testid="hosted-new"' in response.content


def test_uploading_a_py_file_creates_the_strategy(signed_in, user):
    response = create(signed_in)
    strategy = HostedStrategy.objects.get(user=user)
    assert response.status_code == 302 and response.url == reverse("strategies:python_detail", args=[strategy.pk])
    assert (strategy.name, strategy.entry_point, strategy.enabled) == ("EMA cross", "main.py", False)
    assert dict(strategy.files.values_list("path", "content")) == {"main.py": "print('hello')\n"}
    assert AuditEvent.objects.filter(action="hosted_strategy_created", subject="EMA cross").exists()


def test_a_zip_of_several_files_keeps_them_all_and_runs_the_chosen_entry_point(signed_in, user):
    upload = zipped({"bot/run.py": "from lib import x\n", "bot/lib.py": "x = 1\n", "bot/config.json": "{}"})
    response = create(signed_in, code=upload, entry_point="run.py")
    assert response.status_code == 302
    strategy = HostedStrategy.objects.get(user=user)
    assert strategy.entry_point == "run.py"  # the zip's one top folder is dropped
    assert sorted(strategy.files.values_list("path", flat=True)) == ["config.json", "lib.py", "run.py"]


@pytest.mark.parametrize(("upload", "entry", "message"), [
    (lambda: py(source="def broken(:\n"), "", b"main.py, line 1"),
    (lambda: py("notes.exe"), "", b"Upload a .py file or a .zip"),
    (lambda: SimpleUploadedFile("s.zip", b"not a zip"), "", b"That zip file cannot be read."),
    (lambda: zipped({"../evil.py": "x = 1\n"}), "", b"is not an allowed file name"),
    (lambda: zipped({"a.py": "x = 1\n", "b.py": "y = 2\n"}), "", b"there is no main.py"),
    (lambda: zipped({"main.py": "x = 1\n"}), "other.py", b"There is no Python file other.py to run."),
    (lambda: SimpleUploadedFile("main.py", b"\xff\xfe\x00bad"), "", b"main.py is not UTF-8 text."),
    (lambda: zipped({f"m{n}.py": "" for n in range(60)}), "", b"more than 50 files"),
])
def test_bad_uploads_are_refused_with_the_reason(signed_in, upload, entry, message):
    response = create(signed_in, code=upload(), entry_point=entry)
    assert response.status_code == 400
    assert message in response.content
    assert not HostedStrategy.objects.exists()


def test_a_name_is_required_and_unique_per_trader(signed_in):
    assert create(signed_in).status_code == 302
    response = create(signed_in)
    assert response.status_code == 400 and b"You already have a strategy of that name." in response.content
    assert signed_in.post(reverse("strategies:python"), {"name": "", "code": py()}).status_code == 400


def make_strategy(user, **fields) -> HostedStrategy:
    strategy = HostedStrategy.objects.create(user=user, name="Mine", **fields)
    HostedFile.objects.create(strategy=strategy, path="main.py", content="print('x')\n")
    return strategy


def test_start_and_stop_only_ask_a_worker_after_the_commit(signed_in, user, django_capture_on_commit_callbacks):
    strategy = make_strategy(user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = signed_in.post(reverse("strategies:python_start", args=[strategy.pk]))
    assert response.status_code == 302
    strategy.refresh_from_db()
    assert strategy.enabled and strategy.pid is None  # nothing started in the web process
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        signed_in.post(reverse("strategies:python_stop", args=[strategy.pk]))
    strategy.refresh_from_db()
    assert not strategy.enabled and len(callbacks) == 1


def test_start_stop_and_delete_are_post_only_and_need_the_csrf_token(user, settings, tmp_path):
    settings.HOSTED_DIR = tmp_path
    strategy = make_strategy(user)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    for name in ("python_start", "python_stop", "python_delete", "python_schedule"):
        assert strict.get(reverse(f"strategies:{name}", args=[strategy.pk])).status_code == 405
        assert strict.post(reverse(f"strategies:{name}", args=[strategy.pk])).status_code == 403
    strategy.refresh_from_db()
    assert not strategy.enabled


def test_another_traders_strategy_is_not_found(signed_in, make_user):
    theirs = make_strategy(make_user("someone-else"))
    for name in ("python_detail", "python_log", "python_edit"):
        assert signed_in.get(reverse(f"strategies:{name}", args=[theirs.pk])).status_code == 404
    for name in ("python_start", "python_stop", "python_delete", "python_schedule", "python_upload"):
        assert signed_in.post(reverse(f"strategies:{name}", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.enabled


def test_the_schedule_form_saves_a_window_and_refuses_an_empty_one(signed_in, user):
    strategy = make_strategy(user)
    url = reverse("strategies:python_schedule", args=[strategy.pk])
    response = signed_in.post(url, {"days": ["0", "4"], "window_start": "21:00", "window_end": "02:30"})
    assert response.status_code == 302
    strategy.refresh_from_db()
    assert (strategy.always_on, strategy.days, strategy.window_start, strategy.window_end) == (
        False, "0,4", time(21, 0), time(2, 30))
    response = signed_in.post(url, {"window_start": "09:15", "window_end": "09:15"})
    assert response.status_code == 400
    assert b"Pick at least one day" in response.content and b"an end different from its start" in response.content
    assert signed_in.post(url, {"window_start": "25:99", "window_end": "x"}).status_code == 400
    response = signed_in.post(url, {"always_on": "on", "window_start": "09:15", "window_end": "15:30"})
    strategy.refresh_from_db()
    assert response.status_code == 302 and strategy.always_on


def test_editing_in_the_browser_saves_a_file_and_checks_its_syntax(signed_in, user):
    strategy = make_strategy(user)
    url = reverse("strategies:python_edit", args=[strategy.pk])
    page = signed_in.get(url)
    assert page.status_code == 200 and b"print(&#x27;x&#x27;)" in page.content
    response = signed_in.post(url, {"path": "main.py", "content": "import time\r\ntime.sleep(1)\r\n", "entry": "on"})
    assert response.status_code == 302
    assert HostedFile.objects.get(strategy=strategy, path="main.py").content == "import time\ntime.sleep(1)\n"
    response = signed_in.post(url, {"path": "main.py", "content": "if True print(1)\n"})
    assert response.status_code == 400 and b"main.py, line 1" in response.content
    assert signed_in.post(url, {"path": "/etc/passwd.py", "content": ""}).status_code == 400
    assert signed_in.post(url, {"path": "../x.py", "content": ""}).status_code == 400
    signed_in.post(url, {"path": "helpers.py", "content": "X = 1\n"})
    assert sorted(strategy.files.values_list("path", flat=True)) == ["helpers.py", "main.py"]


def test_replacing_the_code_by_upload(signed_in, user):
    strategy = make_strategy(user)
    response = signed_in.post(reverse("strategies:python_upload", args=[strategy.pk]),
                              {"code": zipped({"main.py": "A = 1\n", "x.py": "B = 2\n"})})
    assert response.status_code == 302
    assert sorted(strategy.files.values_list("path", flat=True)) == ["main.py", "x.py"]
    response = signed_in.post(reverse("strategies:python_upload", args=[strategy.pk]), {})
    assert response.status_code == 400


def test_the_log_fragment_shows_the_latest_lines_and_the_reason_it_ended(signed_in, user):
    strategy = make_strategy(user, status=HostedStrategy.Status.BACKOFF, last_exit_kind="cpu",
                             last_exit="killed: CPU time limit of 60 s reached (an endless loop?)")
    folders = process.folders_for(strategy.pk)
    folders.logs.mkdir(parents=True)
    folders.log.write_text("".join(f"2026-11-30 10:00:{n % 60:02d} | line {n}\n" for n in range(500)))
    response = signed_in.get(reverse("strategies:python_log", args=[strategy.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "line 499" in body and "line 299" not in body  # the last 200 lines
    assert "killed: CPU time limit of 60 s reached" in body and 'hx-trigger="every 2s' in body
    detail = signed_in.get(reverse("strategies:python_detail", args=[strategy.pk]))
    assert detail.status_code == 200 and "line 499" in detail.content.decode()


def test_deleting_removes_it_and_asks_a_worker_to_clean_up(signed_in, user, django_capture_on_commit_callbacks):
    strategy = make_strategy(user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = signed_in.post(reverse("strategies:python_delete", args=[strategy.pk]))
    assert response.status_code == 302 and not HostedStrategy.objects.exists()
    assert len(callbacks) == 1


def test_pages_need_a_signed_in_user(client, user):
    strategy = make_strategy(user)
    for url in (reverse("strategies:python"), reverse("strategies:python_detail", args=[strategy.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response.url
