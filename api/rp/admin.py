"""Operators add and manage relying parties here; every change is audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from api.rp.models import RelyingParty
from audit.services import audit_record


@admin.register(RelyingParty)
class RelyingPartyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("display_name", "name", "uuid", "active", "allow_advanced", "created_at")
    list_filter = ("active", "allow_advanced", "can_sign")
    search_fields = ("name", "display_name", "uuid")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # sessions refer to it: deactivate instead

    def save_model(self, request: HttpRequest, obj: RelyingParty, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=f"admin:{request.user.get_username()}",
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
