"""Admin of devices. Persons and accounts are registered by the apps whose services their
actions call (``enrolment.admin``: registration tickets; ``signing.admin``: closing and
suspending an account), so that no lower app imports a higher one."""

from __future__ import annotations

from django.contrib import admin

from accounts.models import Device
from audit.lookups import AuditedLookupAdmin


@admin.register(Device)
class DeviceAdmin(AuditedLookupAdmin):
    list_display = ("name", "platform", "person", "state", "registered_at", "last_seen_at")
    list_filter = ("state", "platform")
    list_select_related = ("person",)
    search_fields = ("person__semantics_identifier__exact",)
    search_help_text = "The owner's exact identifier, e.g. PNOEE-38001085718."
    exclude = ("public_key",)

    def lookup_subject(self, obj: Device) -> str:
        return obj.person.semantics_identifier
