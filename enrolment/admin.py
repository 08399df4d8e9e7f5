from __future__ import annotations

from django.contrib import admin

from enrolment.models import RegistrationTicket
from smartid.admin import ReadOnlyAdmin


@admin.register(RegistrationTicket)
class RegistrationTicketAdmin(ReadOnlyAdmin):
    """Made by services (Person admin action, RA office, portal); the code is never stored."""

    list_display = ("person", "identity_source", "level", "created_by", "expires_at", "used_at")
    list_filter = ("identity_source", "level")
    exclude = ("code_hash",)
