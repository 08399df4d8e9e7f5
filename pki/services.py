"""Services of the certification authority: hierarchy, issuance, revocation (CRLs: ``pki.crl``).

Every state change is one database transaction plus one audit record. The OCSP
answer of a certificate changes the moment its status transaction commits
(``pki.ocsp.status_changed``), and a new CRL is published right after.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.identifiers import (
    InvalidIdentifier,
    parse_document_number,
    parse_semantics_identifier,
)
from audit.services import audit_record
from core import metrics
from core.clock import now_whole_seconds
from core.errors import DomainError
from pki import ocsp, profiles
from pki.crl import crl_publish, publish_crl
from pki.keystore import get_keystore
from pki.models import Certificate, CertificateAuthority
from pki.signer import sign_certificate

MAX_CSR_BYTES = 16 * 1024
RSA_EXPONENT = 65537
NAME_MAX = 100


class PkiError(DomainError):
    code = "pki_error"


class CARequired(PkiError):
    code = "ca_missing"


class CsrRejected(PkiError):
    code = "csr_rejected"


class InvalidSubject(PkiError):
    code = "invalid_subject"


class AlreadyIssued(PkiError):
    code = "already_issued"


class InvalidTransition(PkiError):
    code = "invalid_transition"


def _ca_common_name(kind: CertificateAuthority.Kind, year: int) -> str:
    organization = settings.CA_ORGANIZATION
    base = {
        CertificateAuthority.Kind.ROOT: f"{organization} Root CA {year}",
        CertificateAuthority.Kind.QUALIFIED: f"{organization} EID-Q {year}E",
        CertificateAuthority.Kind.NON_QUALIFIED: f"{organization} EID-NQ {year}E",
    }[kind]
    # Test CAs say so in their names, as real test CAs do (rp-api.md §4).
    return base if settings.IS_LIVE else f"TEST of {base}"


def _certificate(der: bytes | memoryview) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(der))


def ca_certificate(ca: CertificateAuthority) -> x509.Certificate:
    return _certificate(ca.certificate_der)


def ca_urls(ca: CertificateAuthority, base_url: str) -> profiles.CAUrls:
    return profiles.CAUrls.for_ca(base_url, ca.slug)


def _new_label(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


@transaction.atomic
def ca_hierarchy_create(*, actor: str, base_url: str | None = None) -> list[CertificateAuthority]:
    """Create the root and the Q and NQ issuing CAs, each issuing CA with an OCSP responder.

    Idempotent: an existing hierarchy is returned unchanged. ``base_url`` is the public
    address of this service that goes into AIA and CRL DP URLs (default ``SITE_URL``).
    """
    existing = list(CertificateAuthority.objects.order_by("id"))
    if existing:
        return existing
    base = (base_url or settings.SITE_URL).rstrip("/")
    store = get_keystore()
    now = now_whole_seconds()
    organization, country = settings.CA_ORGANIZATION, settings.CA_COUNTRY

    root_label = _new_label("ca-root")
    root_key = store.generate_ec_key(root_label)
    root_name = _ca_common_name(CertificateAuthority.Kind.ROOT, now.year)
    root_cert = sign_certificate(
        profiles.root_ca(
            common_name=root_name,
            organization=organization,
            country=country,
            public_key=root_key,
            now=now,
        ),
        root_label,
    )
    root = CertificateAuthority.objects.create(
        slug="root",
        kind=CertificateAuthority.Kind.ROOT,
        common_name=root_name,
        key_label=root_label,
        certificate_der=root_cert.public_bytes(Encoding.DER),
    )
    created = [root]
    for kind, slug in (
        (CertificateAuthority.Kind.QUALIFIED, "eid-q"),
        (CertificateAuthority.Kind.NON_QUALIFIED, "eid-nq"),
    ):
        label = _new_label(f"ca-{slug}")
        public_key = store.generate_ec_key(label)
        name = _ca_common_name(kind, now.year)
        cert = sign_certificate(
            profiles.issuing_ca(
                common_name=name,
                organization=organization,
                country=country,
                public_key=public_key,
                issuer=root_cert,
                issuer_urls=profiles.CAUrls.for_ca(base, root.slug),
                now=now,
            ),
            root_label,
        )
        ocsp_label = _new_label(f"ocsp-{slug}")
        ocsp_key = store.generate_ec_key(ocsp_label)
        ocsp_cert = sign_certificate(
            profiles.ocsp_responder(
                common_name=f"{name} OCSP Responder",
                organization=organization,
                country=country,
                public_key=ocsp_key,
                issuer=cert,
                now=now,
            ),
            label,
        )
        created.append(
            CertificateAuthority.objects.create(
                slug=slug,
                kind=kind,
                common_name=name,
                parent=root,
                key_label=label,
                certificate_der=cert.public_bytes(Encoding.DER),
                ocsp_key_label=ocsp_label,
                ocsp_certificate_der=ocsp_cert.public_bytes(Encoding.DER),
            )
        )
    for ca in created:
        audit_record(
            actor=actor,
            action="ca.created",
            object_type="pki.CertificateAuthority",
            object_id=ca.pk,
            data={"slug": ca.slug, "common_name": ca.common_name, "base_url": base},
        )
    for ca in created:
        crl_publish(ca=ca, actor=actor)
    return created


def issuing_ca_for(*, qualified: bool) -> CertificateAuthority:
    kind = (
        CertificateAuthority.Kind.QUALIFIED
        if qualified
        else CertificateAuthority.Kind.NON_QUALIFIED
    )
    try:
        return CertificateAuthority.objects.get(kind=kind)
    except CertificateAuthority.DoesNotExist:
        raise CARequired("The CA hierarchy does not exist; run `manage.py init_ca`.") from None


def _validate_identity(identity: profiles.SubjectIdentity, document_number: str) -> None:
    try:
        semantics = parse_semantics_identifier(identity.semantics_identifier)
        document_subject, _ = parse_document_number(document_number)
    except InvalidIdentifier as exc:
        raise InvalidSubject(exc.message) from None
    if semantics.country != identity.country:
        raise InvalidSubject("The country does not match the semantics identifier.")
    for label, value in (("given name", identity.given_name), ("surname", identity.surname)):
        if not value.strip() or len(value) > NAME_MAX or any(ord(c) < 32 for c in value):
            raise InvalidSubject(f"The {label} is empty, too long or has control characters.")
    if document_subject != identity.semantics_identifier:
        raise InvalidSubject("The document number belongs to another semantics identifier.")


def csr_public_key(csr_der: bytes, *, allowed_key_bits: Collection[int]) -> rsa.RSAPublicKey:
    """Check a PKCS#10 request and return its RSA key.

    The request must parse, carry a valid self-signature (proof of possession: for a
    split key, the first composite signature), an RSA key with e = 65537 of an allowed
    size, and request nothing else: no attributes, no extensions. The subject is
    ignored; it always comes from the verified identity.
    """
    if not isinstance(csr_der, bytes) or not 0 < len(csr_der) <= MAX_CSR_BYTES:
        raise CsrRejected("The certificate request is empty or larger than 16 KiB.")
    try:
        csr = x509.load_der_x509_csr(csr_der)
        public_key = csr.public_key()
        attributes = list(csr.attributes)
        extensions = list(csr.extensions)
    except UnsupportedAlgorithm:  # a key algorithm OID cryptography does not know
        raise CsrRejected("The certificate request does not carry an RSA key.") from None
    except (
        ValueError,
        x509.InvalidVersion,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ):  # not all ValueErrors: cryptography has its own classes for some defects
        raise CsrRejected("The certificate request is not valid DER PKCS#10.") from None
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CsrRejected("The certificate request does not carry an RSA key.")
    if public_key.public_numbers().e != RSA_EXPONENT:
        raise CsrRejected("The RSA public exponent must be 65537.")
    if public_key.key_size not in allowed_key_bits:
        raise CsrRejected(f"The RSA key has {public_key.key_size} bits; not an allowed size.")
    if extensions or attributes:
        raise CsrRejected("The certificate request may not ask for extensions or attributes.")
    try:
        valid = csr.is_signature_valid
    except (ValueError, InvalidSignature):
        valid = False
    if not valid:
        raise CsrRejected("The signature of the certificate request does not verify.")
    return public_key


def _same_key(a: rsa.RSAPublicKey, b: rsa.RSAPublicKey) -> bool:
    return a.public_numbers() == b.public_numbers()


def certificate_issue(
    *,
    csr_der: bytes,
    identity: profiles.SubjectIdentity,
    document_number: str,
    purpose: str,
    qualified: bool,
    allowed_key_bits: Collection[int],
    actor: str,
    base_url: str | None = None,
) -> Certificate:
    """Issue the certificate of an account's key for one purpose (``AUTH`` or ``SIGN``).

    Idempotent per (document number, purpose): a repeated call with the same key
    returns the certificate already issued; with another key it raises
    ``AlreadyIssued``. Concurrent calls are serialised by the unique constraint: the
    row is inserted before anything is signed, so the CA never signs a certificate
    that is not recorded, and the loser of a race returns the winner's certificate.
    """
    started = time.perf_counter()
    if purpose not in Certificate.Purpose.values:
        raise PkiError("The purpose must be AUTH or SIGN.")
    _validate_identity(identity, document_number)
    public_key = csr_public_key(csr_der, allowed_key_bits=allowed_key_bits)
    existing = _existing(document_number, purpose, public_key)
    if existing is not None:
        return existing
    issuer = issuing_ca_for(qualified=qualified)
    base = (base_url or settings.SITE_URL).rstrip("/")
    not_before = now_whole_seconds()
    not_after = not_before + timedelta(days=settings.CERTIFICATE_VALIDITY_DAYS)
    serial = x509.random_serial_number()
    level = Certificate.Level.QUALIFIED if qualified else Certificate.Level.ADVANCED
    try:
        with transaction.atomic():
            row = Certificate.objects.create(
                issuer=issuer,
                serial_number=f"{serial:x}",
                document_number=document_number,
                purpose=purpose,
                level=level,
                subject=profiles.end_entity_subject(identity).rfc4514_string(),
                der=b"",
                not_before=not_before,
                not_after=not_after,
            )
            issuer_cert = ca_certificate(issuer)
            cert = sign_certificate(
                profiles.end_entity(
                    identity=identity,
                    document_number=document_number,
                    purpose=purpose,
                    qualified=qualified,
                    public_key=public_key,
                    issuer=issuer_cert,
                    issuer_urls=ca_urls(issuer, base),
                    serial=serial,
                    not_before=not_before,
                    not_after=not_after,
                    pds_url=_pds_url(base),
                ),
                issuer.key_label,
            )
            row.der = cert.public_bytes(Encoding.DER)
            row.save(update_fields=["der"])
            audit_record(
                actor=actor,
                action="certificate.issued",
                object_type="pki.Certificate",
                object_id=row.pk,
                data={
                    "serial": row.serial_number,
                    "document_number": document_number,
                    "purpose": purpose,
                    "issuer": issuer.slug,
                },
            )
        elapsed = time.perf_counter() - started
        metrics.on_commit(
            lambda: metrics.CERTIFICATE_ISSUANCE_SECONDS.labels(
                purpose=purpose, level=level
            ).observe(elapsed)
        )
        return row
    except IntegrityError:
        existing = _existing(document_number, purpose, public_key)
        if existing is None:
            raise
        return existing


def _pds_url(base: str) -> str:
    """The PKI disclosure statement; EN 319 412-5 requires an https URL."""
    if settings.PDS_URL:
        return str(settings.PDS_URL)
    return "https://" + base.split("://", 1)[-1] + "/pds/en"


def _existing(
    document_number: str, purpose: str, public_key: rsa.RSAPublicKey
) -> Certificate | None:
    row = (
        Certificate.objects.filter(document_number=document_number, purpose=purpose)
        .exclude(revocation_reason=Certificate.Reason.SUPERSEDED)
        .first()
    )
    if row is None:
        return None
    issued_key = _certificate(row.der).public_key()
    if not isinstance(issued_key, rsa.RSAPublicKey) or not _same_key(issued_key, public_key):
        raise AlreadyIssued("A certificate for this account and purpose exists with another key.")
    return row


def _after_status_change(certificate: Certificate, actor: str) -> None:
    serial, issuer_id = certificate.serial_number, certificate.issuer_id
    CertificateAuthority.objects.filter(pk=issuer_id).update(status_version=F("status_version") + 1)
    transaction.on_commit(lambda: ocsp.status_changed(issuer_id, serial))
    transaction.on_commit(lambda: publish_crl.delay(issuer_id))


def _locked(certificate: Certificate) -> Certificate:
    return Certificate.objects.select_for_update().get(pk=certificate.pk)


@dataclass(frozen=True)
class _StatusChange:
    """One certificate status transition: where it may start, where it ends, its audit.

    Revoke, hold and release differ only in these data; ``_change_status`` does the rest
    (row lock, the three status columns, the audit record, OCSP and CRL).
    """

    allowed_from: frozenset[str]
    refusal: str
    status: str
    action: str
    #: The audit record also names the reason and the previous status (revocation).
    audit_reason: bool = False


_REVOKE = _StatusChange(
    allowed_from=frozenset({Certificate.Status.GOOD, Certificate.Status.ON_HOLD}),
    refusal="The certificate is already revoked.",
    status=Certificate.Status.REVOKED,
    action="certificate.revoked",
    audit_reason=True,
)
_HOLD = _StatusChange(
    allowed_from=frozenset({Certificate.Status.GOOD}),
    refusal="Only a good certificate can be put on hold.",
    status=Certificate.Status.ON_HOLD,
    action="certificate.held",
)
_RELEASE = _StatusChange(
    allowed_from=frozenset({Certificate.Status.ON_HOLD}),
    refusal="Only a certificate on hold can be released.",
    status=Certificate.Status.GOOD,
    action="certificate.released",
)


def _change_status(
    certificate: Certificate, change: _StatusChange, *, reason: str, actor: str, note: str = ""
) -> Certificate:
    row = _locked(certificate)
    if row.status not in change.allowed_from:
        raise InvalidTransition(change.refusal)
    previous = row.status
    row.status = change.status
    row.revocation_reason = reason
    row.revoked_at = None if change.status == Certificate.Status.GOOD else now_whole_seconds()
    row.save(update_fields=["status", "revocation_reason", "revoked_at"])
    data: dict[str, object] = {"serial": row.serial_number}
    if change.audit_reason:
        data.update(reason=reason, previous_status=previous)
    if note:
        data["note"] = note
    audit_record(
        actor=actor,
        action=change.action,
        object_type="pki.Certificate",
        object_id=row.pk,
        data=data,
    )
    _after_status_change(row, actor)
    return row


# ``note``: an operator's words on why (the admin asks for them), kept in the audit record.


@transaction.atomic
def certificate_revoke(
    *, certificate: Certificate, reason: str, actor: str, note: str = ""
) -> Certificate:
    """Revoke for good (from GOOD or ON_HOLD); suspending is ``certificate_hold``."""
    if reason not in Certificate.Reason.values or reason == Certificate.Reason.CERTIFICATE_HOLD:
        raise InvalidTransition("Not a revocation reason; use certificate_hold to suspend.")
    return _change_status(certificate, _REVOKE, reason=reason, actor=actor, note=note)


@transaction.atomic
def certificate_hold(*, certificate: Certificate, actor: str, note: str = "") -> Certificate:
    """Suspend: OCSP and the CRL say revoked with reason certificateHold."""
    return _change_status(
        certificate, _HOLD, reason=Certificate.Reason.CERTIFICATE_HOLD, actor=actor, note=note
    )


@transaction.atomic
def certificate_release(*, certificate: Certificate, actor: str, note: str = "") -> Certificate:
    """Resume from hold: the certificate is good again and leaves the next CRL."""
    return _change_status(certificate, _RELEASE, reason="", actor=actor, note=note)


__all__ = [
    "AlreadyIssued",
    "CARequired",
    "CsrRejected",
    "InvalidSubject",
    "InvalidTransition",
    "PkiError",
    "ca_hierarchy_create",
    "certificate_hold",
    "certificate_issue",
    "certificate_release",
    "certificate_revoke",
    "csr_public_key",
    "issuing_ca_for",
]
