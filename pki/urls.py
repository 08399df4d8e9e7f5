from __future__ import annotations

from django.urls import path, re_path

from pki import views

urlpatterns = [
    path("ocsp", views.ocsp_post, name="ocsp"),
    re_path(r"^ocsp/(?P<encoded>.+)$", views.ocsp_get, name="ocsp-get"),
    path("crl/<slug:slug>.crl", views.crl, name="crl"),
    path("ca/<slug:slug>.crt", views.ca_certificate, name="ca-certificate"),
    path("pds/<str:language>", views.pds, name="pds"),
]
