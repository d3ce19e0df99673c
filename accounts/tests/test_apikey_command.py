"""`manage.py apikey USERNAME` issues a working key and prints it alone on the last line."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from accounts import apikeys


def test_the_command_prints_a_fresh_key_alone_on_the_last_line_and_it_authenticates(user, post_json):
    out = io.StringIO()
    call_command("apikey", user.username, stdout=out, stderr=io.StringIO())
    key = out.getvalue().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    response = post_json("/api/v1/ping", {"apikey": key})
    assert response.status_code == 200
    assert response.json() == {"status": "success", "data": {"message": "pong", "broker": "sandbox"}}


def test_running_it_again_revokes_the_previous_key(user):
    first, second = io.StringIO(), io.StringIO()
    call_command("apikey", user.username, stdout=first, stderr=io.StringIO())
    call_command("apikey", user.username, stdout=second, stderr=io.StringIO())
    old, new = first.getvalue().split()[-1], second.getvalue().split()[-1]
    assert old != new
    assert apikeys.user_for_key(old) is None
    assert apikeys.user_for_key(new) == user


def test_an_unknown_username_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("apikey", "ghost", stdout=io.StringIO(), stderr=io.StringIO())
