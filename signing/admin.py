"""Admin of split keys and transactions: no key material is ever shown."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Account
from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from signing.models import ServerKeyHalf, ServiceKey, SplitKey, Transaction
from signing.services.lifecycle import account_close


@admin.action(
    description="Close the account (revoke certificates, destroy keys)", permissions=["view"]
)
def close_account(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Account]) -> None:
    actor = f"admin:{request.user.get_username()}"
    for account in queryset:
        try:
            account_close(account=account, actor=actor, reason="closed by administrator")
        except DomainError as exc:
            modeladmin.message_user(request, f"{account}: {exc.message}", messages.WARNING)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("document_number", "person", "level", "state", "created_at", "activated_at")
    list_filter = ("state", "level")
    search_fields = ("document_number", "person__semantics_identifier")
    actions = [close_account]


@admin.register(SplitKey)
class SplitKeyAdmin(ReadOnlyAdmin):
    list_display = ("account", "purpose", "state", "fails", "locked_until", "revoked", "suspect")
    list_filter = ("purpose", "state", "revoked", "suspect")
    search_fields = ("account__document_number",)
    fields = (
        "account",
        "purpose",
        "state",
        "bits",
        "certificate",
        "fails",
        "locked_until",
        "revoked",
        "revoke_reason",
        "suspect",
        "created_at",
        "destroyed_at",
    )
    readonly_fields = fields


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "account", "rp_name", "state", "result", "created_at")
    list_filter = ("kind", "state", "result")
    search_fields = ("account__document_number", "rp_name")
    exclude = ("hash", "salt", "signature")


@admin.register(ServerKeyHalf)
class ServerKeyHalfAdmin(ReadOnlyAdmin):
    list_display = ("id", "bits", "created_at")
    fields = ("bits", "created_at")
    readonly_fields = fields


@admin.register(ServiceKey)
class ServiceKeyAdmin(ReadOnlyAdmin):
    list_display = ("name", "created_at")
    fields = ("name", "created_at")
    readonly_fields = fields
