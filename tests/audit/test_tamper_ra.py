"""Tampering with the RA office's audit trail is found by ``verify_audit_chain``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditRecord
from enrolment import applications as svc
from tests.factories import Office, application_input


def _rows(office: Office) -> list[AuditRecord]:
    application = svc.application_create(
        officer=office.olga, data=application_input(), source_ip="127.0.0.1"
    )
    svc.application_registry_check(application=application, officer=office.olga, source_ip="::1")
    svc.application_cancel(
        application=application, officer=office.olga, reason="Test run", source_ip="127.0.0.1"
    )
    return list(AuditRecord.objects.filter(object_type="enrolment.Application"))


def _edit(row: AuditRecord) -> None:
    AuditRecord.objects.filter(pk=row.pk).update(actor="officer:sven")


def _edit_ip(row: AuditRecord) -> None:
    AuditRecord.objects.filter(pk=row.pk).update(source_ip="10.0.0.1")


def _delete(row: AuditRecord) -> None:
    AuditRecord.objects.filter(pk=row.pk).delete()


def _reorder(row: AuditRecord) -> None:
    after = AuditRecord.objects.get(sequence=row.sequence + 1)
    AuditRecord.objects.filter(pk=row.pk).update(sequence=10**9)
    AuditRecord.objects.filter(pk=after.pk).update(sequence=row.sequence)
    AuditRecord.objects.filter(pk=row.pk).update(sequence=row.sequence + 1)


@pytest.mark.parametrize("tamper", [_edit, _edit_ip, _delete, _reorder])
def test_tampering_is_reported_with_the_first_broken_link(
    office: Office, tamper: Callable[[AuditRecord], None]
) -> None:
    rows = _rows(office)
    call_command("verify_audit_chain")  # intact before
    target = rows[1]  # the registry check
    tamper(target)
    with pytest.raises(CommandError, match=f"broken at sequence {target.sequence}:"):
        call_command("verify_audit_chain")
