"""Certificate revocation lists (RFC 5280 §5): publishing a full CRL, serving a fresh one.

Apart from ``pki.services`` because a status change there enqueues the publishing task,
which calls this module. The task (``publish_crl``) is defined here, beside what it runs,
and registered under its old name ``pki.tasks.publish_crl``: ``pki.tasks`` also holds the
revocation task, which calls ``pki.services`` — services → crl, tasks → services, no cycle.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.clock import now_whole_seconds
from pki.models import Certificate, CertificateAuthority, RevocationList
from pki.signer import sign_crl

_REASON_FLAGS = {
    Certificate.Reason.UNSPECIFIED: x509.ReasonFlags.unspecified,
    Certificate.Reason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    Certificate.Reason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    Certificate.Reason.SUPERSEDED: x509.ReasonFlags.superseded,
    Certificate.Reason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    Certificate.Reason.CERTIFICATE_HOLD: x509.ReasonFlags.certificate_hold,
    Certificate.Reason.PRIVILEGE_WITHDRAWN: x509.ReasonFlags.privilege_withdrawn,
}


def reason_flag(reason: str) -> x509.ReasonFlags:
    return _REASON_FLAGS.get(Certificate.Reason(reason), x509.ReasonFlags.unspecified)


def _revoked_entries(ca: CertificateAuthority) -> list[x509.RevokedCertificate]:
    entries: list[x509.RevokedCertificate] = []
    if ca.kind == CertificateAuthority.Kind.ROOT:
        return entries  # issuing CAs are revoked by replacing the hierarchy (not automated)
    rows = Certificate.objects.filter(
        issuer=ca, status__in=[Certificate.Status.REVOKED, Certificate.Status.ON_HOLD]
    ).values_list("serial_number", "revoked_at", "revocation_reason")
    for serial, revoked_at, reason in rows.iterator(chunk_size=5000):
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(int(serial, 16))
            .revocation_date(revoked_at or ca.created_at)
        )
        if reason and reason != Certificate.Reason.UNSPECIFIED:
            entry = entry.add_extension(x509.CRLReason(reason_flag(reason)), critical=False)
        entries.append(entry.build())
    return entries


@transaction.atomic
def crl_publish(
    *, ca: CertificateAuthority, actor: str = "system", note: str = ""
) -> RevocationList:
    """Publish a full CRL with the next CRL number (``note``: an operator's reason).

    The CA row is locked for the whole job, so two jobs never take the same number
    and numbers strictly increase (RFC 5280 §5.2.3).
    """
    locked = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
    status_version = locked.status_version
    number = locked.crl_number + 1
    this_update = now_whole_seconds()
    next_update = this_update + timedelta(hours=settings.CRL_VALIDITY_HOURS)
    issuer_cert = x509.load_der_x509_certificate(bytes(locked.certificate_der))
    issuer_key = issuer_cert.public_key()
    assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False
        )
    )
    for entry in _revoked_entries(locked):
        builder = builder.add_revoked_certificate(entry)
    crl = sign_crl(builder, locked.key_label)
    locked.crl_number = number
    locked.save(update_fields=["crl_number"])
    published = RevocationList.objects.create(
        issuer=locked,
        number=number,
        der=crl.public_bytes(Encoding.DER),
        this_update=this_update,
        next_update=next_update,
        status_version=status_version,
    )
    audit_record(
        actor=actor,
        action="crl.published",
        object_type="pki.RevocationList",
        object_id=published.pk,
        data={"ca": locked.slug, "number": number, **({"note": note} if note else {})},
    )
    return published


def crl_current(ca: CertificateAuthority) -> RevocationList:
    """The newest CRL, publishing one first if it is stale or about to expire."""
    latest = RevocationList.objects.filter(issuer=ca).order_by("-number").first()
    ca.refresh_from_db(fields=["status_version"])
    if (
        latest is None
        or latest.next_update <= timezone.now() + timedelta(minutes=5)
        or latest.status_version < ca.status_version
    ):
        # Stale (a status changed since) or about to expire: publish now, so a CRL
        # fetched after a revocation always lists it, workers or not.
        return crl_publish(ca=ca, actor="system")
    return latest


@shared_task(
    name="pki.tasks.publish_crl", bind=True, max_retries=5, default_retry_delay=10, acks_late=True
)
def publish_crl(self: object, ca_id: int) -> int:
    """Publish a new CRL of one CA. A repeat only publishes a newer CRL: harmless."""
    ca = CertificateAuthority.objects.filter(pk=ca_id).first()
    if ca is None:
        return 0
    return crl_publish(ca=ca, actor="task:publish_crl").number
