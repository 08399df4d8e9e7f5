"""The demo's URLs, mounted by ``smartid/urls.py`` only when the demo app is installed."""

from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.csrf import csrf_exempt

from demo import mockservice, views

app_name = "demo"

urlpatterns: list[URLPattern | URLResolver] = [
    path("portal/virtual-card/token", views.virtual_card_token, name="virtual-card-token"),
    # A protocol endpoint for programs (no cookies, no session): no CSRF token.
    path(
        "portal/virtual-card/ocsp", csrf_exempt(views.virtual_card_ocsp), name="virtual-card-ocsp"
    ),
    path("portal/virtual-card/ca.crt", views.virtual_card_ca, name="virtual-card-ca"),
    # SK's mock service for v3 device links (docs/demo.md); csrf_exempt in the view.
    path("mock/device-link", mockservice.device_link, name="mock-device-link"),
    # The demo relying party: an e-service built on the SDK (docs/demo.md).
    path("demo-rp/", include("demo.rp.urls")),
]
if settings.MOBILE_ID_SIMULATOR:  # the local Mobile-ID service
    urlpatterns.append(path("mid-api/", include("demo.mobileid.urls")))
