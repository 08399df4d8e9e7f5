from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from smartid import health, metrics, views

# The admin's "View site" link: the landing page, which links every face of the service.
admin.site.site_url = "/"

urlpatterns = [
    path("", views.home, name="home"),
    # Browsers ask for /favicon.ico on every page that names none (the admin, JSON).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.ico"), permanent=True)),
    path("health", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # RP API v3 device links point here unless SMARTID_RP_V3_DEVICE_LINK_BASE says otherwise.
    path("device-link", views.device_link, name="device-link"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language (POST)
    path("portal/", include("portal.urls")),
    path("ra/", include("ra_office.urls")),
    path("app/v1/", include("api.app.urls")),
    path("", include("api.rp.openapi")),  # /v1/openapi.json, /v2/openapi.json
    path("", include("api.rp.urls")),
    path("", include("pki.urls")),
]
if apps.is_installed("demo"):  # never in live: the virtual ID-card, the Mobile-ID simulator
    urlpatterns.insert(0, path("", include("demo.urls")))

handler400 = "smartid.views.bad_request"
handler403 = "smartid.views.permission_denied"
handler404 = "smartid.views.page_not_found"
handler500 = "smartid.views.server_error"
