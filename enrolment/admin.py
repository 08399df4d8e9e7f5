"""Admin of persons, tickets, the RA office's configuration and applications, and remote
onboarding. Pages about people are audited lookups (``audit.lookups``); the support desk
reads them, and nobody reads a ticket code, a sealed blob or biometric evidence here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html_join

from accounts.models import Account, Person
from audit.lookups import AuditedLookupAdmin
from audit.services import audit_record
from core.admin import ReadOnlyAdmin, StrictAdmin, admin_actor
from enrolment.models import (
    Application,
    Branch,
    Officer,
    OnboardingApplication,
    RegistrationAuthority,
    RegistrationTicket,
    RegistryPerson,
)
from enrolment.services import ticket_create

ISSUE_TICKET = "accounts.issue_ticket"
BIOMETRICS = "enrolment.view_biometric_data"


def _actor(request: HttpRequest) -> str:
    return admin_actor(request)


@admin.action(description="Create a registration ticket (qualified)", permissions=["issue_ticket"])
def create_ticket(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Person]) -> None:
    for person in queryset:
        _, code = ticket_create(
            person=person,
            identity_source=RegistrationTicket.Source.ADMIN,
            level=Account.Level.QUALIFIED,
            created_by=_actor(request),
        )
        modeladmin.message_user(request, f"Ticket for {person}: {code}", messages.SUCCESS)


#: Where the support desk looks further from a person: (admin URL name, label).
PERSON_LINKS = (
    ("accounts_account", "Accounts"),
    ("accounts_device", "Devices"),
    ("enrolment_registrationticket", "Registration tickets"),
    ("enrolment_application", "RA applications"),
    ("enrolment_onboardingapplication", "Remote onboardings"),
)


@admin.register(Person)
class PersonAdmin(AuditedLookupAdmin):
    list_display = ("semantics_identifier", "surname", "given_name", "country", "date_of_birth")
    search_fields = ("semantics_identifier__exact",)
    search_help_text = "The exact identifier, e.g. PNOEE-38001085718."
    readonly_fields = ("related",)
    actions = [create_ticket]

    def lookup_subject(self, obj: Person) -> str:
        return obj.semantics_identifier

    def has_issue_ticket_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(ISSUE_TICKET))

    @admin.display(description="Look further")
    def related(self, obj: Person) -> str:
        links = (
            (reverse(f"admin:{name}_changelist"), obj.semantics_identifier, label)
            for name, label in PERSON_LINKS
        )
        return format_html_join(" · ", '<a href="{}?q={}">{}</a>', links)


@admin.register(RegistrationTicket)
class RegistrationTicketAdmin(AuditedLookupAdmin):
    """Made by services (Person admin action, RA office, portal); the code is never stored."""

    list_display = ("person", "identity_source", "level", "created_by", "expires_at", "used_at")
    list_filter = ("identity_source", "level")
    list_select_related = ("person",)
    date_hierarchy = "created_at"
    search_fields = ("person__semantics_identifier__exact",)
    search_help_text = "The person's exact identifier."
    exclude = ("code_hash",)

    def lookup_subject(self, obj: RegistrationTicket) -> str:
        return obj.person.semantics_identifier


# --- RA office (issue 6) ----------------------------------------------------------------


@admin.register(RegistrationAuthority)
class RegistrationAuthorityAdmin(StrictAdmin):
    """Configuration made by operators; every change is audited."""

    list_display = ("code", "name")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=admin_actor(request),
                action="ra.authority_updated" if change else "ra.authority_created",
                object_type="enrolment.RegistrationAuthority",
                object_id=obj.pk,
                data={"code": obj.code, "name": obj.name},
            )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Branch)
class BranchAdmin(StrictAdmin):
    """Configuration made by operators; every change is audited."""

    list_display = ("code", "name", "authority")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=admin_actor(request),
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
class ApplicationAdmin(AuditedLookupAdmin):
    """Written by the RA office services only; the history is in the audit log."""

    list_display = ("number", "semantics_identifier", "state", "branch", "created_by", "created_at")
    list_filter = ("state", "branch")
    list_select_related = ("branch__authority", "created_by__user", "created_by__branch")
    date_hierarchy = "created_at"
    search_fields = ("number__exact", "semantics_identifier__exact")
    search_help_text = "An exact application number or the applicant's exact identifier."
    exclude = ("ticket_code_sealed", "signed_scan")

    def lookup_subject(self, obj: Application) -> str:
        return obj.semantics_identifier


@admin.register(OnboardingApplication)
class OnboardingApplicationAdmin(AuditedLookupAdmin):
    """Remote onboarding, written by its pipeline only. Evidence (chip files, selfie
    frames) has no page; the liveness and face-comparison data are for holders of
    ``enrolment.view_biometric_data`` (no role)."""

    list_display = ("id", "source", "state", "level", "person", "created_at", "decided_at")
    list_filter = ("state", "source", "level")
    list_select_related = ("person",)
    date_hierarchy = "created_at"
    search_fields = ("person__semantics_identifier__exact", "id__exact")
    search_help_text = "The person's exact identifier, or the application's id."
    exclude = ("token_hash", "aa_challenge", "secondary_code_hash", "ticket_code_box")
    restricted_fields = {
        BIOMETRICS: ("face_distance", "liveness_steps", "liveness_issued_at", "liveness_deadline")
    }

    def lookup_subject(self, obj: OnboardingApplication) -> str:
        if obj.person is not None:
            return obj.person.semantics_identifier
        return str(obj.identity.get("semantics_identifier", "")) if obj.identity else ""
