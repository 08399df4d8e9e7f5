from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.csrf import csrf_exempt

from portal import views

app_name = "portal"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("login", views.login, name="login"),
    path("login/challenge", views.login_challenge, name="login-challenge"),
    path("login/web-eid", views.login_token, name="login-token"),
    path("login/certificate", views.login_certificate, name="login-certificate"),
    path("logout", views.logout, name="logout"),
    path("accounts", views.accounts, name="accounts"),
    path("accounts/<uuid:account_id>", views.account_detail, name="account"),
    path(
        "accounts/<uuid:account_id>/certificates/<str:purpose>.pem",
        views.certificate_pem,
        name="certificate-pem",
    ),
    path(
        "accounts/<uuid:account_id>/<slug:action>",
        views.account_action,
        name="account-action",
    ),
    path("register", views.register, name="register"),
    path("contact", views.contact, name="contact"),
    path("contact/verify/<str:token>", views.verify_email, name="verify-email"),
]

if settings.PORTAL_VIRTUAL_CARD:  # never in live (smartid.checks); the views check too
    urlpatterns += [
        path("virtual-card/token", views.virtual_card_token, name="virtual-card-token"),
        # A protocol endpoint for programs (no cookies, no session): no CSRF token.
        path("virtual-card/ocsp", csrf_exempt(views.virtual_card_ocsp), name="virtual-card-ocsp"),
        path("virtual-card/ca.crt", views.virtual_card_ca, name="virtual-card-ca"),
    ]
