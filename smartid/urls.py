from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from smartid import views

urlpatterns = [
    path("health", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language (POST)
    path("portal/", include("portal.urls")),
    path("ra/", include("ra_office.urls")),
    path("app/v1/", include("api.app.urls")),
    path("", include("api.rp.openapi")),  # /v1/openapi.json, /v2/openapi.json
    path("", include("api.rp.urls")),
    path("", include("pki.urls")),
]
if settings.MOBILE_ID_SIMULATOR:  # the local Mobile-ID service (dev/demo/test; refused in live)
    urlpatterns.append(path("mid-api/", include("enrolment.mobileid.simulator_urls")))

handler400 = "smartid.views.bad_request"
handler403 = "smartid.views.permission_denied"
handler404 = "smartid.views.page_not_found"
handler500 = "smartid.views.server_error"
