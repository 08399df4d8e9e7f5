"""Verify the audit chain; exit status 1 and the first broken link if tampered."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditRecord
from audit.services import audit_chain_verify


class Command(BaseCommand):
    help = "Recompute the hash chain of the audit log and report the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        broken = audit_chain_verify()
        if broken is not None:
            raise CommandError(f"Audit chain broken at sequence {broken.sequence}: {broken.reason}")
        self.stdout.write(f"Audit chain intact: {AuditRecord.objects.count()} records.")
