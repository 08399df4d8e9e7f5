"""The CA's tasks: revocation in a worker is idempotent (a redelivered message has one effect)."""

from __future__ import annotations

from audit.models import AuditRecord
from pki import services, tasks
from pki.models import Certificate, CertificateAuthority
from tests.pki import factories as f


def _issue() -> Certificate:
    return services.certificate_issue(
        csr_der=f.csr(),
        identity=f.ALICE,
        document_number=f.ALICE_DOCUMENT,
        purpose="SIGN",
        qualified=True,
        allowed_key_bits={f.TEST_KEY_BITS},
        actor="test",
    )


def _revocations(certificate: Certificate) -> int:
    return AuditRecord.objects.filter(
        action="certificate.revoked", object_id=str(certificate.pk)
    ).count()


def test_revoking_twice_revokes_once(ca_hierarchy: list[CertificateAuthority]) -> None:
    certificate = _issue()
    first = tasks.revoke_certificate.apply(args=(certificate.pk, "superseded", "test")).get()
    again = tasks.revoke_certificate.apply(args=(certificate.pk, "key_compromise", "test")).get()
    assert first == again == Certificate.Status.REVOKED
    certificate.refresh_from_db()
    # The first delivery decided; the second changed nothing (reason, time, audit).
    assert certificate.revocation_reason == Certificate.Reason.SUPERSEDED
    assert _revocations(certificate) == 1


def test_a_held_certificate_is_revoked(ca_hierarchy: list[CertificateAuthority]) -> None:
    certificate = services.certificate_hold(certificate=_issue(), actor="test")
    assert tasks.revoke_certificate.apply(args=(certificate.pk, "unspecified", "test")).get() == (
        Certificate.Status.REVOKED
    )
    assert _revocations(certificate) == 1


def test_a_bad_reason_or_an_unknown_certificate_changes_nothing(
    ca_hierarchy: list[CertificateAuthority],
) -> None:
    certificate = _issue()
    for reason in ("certificate_hold", "because"):
        assert tasks.revoke_certificate.apply(args=(certificate.pk, reason, "test")).get() == (
            "REFUSED"
        )
    assert tasks.revoke_certificate.apply(args=(10**9, "superseded", "test")).get() == "MISSING"
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.GOOD and _revocations(certificate) == 0
