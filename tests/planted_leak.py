"""A test that leaks secrets into the log on purpose. Not collected with the suite (its
name does not match test_*.py): tests/test_secrets.py runs it alone, in a subprocess, to
see the secret scan fail that run."""

from __future__ import annotations

import logging
import warnings


def test_planted_leak(make_user):
    """Logs a password the masking cannot recognise and warns with an API key."""
    from accounts.services import create_api_key

    user = make_user(username="dave", password="planted-Horse-91-battery")
    logging.getLogger("planted").warning("dave chose planted-Horse-91-battery as a password")
    warnings.warn(f"deprecated client sent {create_api_key(user=user)}", UserWarning, stacklevel=1)
