"""Admin of split keys and transactions: no key material is ever shown."""

from __future__ import annotations

from django.contrib import admin

from signing.models import ServerKeyHalf, ServiceKey, SplitKey, Transaction
from smartid.admin import ReadOnlyAdmin


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
