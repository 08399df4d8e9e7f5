"""Admin of devices. Persons and accounts are registered by the apps whose services their
actions call (``enrolment.admin``: registration tickets; ``signing.admin``: closing an
account), so that no lower app imports a higher one."""

from __future__ import annotations

from django.contrib import admin

from accounts.models import Device
from core.admin import ReadOnlyAdmin


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    list_display = ("name", "platform", "person", "state", "registered_at", "last_seen_at")
    list_filter = ("state", "platform")
    exclude = ("public_key",)
