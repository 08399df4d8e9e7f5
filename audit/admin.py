"""The audit log, read-only; auditors verify its hash chain from here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from audit.models import AuditRecord
from audit.services import audit_chain_verify, audit_record
from core.admin import ReadOnlyAdmin, admin_actor
from core.net import client_address

VERIFY_PERMISSION = "audit.verify_audit_chain"


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    """Read-only: the log is written by services only."""

    list_display = ("sequence", "created_at", "actor", "action", "object_type", "object_id")
    # No list filters: each would read every row for its distinct values on every page
    # (the exact searches below find an action, an actor or an object instead).
    date_hierarchy = "created_at"
    # Newest first, along the created_at index (which a month's page also ranges over).
    ordering = ("-created_at", "-sequence")
    search_fields = ("actor__exact", "object_id__exact", "action__exact")
    search_help_text = "An exact actor (admin:olga), object id or action (admin.lookup)."

    def get_urls(self) -> list[URLPattern]:
        verify = path(
            "verify/",
            self.admin_site.admin_view(self.verify_view),
            name="audit_auditrecord_verify",
        )
        return [verify, *super().get_urls()]

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        """``manage.py verify_audit_chain`` from the admin: GET asks, POST verifies.

        A run is itself recorded (who verified, and what they found).
        """
        if not request.user.has_perm(VERIFY_PERMISSION):
            raise PermissionDenied
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Verify the audit chain",
            "opts": self.model._meta,
            "explanation": [
                "Recomputes the hash of every record in insertion order and compares the "
                "last one with the head row: an edited, deleted, reordered or truncated "
                "record shows as the first broken link. It reads the whole log.",
            ],
            "form": forms.Form(),
            "submit_label": "Verify now",
        }
        if request.method == "POST":
            broken = audit_chain_verify()
            count = AuditRecord.objects.count()
            if broken is None:
                context["result"] = f"Audit chain intact: {count} records."
                context["result_class"] = "success"
            else:
                context["result"] = (
                    f"Audit chain broken at sequence {broken.sequence}: {broken.reason}"
                )
                context["result_class"] = "errornote"
            audit_record(
                actor=admin_actor(request),
                action="audit.chain_verified",
                object_type="audit.AuditRecord",
                object_id="",
                data={"intact": broken is None, "records": count},
                source_ip=client_address(request) or None,
            )
        return TemplateResponse(request, "admin/operator_form.html", context)
