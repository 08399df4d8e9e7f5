"""Admin of persons, devices and accounts: state changes go through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Account, Device, Person
from enrolment.models import RegistrationTicket
from enrolment.services import ticket_create
from smartid.admin import ReadOnlyAdmin
from smartid.errors import DomainError


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


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    list_display = ("name", "platform", "person", "state", "registered_at", "last_seen_at")
    list_filter = ("state", "platform")
    exclude = ("public_key",)


@admin.action(
    description="Close the account (revoke certificates, destroy keys)", permissions=["view"]
)
def close_account(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Account]) -> None:
    from signing.services import account_close

    for account in queryset:
        try:
            account_close(account=account, actor=_actor(request), reason="closed by administrator")
        except DomainError as exc:
            modeladmin.message_user(request, f"{account}: {exc.message}", messages.WARNING)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("document_number", "person", "level", "state", "created_at", "activated_at")
    list_filter = ("state", "level")
    search_fields = ("document_number", "person__semantics_identifier")
    actions = [close_account]
