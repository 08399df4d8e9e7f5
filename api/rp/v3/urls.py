"""The RP API v3 operations (docs/spec/rp-api.md §5); the status is in api.rp.urls."""

from __future__ import annotations

from django.urls import re_path

from api.rp.v3 import views

_ID = r"(?P<target>[^/]{1,100})$"
_TARGET = r"(?P<target_kind>etsi|document)/" + _ID
_DOCUMENT = {"target_kind": "document"}

urlpatterns = [
    re_path(r"^v3/authentication/device-link/anonymous$", views.AuthenticationDeviceLink.as_view()),
    re_path(r"^v3/authentication/device-link/" + _TARGET, views.AuthenticationDeviceLink.as_view()),
    re_path(
        r"^v3/authentication/notification/" + _TARGET, views.AuthenticationNotification.as_view()
    ),
    re_path(r"^v3/signature/device-link/" + _TARGET, views.SignatureDeviceLink.as_view()),
    re_path(
        r"^v3/signature/notification/linked/" + _ID, views.SignatureLinked.as_view(), _DOCUMENT
    ),
    re_path(r"^v3/signature/notification/" + _TARGET, views.SignatureNotification.as_view()),
    re_path(r"^v3/signature/certificate/" + _ID, views.SigningCertificate.as_view()),
    re_path(
        r"^v3/signature/certificate-choice/device-link/anonymous$",
        views.CertificateChoiceDeviceLink.as_view(),
    ),
    re_path(
        r"^v3/signature/certificate-choice/notification/etsi/" + _ID,
        views.CertificateChoiceNotification.as_view(),
        {"target_kind": "etsi"},
    ),
]
