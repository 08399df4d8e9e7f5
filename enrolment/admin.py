from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Account, Person
from audit.services import audit_record
from core.admin import ReadOnlyAdmin
from enrolment.models import (
    Application,
    Branch,
    Officer,
    RegistrationAuthority,
    RegistrationTicket,
    RegistryPerson,
)
from enrolment.services import ticket_create


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


@admin.action(description="Create a registration ticket (qualified)", permissions=["view"])
def create_ticket(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Person]) -> None:
    for person in queryset:
        _, code = ticket_create(
            person=person,
            identity_source=RegistrationTicket.Source.ADMIN,
            level=Account.Level.QUALIFIED,
            created_by=_actor(request),
        )
        modeladmin.message_user(request, f"Ticket for {person}: {code}", messages.SUCCESS)


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ("semantics_identifier", "surname", "given_name", "country", "date_of_birth")
    search_fields = ("semantics_identifier", "surname", "given_name", "email")
    actions = [create_ticket]


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
    """Made by ``manage.py create_officer``; login lock-outs live in the cache and clear
    themselves (``ra_office.throttle``)."""

    list_display = ("user", "role", "branch", "totp_confirmed")
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
