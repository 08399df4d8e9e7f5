"""URLs of the Mobile-ID simulator; ``demo/urls.py`` mounts them at ``mid-api/`` only when
``MOBILE_ID_SIMULATOR`` is on (the demo app is never installed in live)."""

from __future__ import annotations

from django.urls import path, re_path

from demo.mobileid import views as simulator_views

app_name = "mobileid_simulator"

urlpatterns = [
    path("authentication", simulator_views.authentication_start, name="authentication"),
    path(
        "authentication/session/<str:session_id>",
        simulator_views.authentication_session,
        name="authentication-session",
    ),
    path("version", simulator_views.version, name="version"),
    re_path(r"^(?P<rest>.*)$", simulator_views.not_found),
]
