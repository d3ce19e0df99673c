"""First run writes the three secrets to a private .env once; existing values win."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor

from openalgo.localenv import GENERATED_SECRETS, ensure_local_secrets


def _values(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_missing_secrets_are_generated_into_a_private_file(tmp_path, monkeypatch):
    for name in GENERATED_SECRETS:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / ".env"
    added = ensure_local_secrets(path)
    assert sorted(added) == sorted(GENERATED_SECRETS)
    values = _values(path)
    assert len(values["SECRET_KEY"]) >= 50 and len(values["API_KEY_PEPPER"]) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    from cryptography.fernet import Fernet

    Fernet(values["FERNET_KEYS"].encode())  # a valid Fernet key


def test_a_second_run_changes_nothing(tmp_path, monkeypatch):
    for name in GENERATED_SECRETS:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / ".env"
    ensure_local_secrets(path)
    before = path.read_text()
    assert ensure_local_secrets(path) == []
    assert path.read_text() == before


def test_values_already_in_the_file_or_environment_are_kept(tmp_path, monkeypatch):
    for name in GENERATED_SECRETS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    path = tmp_path / ".env"
    path.write_text("API_KEY_PEPPER=mine\nDEBUG=false")
    assert ensure_local_secrets(path) == ["FERNET_KEYS"]
    values = _values(path)
    assert values["API_KEY_PEPPER"] == "mine" and "SECRET_KEY" not in values and values["DEBUG"] == "false"


def test_processes_starting_together_agree_on_one_value(tmp_path, monkeypatch):
    for name in GENERATED_SECRETS:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / ".env"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: ensure_local_secrets(path), range(8)))
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert sorted(line.split("=")[0] for line in lines) == sorted(GENERATED_SECRETS)
