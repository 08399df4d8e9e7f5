"""The demo RP's URLs, mounted at ``/demo-rp/`` by ``demo.urls``."""

from __future__ import annotations

from django.urls import URLPattern, path

from demo.rp import views

app_name = "rp"

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("login", views.login, name="login"),
    path("login/qr", views.login_qr, name="login-qr"),
    path("login/status", views.login_status, name="login-status"),
    path("login/code", views.login_notification, name="login-code"),
    path("login/wait", views.login_wait, name="login-wait"),
    path("callback", views.callback, name="callback"),
    path("welcome", views.welcome, name="welcome"),
    path("logout", views.logout, name="logout"),
    path("sign", views.sign, name="sign"),
    path("sign/signer", views.sign_signer, name="sign-signer"),
    path("sign/code", views.sign_notification, name="sign-code"),
    path("sign/device-link", views.sign_device_link, name="sign-device-link"),
    path("sign/wait", views.sign_wait, name="sign-wait"),
    path("sign/qr", views.sign_qr, name="sign-qr"),
    path("sign/status", views.sign_status, name="sign-status"),
    path("sign/done", views.sign_done, name="sign-done"),
    path("sign/download", views.sign_download, name="sign-download"),
    path("tsa-ca.crt", views.tsa_certificate, name="tsa-ca"),
]
