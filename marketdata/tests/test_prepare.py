"""`manage.py prepare` (what `make run` does before the processes start): every step runs
when needed and is skipped when already done, on the test database."""

from __future__ import annotations

import io
import json
import os

import pytest
from django.core.management import call_command
from django.test import override_settings

from brokers.models import Instrument
from marketdata.management.commands import prepare

pytestmark = pytest.mark.django_db(transaction=True)


def run(**options: object) -> list[str]:
    out = io.StringIO()
    call_command("prepare", wait=True, stdout=out, **options)
    return out.getvalue().splitlines()


@pytest.fixture
def var_dir(tmp_path, settings):
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.js").write_text("console.log(1)")
    settings.VAR_DIR = tmp_path
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STATICFILES_DIRS = [static]
    settings.METRICS_DIR = tmp_path / "metrics"
    return tmp_path


def test_second_run_does_nothing_and_a_changed_static_file_is_collected_again(var_dir):
    first = run()
    assert "prepare: database up to date" in first  # the test database is migrated
    assert "prepare: collecting static files" in first
    assert any(line.startswith("prepare: sandbox instruments for today: ") for line in first)
    assert (var_dir / "staticfiles" / "staticfiles.json").is_file()
    assert Instrument.objects.filter(broker="sandbox").exists()

    assert run() == ["prepare: database up to date", "prepare: static files unchanged",
                     "prepare: sandbox instruments loaded for today"]

    script = var_dir / "static" / "app.js"
    script.write_text("console.log(2)")
    os.utime(script, ns=(script.stat().st_atime_ns, script.stat().st_mtime_ns + 10**9))
    assert "prepare: collecting static files" in run()
    # The manifest gone (a cleaned var/): collected again though the sources did not change.
    (var_dir / "staticfiles" / "staticfiles.json").unlink()
    assert "prepare: collecting static files" in run()


def test_universe_is_loaded_again_when_rows_went_missing_or_the_day_changed(var_dir, monkeypatch):
    run()
    stamp = json.loads((var_dir / prepare.STAMP_NAME).read_text())
    assert stamp["universe"]["rows"] == Instrument.objects.filter(broker="sandbox").count()

    Instrument.objects.filter(broker="sandbox", exchange="NSE", symbol="SBIN").delete()
    lines = run()
    assert "prepare: sandbox instruments for today: 1 added" in lines
    assert Instrument.objects.filter(broker="sandbox", exchange="NSE", symbol="SBIN").exists()

    monkeypatch.setattr(prepare, "universe_key", lambda: "another day")
    assert any(line.startswith("prepare: sandbox instruments for today: ") for line in run())
    assert "prepare: sandbox instruments loaded for today" in run()


def test_force_does_every_step(var_dir):
    run()
    forced = run(force=True)
    assert "prepare: collecting static files" in forced
    assert any(line.startswith("prepare: applying ") for line in forced)
    assert any(line.startswith("prepare: sandbox instruments for today: ") for line in forced)


def test_metrics_folder_is_emptied(var_dir):
    metrics = var_dir / "metrics"
    metrics.mkdir()
    (metrics / "counter_123.db").write_bytes(b"stale")
    with override_settings(METRICS_DIR=metrics):
        run()
    assert not list(metrics.glob("*.db"))
