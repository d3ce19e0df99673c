"""Dashboard pages of the accounts app."""

from django.urls import path

from accounts import broker_views, frame_views, security_views, views

app_name = "accounts"

urlpatterns = [
    path("setup/", views.setup, name="setup"),
    path("partials/mode-banner/", frame_views.mode_banner, name="mode_banner"),
    path("login/", views.login_view, name="login"),
    path("login/verify/", views.login_verify, name="login_verify"),
    path("logout/", views.logout_view, name="logout"),
    path("account/apikey/", views.apikey, name="apikey"),
    path("account/security/", views.security, name="security"),
    path("account/security/totp/begin/", views.totp_begin, name="totp_begin"),
    path("account/security/totp/confirm/", views.totp_confirm, name="totp_confirm"),
    path("account/security/totp/disable/", views.totp_disable, name="totp_disable"),
    path("account/password/", views.password_change, name="password_change"),
    path("account/activity/", security_views.activity, name="activity"),
    path("account/sessions/", security_views.sessions_page, name="sessions"),
    path("account/sessions/end-others/", security_views.sessions_end_others, name="sessions_end_others"),
    path("account/sessions/<int:pk>/end/", security_views.session_end, name="session_end"),
    path("password/reset/", security_views.password_reset, name="password_reset"),
    path("password/reset/email/", security_views.email_reset, name="password_reset_email"),
    path("password/reset/email/sent/", security_views.email_reset_sent, name="password_reset_email_sent"),
    path("password/reset/<uidb64>/<token>/", security_views.email_reset_confirm, name="password_reset_confirm"),
    path("broker/", broker_views.brokers_page, name="brokers"),
    path("broker/<slug:broker>/credentials/", broker_views.broker_credentials, name="broker_credentials"),
    path("broker/<slug:broker>/login/", broker_views.broker_login, name="broker_login"),
    path("broker/<slug:broker>/logout/", broker_views.broker_logout, name="broker_logout"),
    # The redirect URL registered at each OAuth broker (the reference platform's shape).
    path("<slug:broker>/callback", broker_views.broker_callback, name="broker_callback"),
]
