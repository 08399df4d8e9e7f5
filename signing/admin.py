"""Admin of accounts, split keys and transactions: no key material is ever shown.

Key records (split keys, the server key pool, service keys) are for holders of
``signing.view_key_material`` only, which no operator role has (docs/operations-roles.md).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from accounts.models import Account
from audit.lookups import AuditedLookupAdmin
from core.admin import ReadOnlyAdmin, admin_actor, reason_field
from core.errors import DomainError
from signing.models import ServerKeyHalf, ServiceKey, SplitKey, Transaction
from signing.services.lifecycle import account_close, account_suspend

KEY_MATERIAL = "signing.view_key_material"
SUSPEND = "accounts.suspend_account"
CLOSE = "accounts.close_account"


@admin.action(
    description="Close the account (revoke certificates, destroy keys)", permissions=["close"]
)
def close_account(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Account]) -> None:
    actor = admin_actor(request)
    for account in queryset:
        try:
            account_close(account=account, actor=actor, reason="closed by administrator")
        except DomainError as exc:
            modeladmin.message_user(request, f"{account}: {exc.message}", messages.WARNING)


class SuspendForm(forms.Form):
    reason = reason_field(
        "Why, in the customer's words (e.g. 'phone stolen, called from +372…'). "
        "Recorded in the audit log with your name."
    )
    confirm = forms.BooleanField(
        label="I have verified the caller's identity",
        help_text="As the support procedure asks, before anything is suspended.",
    )


@admin.register(Account)
class AccountAdmin(AuditedLookupAdmin):
    list_display = ("document_number", "person", "level", "state", "created_at", "activated_at")
    list_filter = ("state", "level")
    list_select_related = ("person",)
    search_fields = ("document_number__exact", "person__semantics_identifier__exact")
    search_help_text = "An exact document number or the owner's exact identifier."
    readonly_fields = ("related",)
    actions = [close_account]

    def lookup_subject(self, obj: Account) -> str:
        return obj.person.semantics_identifier

    def has_close_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(CLOSE))

    @admin.display(description="Look further")
    def related(self, obj: Account) -> str:
        links = [
            ("pki_certificate", "Certificates"),
            ("signing_transaction", "Transactions"),
        ]
        parts = format_html_join(
            " · ",
            '<a href="{}?q={}">{}</a>',
            (
                (reverse(f"admin:{name}_changelist"), obj.document_number, label)
                for name, label in links
            ),
        )
        if obj.state == Account.State.ACTIVE:
            suspend = reverse("admin:accounts_account_suspend", args=[obj.pk])
            parts = format_html('{} · <a href="{}">Suspend…</a>', parts, suspend)
        return parts

    def get_urls(self) -> list[URLPattern]:
        suspend = path(
            "<path:object_id>/suspend/",
            self.admin_site.admin_view(self.suspend_view),
            name="accounts_account_suspend",
        )
        return [suspend, *super().get_urls()]

    def suspend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The support desk's guided suspension: what will happen, a reason, one button.

        It is ``account_suspend``, the owner's own suspension in the portal, done on the
        owner's behalf: certificates on hold, waiting transactions end, and the owner
        can resume it from the portal once the phone is found.
        """
        if not request.user.has_perm(SUSPEND):
            raise PermissionDenied
        try:
            account = self.get_object(request, unquote(object_id))
        except (ValueError, TypeError):
            account = None
        if account is None:
            raise Http404("No such account.")
        form = SuspendForm(request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                try:
                    account_suspend(
                        account=account,
                        actor=admin_actor(request),
                        reason=f"support desk: {form.cleaned_data['reason']}",
                    )
                except DomainError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(request, f"{account} is suspended.", messages.SUCCESS)
                    change = reverse("admin:accounts_account_change", args=[account.pk])
                    return HttpResponseRedirect(change)
        context = {
            **self.admin_site.each_context(request),
            "title": "Suspend the account",
            "opts": self.model._meta,
            "original": account,
            "explanation": [
                f"Account {account.document_number} of {account.person} "
                f"(state: {account.get_state_display()}).",
                "Suspending puts both certificates on hold (OCSP and the CRL then say "
                "revoked, reason certificateHold), ends every waiting transaction and "
                "refuses new ones. The owner resumes it in the portal; closing it for "
                "good is not done here.",
            ],
            "form": form,
            "submit_label": "Suspend the account",
        }
        return TemplateResponse(request, "admin/operator_form.html", context, status=status)


class KeyMaterialAdmin(ReadOnlyAdmin):
    """Key records: only for holders of ``signing.view_key_material`` (no role)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(KEY_MATERIAL))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.has_perm(KEY_MATERIAL))


@admin.register(SplitKey)
class SplitKeyAdmin(KeyMaterialAdmin):
    list_display = ("account", "purpose", "state", "fails", "locked_until", "revoked", "suspect")
    list_filter = ("purpose", "state", "revoked", "suspect")
    list_select_related = ("account",)
    search_fields = ("account__document_number__exact",)
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
class TransactionAdmin(AuditedLookupAdmin):
    list_display = ("id", "kind", "account", "rp_name", "state", "result", "created_at")
    list_filter = ("kind", "state", "result")
    list_select_related = ("account",)
    date_hierarchy = "created_at"
    search_fields = ("account__document_number__exact",)
    search_help_text = "The account's exact document number."
    exclude = ("hash", "salt", "signature")

    def lookup_subject(self, obj: Transaction) -> str:
        return obj.account.document_number


@admin.register(ServerKeyHalf)
class ServerKeyHalfAdmin(KeyMaterialAdmin):
    list_display = ("id", "bits", "created_at")
    fields = ("bits", "created_at")
    readonly_fields = fields


@admin.register(ServiceKey)
class ServiceKeyAdmin(KeyMaterialAdmin):
    # A rotated-out transport key: decrypts until retire_at, destroyed at retired_at.
    list_display = ("name", "created_at", "retire_at", "retired_at")
    fields = list_display
    readonly_fields = fields
