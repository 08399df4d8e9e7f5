"""Admin of the CA: everything read-only; status changes go through the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin
from pki import services
from pki.models import Certificate, CertificateAuthority, RevocationList


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(ReadOnlyAdmin):
    list_display = ("common_name", "kind", "slug", "crl_number", "created_at")
    exclude = ("certificate_der", "ocsp_certificate_der")


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def _apply(
    modeladmin: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    queryset: QuerySet[Certificate],
    change: Any,
    verb: str,
) -> None:
    done = 0
    for certificate in queryset:
        try:
            change(certificate=certificate, actor=_actor(request))
            done += 1
        except services.PkiError as exc:
            modeladmin.message_user(request, f"{certificate}: {exc.message}", messages.WARNING)
    modeladmin.message_user(request, f"{done} certificate(s) {verb}.")


def _revoke_as(reason: str) -> Callable[..., None]:
    """The revocation with a fixed reason, in the shape ``_apply`` calls."""

    def change(*, certificate: Certificate, actor: str) -> None:
        services.certificate_revoke(certificate=certificate, reason=reason, actor=actor)

    return change


@admin.action(description="Revoke (reason: unspecified)", permissions=["view"])
def revoke(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Certificate]) -> None:
    _apply(modeladmin, request, queryset, _revoke_as(Certificate.Reason.UNSPECIFIED), "revoked")


@admin.action(description="Revoke (reason: key compromise)", permissions=["view"])
def revoke_compromised(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[Certificate]
) -> None:
    _apply(modeladmin, request, queryset, _revoke_as(Certificate.Reason.KEY_COMPROMISE), "revoked")


@admin.action(description="Suspend (certificate hold)", permissions=["view"])
def hold(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Certificate]) -> None:
    _apply(modeladmin, request, queryset, services.certificate_hold, "put on hold")


@admin.action(description="Resume from hold", permissions=["view"])
def release(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Certificate]) -> None:
    _apply(modeladmin, request, queryset, services.certificate_release, "released")


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ("document_number", "purpose", "level", "status", "serial_number", "not_after")
    list_filter = ("status", "purpose", "level", "issuer")
    search_fields = ("document_number", "serial_number", "subject")
    exclude = ("der",)
    actions = [revoke, revoke_compromised, hold, release]


@admin.register(RevocationList)
class RevocationListAdmin(ReadOnlyAdmin):
    list_display = ("issuer", "number", "this_update", "next_update")
    exclude = ("der",)
