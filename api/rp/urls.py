from __future__ import annotations

from django.urls import include, re_path

from api.rp import views

_VERSION = r"^v(?P<version>[12])/"
_TARGET = r"(?P<target_kind>etsi|document)/(?P<target>[^/]{1,100})$"

urlpatterns = [
    re_path(_VERSION + r"authentication/" + _TARGET, views.AuthenticationStart.as_view()),
    re_path(_VERSION + r"signature/" + _TARGET, views.SignatureStart.as_view()),
    re_path(_VERSION + r"certificatechoice/" + _TARGET, views.CertificateChoiceStart.as_view()),
    # One long poll for every version; a session answers only under its own version.
    re_path(r"^v(?P<version>[123])/session/(?P<session_id>[^/]{1,100})$", views.session_status),
    re_path("", include("api.rp.v3.urls")),
]
