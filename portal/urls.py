from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

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
