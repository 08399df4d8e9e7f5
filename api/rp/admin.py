"""Operators add and manage relying parties here; every change is audited.

RP managers (``smartid.roles``) add and change relying parties (their addresses and
permissions) and read their sessions; nobody deletes one (sessions refer to it).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from api.rp.models import RelyingParty, RpSession
from audit.services import audit_record
from core.admin import ReadOnlyAdmin, StrictAdmin, admin_actor


@admin.register(RelyingParty)
class RelyingPartyAdmin(StrictAdmin):
    list_display = ("display_name", "name", "uuid", "active", "allow_advanced", "created_at")
    list_filter = ("active", "allow_advanced", "can_sign")
    search_fields = ("name__iexact", "display_name__icontains", "uuid__exact")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # sessions refer to it: deactivate instead

    def save_model(self, request: HttpRequest, obj: RelyingParty, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=admin_actor(request),
            action="rp.updated" if change else "rp.created",
            object_type="rp.RelyingParty",
            object_id=obj.pk,
            data={
                "uuid": str(obj.uuid),
                "name": obj.name,
                "networks": obj.allowed_networks,
                "active": obj.active,
                "allow_advanced": obj.allow_advanced,
            },
        )


@admin.register(RpSession)
class RpSessionAdmin(ReadOnlyAdmin):
    """The RP API's sessions, read-only; a device link's token and HMAC key never show."""

    list_display = ("id", "kind", "relying_party", "api_version", "flow", "created_at")
    list_filter = ("kind", "api_version", "flow", "certificate_level")
    list_select_related = ("relying_party",)
    date_hierarchy = "created_at"
    search_fields = ("id__exact",)
    search_help_text = "The exact session id."
    exclude = ("session_token", "session_secret", "fingerprint")
