"""The Broker page: every installed live broker with this user's state there, app
credentials entered through a CSRF-protected form and stored encrypted, and the login
started from it with this platform's redirect URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from accounts.models import BrokerCredential
from accounts.services import store_broker_session


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def test_the_page_lists_the_live_brokers_with_the_redirect_url_to_register(signed_in):
    page = signed_in.get("/broker/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-broker="fakelive"' in html and 'data-broker="sandbox"' not in html
    assert "http://testserver/fakelive/callback" in html and "not set" in html


def test_credentials_are_saved_encrypted_and_never_shown_back(signed_in, user):
    response = signed_in.post("/broker/fakelive/credentials/",
                              {"client_id": "FL01", "api_key": "my-app-key", "api_secret": "my-app-secret"})
    assert response.status_code == 302 and response["Location"] == "/broker/"
    row = BrokerCredential.objects.get(user=user, broker="fakelive")
    assert row.client_id == "FL01" and row.reveal("api_key") == "my-app-key"
    assert "my-app-key" not in row.api_key_encrypted and "my-app-secret" not in row.api_secret_encrypted
    form = signed_in.get("/broker/fakelive/credentials/").content.decode()
    assert "my-app-key" not in form and "my-app-secret" not in form and "Saved. Leave empty to keep it." in form
    # Leaving the secrets empty keeps them; the client id changes.
    signed_in.post("/broker/fakelive/credentials/", {"client_id": "FL02", "api_key": "", "api_secret": ""})
    row.refresh_from_db()
    assert (row.client_id, row.reveal("api_key"), row.reveal("api_secret")) == ("FL02", "my-app-key", "my-app-secret")


def test_bad_input_is_a_clear_400_and_stores_nothing(signed_in, user):
    response = signed_in.post("/broker/fakelive/credentials/", {"client_id": "", "api_key": "", "api_secret": ""})
    assert response.status_code == 400 and "Enter the API key" in response.content.decode()
    response = signed_in.post("/broker/fakelive/credentials/", {"api_key": "has space", "api_secret": "x"})
    assert response.status_code == 400 and "No spaces" in response.content.decode()
    assert not BrokerCredential.objects.filter(user=user).exists()
    assert signed_in.get("/broker/nosuchbroker/credentials/").status_code == 404


def test_the_form_needs_its_csrf_token(user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    response = strict.post("/broker/fakelive/credentials/", {"api_key": "k", "api_secret": "s"})
    assert response.status_code == 403
    assert not BrokerCredential.objects.filter(user=user).exists()


def test_one_users_credentials_are_not_anothers(signed_in, user, django_user_model):
    other = django_user_model.objects.create_user("other", password="pw-other-123456")
    signed_in.post("/broker/fakelive/credentials/", {"api_key": "mine", "api_secret": "s"})
    second = Client()
    second.force_login(other)
    assert "saved" not in second.get("/broker/").content.decode().split('data-broker="fakelive"')[1].split("</tr>")[0]


def test_log_in_goes_to_the_brokers_page_with_our_redirect_url_and_without_keys_says_what_to_do(signed_in, user):
    response = signed_in.get("/broker/fakelive/login/")
    assert response.status_code == 302 and response["Location"] == "/broker/"
    assert "Enter your fakelive API key" in signed_in.get("/broker/").content.decode()
    signed_in.post("/broker/fakelive/credentials/", {"api_key": "fl-app-key", "api_secret": "s"})
    response = signed_in.get("/broker/fakelive/login/")
    target = urlsplit(response["Location"])
    assert target.netloc == "fakelive.invalid" and parse_qs(target.query)["api_key"] == ["fl-app-key"]


def test_a_live_session_shows_with_its_expiry(signed_in, user):
    signed_in.post("/broker/fakelive/credentials/", {"api_key": "k", "api_secret": "s"})
    store_broker_session(user=user, broker="fakelive", access_token="tok")
    html = signed_in.get("/broker/").content.decode()
    assert "LIVE</span> until" in html and "Log out" in html


def test_the_login_hands_the_broker_our_callback_url(signed_in, user, monkeypatch):
    from brokers import registry

    seen = []
    login = registry.login_for("fakelive")

    class Recording:
        kind, expiry = login.kind, login.expiry

        def authorize_url(self, credentials, state):
            seen.append(credentials.redirect_uri)
            return "https://broker.invalid/login"

    monkeypatch.setitem(registry._logins, "fakelive", Recording())
    signed_in.post("/broker/fakelive/credentials/", {"api_key": "k", "api_secret": "s"})
    assert signed_in.get("/broker/fakelive/login/")["Location"] == "https://broker.invalid/login"
    assert seen == ["http://testserver/fakelive/callback"]
