"""Admin of the CA: everything read-only; status changes go through the services.

CA operators revoke, hold and release certificates and publish CRLs, each time with a
reason that the audit record keeps (``pki.revoke_certificate``, ``pki.publish_crl``).
A revocation (final, and a CRL signed per certificate: a bulk one takes a while) is sent
to a worker as the idempotent task ``pki.tasks.revoke_certificate`` once the request
commits — at once where tasks are eager; a hold or release (reversible) happens in the
request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from audit.lookups import AuditedLookupAdmin
from core.admin import ReadOnlyAdmin, admin_actor, ask_then_apply, reason_field
from core.errors import DomainError
from pki import services
from pki.crl import crl_publish
from pki.models import Certificate, CertificateAuthority, RevocationList
from pki.tasks import revoke_certificate

REVOKE = "pki.revoke_certificate"
PUBLISH_CRL = "pki.publish_crl"
KEY_MATERIAL = "signing.view_key_material"


class NoteForm(forms.Form):
    note = reason_field()


class RevokeForm(NoteForm):
    reason = forms.ChoiceField(
        label="Revocation reason (RFC 5280)",
        choices=[
            (value, label)
            for value, label in Certificate.Reason.choices
            if value != Certificate.Reason.CERTIFICATE_HOLD
        ],
        help_text="Published in the CRL and in OCSP answers. To suspend, hold instead.",
    )
    field_order = ["reason", "note"]


def _apply(
    modeladmin: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    queryset: QuerySet[Certificate],
    change: Callable[..., Any],
    verb: str,
) -> None:
    done = 0
    for certificate in queryset:
        try:
            change(certificate=certificate, actor=admin_actor(request))
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{certificate}: {exc.message}", messages.WARNING)
    modeladmin.message_user(request, f"{done} certificate(s) {verb}.")


@admin.action(description="Revoke… (asks for a reason)", permissions=["revoke"])
def revoke(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Certificate]) -> Any:
    def apply(data: dict[str, Any]) -> None:
        def change(*, certificate: Certificate, actor: str) -> None:
            if certificate.status == Certificate.Status.REVOKED:
                raise services.InvalidTransition("Revoked already.")
            transaction.on_commit(
                functools.partial(
                    revoke_certificate.delay, certificate.pk, data["reason"], actor, data["note"]
                )
            )  # not robust: a broker that is down is the operator's error page, not silence

        _apply(modeladmin, request, queryset, change, "sent for revocation")

    return ask_then_apply(
        modeladmin,
        request,
        queryset,
        form_class=RevokeForm,
        title="Revoke certificates",
        consequences="Revocation is final: the certificates below can never be used again "
        "and appear in the next CRL.",
        apply=apply,
    )


def _note_action(
    name: str, service: Callable[..., Any], verb: str, title: str, consequences: str
) -> Callable[[Any, HttpRequest, QuerySet[Certificate]], HttpResponse | None]:
    """A status change that asks for the operator's reason first."""

    def action(
        modeladmin: Any, request: HttpRequest, queryset: QuerySet[Certificate]
    ) -> HttpResponse | None:
        def apply(data: dict[str, Any]) -> None:
            def change(*, certificate: Certificate, actor: str) -> None:
                service(certificate=certificate, actor=actor, note=data["note"])

            _apply(modeladmin, request, queryset, change, verb)

        return ask_then_apply(
            modeladmin,
            request,
            queryset,
            form_class=NoteForm,
            title=title,
            consequences=consequences,
            apply=apply,
        )

    action.__name__ = name
    return action


hold = admin.action(description="Suspend (certificate hold)…", permissions=["revoke"])(
    _note_action(
        "hold",
        services.certificate_hold,
        "put on hold",
        "Hold certificates",
        "OCSP and the CRL will say revoked (certificateHold) until the hold is released.",
    )
)
release = admin.action(description="Resume from hold…", permissions=["revoke"])(
    _note_action(
        "release",
        services.certificate_release,
        "released",
        "Release certificates from hold",
        "The certificates become good again and leave the next CRL.",
    )
)


@admin.action(description="Publish a CRL now…", permissions=["publish_crl"])
def publish_crl(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[CertificateAuthority]
) -> HttpResponse | None:
    def apply(data: dict[str, Any]) -> None:
        for ca in queryset:
            published = crl_publish(ca=ca, actor=admin_actor(request), note=data["note"])
            modeladmin.message_user(request, f"{ca}: CRL number {published.number} published.")

    return ask_then_apply(
        modeladmin,
        request,
        queryset,
        form_class=NoteForm,
        title="Publish CRLs",
        consequences="Each CA below signs and publishes a full CRL with its next number now "
        "(CRLs are otherwise published after every status change and before expiry).",
        apply=apply,
    )


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(ReadOnlyAdmin):
    list_display = ("common_name", "kind", "slug", "crl_number", "created_at")
    exclude = ("certificate_der", "ocsp_certificate_der")
    readonly_fields = ("key_label", "ocsp_key_label", "crl_number")
    restricted_fields = {KEY_MATERIAL: ("key_label", "ocsp_key_label")}
    actions = [publish_crl]

    def has_publish_crl_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(PUBLISH_CRL))


@admin.register(Certificate)
class CertificateAdmin(AuditedLookupAdmin):
    list_display = ("document_number", "purpose", "level", "status", "serial_number", "not_after")
    list_filter = ("status", "purpose", "level", "issuer")
    list_select_related = ("issuer",)
    search_fields = ("document_number__exact",)
    search_help_text = "The account's exact document number."
    exclude = ("der",)
    actions = [revoke, hold, release]

    def lookup_subject(self, obj: Certificate) -> str:
        return obj.document_number

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(REVOKE))


@admin.register(RevocationList)
class RevocationListAdmin(ReadOnlyAdmin):
    list_display = ("issuer", "number", "this_update", "next_update")
    list_filter = ("issuer",)
    list_select_related = ("issuer",)
    date_hierarchy = "this_update"
    exclude = ("der",)
