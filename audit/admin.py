from __future__ import annotations

from django.contrib import admin

from audit.models import AuditRecord
from core.admin import ReadOnlyAdmin


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    """Read-only: the log is written by services only."""

    list_display = ("sequence", "created_at", "actor", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("actor", "object_id", "action")
