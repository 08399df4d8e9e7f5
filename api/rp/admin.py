"""Operators add and manage relying parties here; every change is audited.

RP managers (``smartid.roles``) add and change relying parties (their addresses and
permissions) and read their sessions; nobody deletes one (sessions refer to it).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from api.rp import metering
from api.rp.models import RelyingParty, RpSession, Usage
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


class StatementForm(forms.Form):
    relying_party = forms.ModelChoiceField(queryset=RelyingParty.objects.order_by("name"))
    month = forms.CharField(max_length=7, help_text="YYYY-MM (UTC)")
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("pdf", "PDF")])

    def clean_month(self) -> date:
        try:
            return metering.parse_month(self.cleaned_data["month"])
        except ValueError:
            raise forms.ValidationError("Give the month as YYYY-MM, e.g. 2026-11.") from None


@admin.register(Usage)
class UsageAdmin(ReadOnlyAdmin):
    """The monthly counts (read-only: beat recounts them) and the statements built from them."""

    list_display = (
        "month",
        "relying_party",
        "api_version",
        "kind",
        "certificate_level",
        "end_result",
        "count",
    )
    list_filter = ("month", "api_version", "kind", "end_result", "certificate_level")
    list_select_related = ("relying_party",)
    search_fields = ("relying_party__name", "relying_party__display_name")
    show_full_result_count = False
    change_list_template = "admin/rp/usage/change_list.html"

    def get_urls(self) -> list[Any]:
        statement = self.admin_site.admin_view(self.statement_view)
        return [path("statement/", statement, name="rp_usage_statement"), *super().get_urls()]

    def statement_view(self, request: HttpRequest) -> HttpResponse:
        """A relying party's statement for a month: the form, then the CSV or PDF file."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = StatementForm(request.GET or None)
        if not form.is_valid():
            context = {**self.admin_site.each_context(request), "form": form, "title": "Statement"}
            return TemplateResponse(request, "admin/rp/usage/statement.html", context)
        rp, month = form.cleaned_data["relying_party"], form.cleaned_data["month"]
        statement = metering.statement(rp, month)
        audit_record(
            actor=admin_actor(request),
            action="rp.statement",
            object_type="rp.RelyingParty",
            object_id=rp.pk,
            data={"month": f"{month:%Y-%m}", "format": form.cleaned_data["format"]},
        )
        name = f"statement-{rp.name}-{month:%Y-%m}"
        if form.cleaned_data["format"] == "pdf":
            response = HttpResponse(metering.statement_pdf(statement), "application/pdf")
            response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
        else:
            response = HttpResponse(statement.csv(), "text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response


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
