from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest

from audit.services import audit_record
from enrolment.models import (
    Application,
    Branch,
    Officer,
    RegistrationAuthority,
    RegistrationTicket,
    RegistryPerson,
)
from smartid.admin import ReadOnlyAdmin


@admin.register(RegistrationTicket)
class RegistrationTicketAdmin(ReadOnlyAdmin):
    """Made by services (Person admin action, RA office, portal); the code is never stored."""

    list_display = ("person", "identity_source", "level", "created_by", "expires_at", "used_at")
    list_filter = ("identity_source", "level")
    exclude = ("code_hash",)


# --- RA office (issue 6) ----------------------------------------------------------------


@admin.register(RegistrationAuthority)
class RegistrationAuthorityAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Configuration made by operators; every change is audited."""

    list_display = ("code", "name")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=f"admin:{request.user.get_username()}",
                action="ra.authority_updated" if change else "ra.authority_created",
                object_type="enrolment.RegistrationAuthority",
                object_id=obj.pk,
                data={"code": obj.code, "name": obj.name},
            )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Configuration made by operators; every change is audited."""

    list_display = ("code", "name", "authority")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=f"admin:{request.user.get_username()}",
                action="ra.branch_updated" if change else "ra.branch_created",
                object_type="enrolment.Branch",
                object_id=obj.pk,
                data={"code": obj.code, "name": obj.name, "authority": obj.authority.code},
            )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Officer)
class OfficerAdmin(ReadOnlyAdmin):
    """Made by ``manage.py create_officer``; lock-outs clear themselves."""

    list_display = ("user", "role", "branch", "totp_confirmed", "locked_until")
    list_filter = ("role", "branch")


@admin.register(RegistryPerson)
class RegistryPersonAdmin(ReadOnlyAdmin):
    """The local population registry (the demo's and the tests' default backend)."""

    list_display = ("semantics_identifier", "given_name", "surname", "date_of_birth", "status")
    search_fields = ("semantics_identifier", "surname")


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    """Written by the RA office services only; the history is in the audit log."""

    list_display = ("number", "semantics_identifier", "state", "branch", "created_by", "created_at")
    list_filter = ("state", "branch")
    search_fields = ("number", "semantics_identifier", "surname")
    exclude = ("ticket_code_sealed", "signed_scan")
