"""Shared admin base: read-only models whose changes go through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """No add, change or delete in the admin; actions call services.

    Django's changelist turns a malformed selected id into a server error; here it
    is a 400 and nothing happens.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Everything here names people (national identifiers in document numbers):
        # superusers only, until roles for auditors and support staff exist.
        return bool(request.user.is_active and request.user.is_superuser)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            pk_field = self.model._meta.pk
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                try:
                    pk_field.to_python(value)
                except Exception:  # noqa: BLE001 -- any invalid id is the client's error
                    return HttpResponseBadRequest("Invalid selection.")
        return super().changelist_view(request, extra_context)
